//! Writing a JPEG from its rows in order, through libjpeg-turbo's scanline
//! API (the `mozjpeg` crate, set to libjpeg-turbo's own defaults rather
//! than mozjpeg's slow size search), so that neither the cluster's output
//! nor a whole-image encode holds more than the band it is given.
//!
//! JPEG holds 8-bit gray or colour: 16-bit samples are rounded to 8 bits
//! and alpha is dropped, as the whole-image encoder did. At quality 90 and
//! above chroma is kept at full resolution (4:4:4), below it halved both
//! ways (4:2:0), the rule libvips follows.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::io::{self, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};

use histo_core::{Layout, Pixels, Shape};
use mozjpeg::{ColorSpace, Compress};

use crate::encode::EncodeError;
use crate::format::Format;
use crate::settings::JpegQuality;

/// Quality from which chroma is not subsampled.
const FULL_CHROMA_FROM: u8 = 90;

/// Writes an image of `shape` at `quality` whose rows come in
/// `bands` (each a whole number of rows, in order, in `shape`'s layout and
/// depth).
pub fn write<W: Write, B: Borrow<Pixels>>(
    out: &mut W,
    shape: &Shape,
    quality: JpegQuality,
    bands: impl IntoIterator<Item = B>,
) -> Result<(), EncodeError> {
    let failed_write = RefCell::new(None);
    let target = KeepsError { out, error: &failed_write };
    let outcome = catch_unwind(AssertUnwindSafe(|| compress(target, shape, quality, bands.into_iter())));
    if let Some(e) = failed_write.into_inner() {
        return Err(EncodeError::Io(e));
    }
    match outcome {
        Ok(result) => result,
        Err(payload) => Err(encoder_error(crate::stream::jpeg_rows::panic_message(payload))),
    }
}

fn compress<W: Write, B: Borrow<Pixels>>(
    out: W,
    shape: &Shape,
    quality: JpegQuality,
    bands: impl Iterator<Item = B>,
) -> Result<(), EncodeError> {
    let gray = !shape.layout.is_color();
    let mut settings = Compress::new(if gray { ColorSpace::JCS_GRAYSCALE } else { ColorSpace::JCS_RGB });
    settings.set_fastest_defaults();
    settings.set_size(shape.width as usize, shape.height as usize);
    settings.set_quality(f32::from(quality.get()));
    if !gray && quality.get() >= FULL_CHROMA_FROM {
        settings.set_chroma_sampling_pixel_sizes((1, 1), (1, 1));
    }
    let mut started = settings.start_compress(out)?;
    let row_len = shape.row_len();
    let mut rows_written = 0u64;
    let mut converted = Vec::new();
    for band in bands {
        let band = band.borrow();
        if band.len() % row_len != 0 || band.depth() != shape.depth {
            return Err(encoder_error("a band is not whole rows of the image's depth".into()));
        }
        rows_written += (band.len() / row_len) as u64;
        if rows_written > u64::from(shape.height) {
            return Err(encoder_error("more rows than the image has".into()));
        }
        match band {
            // 8-bit gray or RGB is what libjpeg takes: no copy.
            Pixels::U8(samples) if !shape.layout.has_alpha() => started.write_scanlines(samples)?,
            _ => {
                to_jpeg_samples(band, shape.layout, &mut converted);
                started.write_scanlines(&converted)?;
            }
        }
    }
    if rows_written != u64::from(shape.height) {
        return Err(encoder_error(format!("{rows_written} of {} rows were given", shape.height)));
    }
    started.finish()?;
    Ok(())
}

/// `band`'s samples as JPEG takes them: 8-bit, no alpha.
fn to_jpeg_samples(band: &Pixels, layout: Layout, out: &mut Vec<u8>) {
    let channels = layout.channels();
    let kept = if layout.is_color() { 3 } else { 1 };
    out.clear();
    match band {
        Pixels::U8(v) => v.chunks_exact(channels).for_each(|px| out.extend_from_slice(&px[..kept])),
        Pixels::U16(v) => {
            // round(v · 255 / 65535), exactly: v / 257 rounded half up.
            let to_u8 = |s: u16| ((u32::from(s) + 128) / 257) as u8;
            v.chunks_exact(channels).for_each(|px| out.extend(px[..kept].iter().map(|&s| to_u8(s))));
        }
    }
}

fn encoder_error(reason: String) -> EncodeError {
    EncodeError::Encoder { format: Format::Jpeg, reason }
}

/// A writer that keeps the error of a failed write: libjpeg reports it by
/// unwinding with a message of its own, which would lose it.
struct KeepsError<'a, W> {
    out: W,
    error: &'a RefCell<Option<io::Error>>,
}

impl<W: Write> KeepsError<'_, W> {
    /// Keeps `e` and gives libjpeg one of the same kind.
    fn keep(&self, e: io::Error) -> io::Error {
        if e.kind() == io::ErrorKind::Interrupted {
            return e;
        }
        let kind = e.kind();
        *self.error.borrow_mut() = Some(e);
        kind.into()
    }
}

impl<W: Write> Write for KeepsError<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf).map_err(|e| self.keep(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush().map_err(|e| self.keep(e))
    }
}

#[cfg(test)]
mod tests {
    use histo_core::{Depth, Image};

    use super::*;
    use crate::{Limits, decode};

    fn shape(layout: Layout, depth: Depth) -> Shape {
        Shape { width: 24, height: 10, layout, depth }
    }

    fn samples(shape: &Shape) -> Pixels {
        let n = shape.row_len() * shape.height as usize;
        match shape.depth {
            Depth::U8 => Pixels::U8((0..n).map(|i| (i * 7 % 256) as u8).collect()),
            Depth::U16 => Pixels::U16((0..n).map(|i| (i * 7 % 256) as u16 * 257).collect()),
        }
    }

    fn bands(pixels: &Pixels, row_len: usize, rows: usize) -> Vec<Pixels> {
        match pixels {
            Pixels::U8(v) => v.chunks(row_len * rows).map(|c| Pixels::U8(c.to_vec())).collect(),
            Pixels::U16(v) => v.chunks(row_len * rows).map(|c| Pixels::U16(c.to_vec())).collect(),
        }
    }

    #[test]
    fn any_banding_writes_the_same_file_and_16_bit_alpha_is_brought_to_8_bit() {
        for layout in [Layout::Gray, Layout::GrayAlpha, Layout::Rgb, Layout::Rgba] {
            let eight = samples(&shape(layout, Depth::U8));
            let mut first = Vec::new();
            write(&mut first, &shape(layout, Depth::U8), JpegQuality::DEFAULT, [&eight]).unwrap();
            let mut low = Vec::new();
            write(&mut low, &shape(layout, Depth::U8), JpegQuality::new(40).unwrap(), [&eight]).unwrap();
            assert!(low.len() < first.len(), "{layout:?}: {} at 40, {} at 92", low.len(), first.len());
            for rows in [1, 3, 10] {
                let mut banded = Vec::new();
                write(
                    &mut banded,
                    &shape(layout, Depth::U8),
                    JpegQuality::DEFAULT,
                    bands(&eight, shape(layout, Depth::U8).row_len(), rows),
                )
                .unwrap();
                assert_eq!(banded, first, "{layout:?} in bands of {rows}");
            }
            let mut sixteen = Vec::new();
            write(
                &mut sixteen,
                &shape(layout, Depth::U16),
                JpegQuality::DEFAULT,
                [samples(&shape(layout, Depth::U16))],
            )
            .unwrap();
            assert_eq!(sixteen, first, "{layout:?}: v·257 rounds back to v");
            let (back, format) = decode(&first, &Limits::CLI).unwrap();
            assert_eq!(format, Format::Jpeg);
            let kept = if layout.is_color() { Layout::Rgb } else { Layout::Gray };
            assert_eq!(back.shape(), Shape { layout: kept, ..shape(layout, Depth::U8) });
        }
    }

    #[test]
    fn rows_short_over_or_of_another_depth_are_an_error() {
        let s = shape(Layout::Rgb, Depth::U8);
        let all = samples(&s);
        let Pixels::U8(v) = &all else { unreachable!() };
        let short = Pixels::U8(v[..s.row_len() * 9].to_vec());
        let over = Pixels::U8([v.as_slice(), &v[..s.row_len()]].concat());
        let ragged = Pixels::U8(v[..s.row_len() + 1].to_vec());
        let deeper = samples(&shape(Layout::Rgb, Depth::U16));
        for wrong in [short, over, ragged, deeper] {
            let err = write(&mut Vec::new(), &s, JpegQuality::DEFAULT, [wrong]).unwrap_err();
            assert!(matches!(err, EncodeError::Encoder { format: Format::Jpeg, .. }), "{err}");
        }
        let image = Image::new(24, 10, Layout::Rgb, all).unwrap();
        assert!(write(&mut Vec::new(), &image.shape(), JpegQuality::DEFAULT, [image.pixels()]).is_ok());
    }

    #[test]
    fn a_failed_write_keeps_its_error() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "no space left"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let s = shape(Layout::Gray, Depth::U8);
        let err = write(&mut Full, &s, JpegQuality::DEFAULT, [samples(&s)]).unwrap_err();
        let EncodeError::Io(e) = err else { panic!("{err}") };
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        assert_eq!(e.to_string(), "no space left");
    }
}
