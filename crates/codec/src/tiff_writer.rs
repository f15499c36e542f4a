//! Writing a striped, uncompressed TIFF from its rows in order, so that
//! neither the cluster's output nor a whole-image encode holds more than
//! one TIFF strip beyond what it is given.
//!
//! Past 4 GiB of samples the file is a BigTIFF (64-bit offsets). Gray+alpha
//! is written as RGBA, as before streaming, because readers built on
//! libtiff (OpenCV among them) do not all read two-sample gray; alpha is
//! marked unassociated (ExtraSamples = 2).

use std::borrow::{Borrow, Cow};
use std::io::{Seek, Write};

use histo_core::{Depth, Layout, Pixels, Shape};
use tiff::TiffError;
use tiff::encoder::colortype::{ColorType, Gray8, Gray16, RGB8, RGB16};
use tiff::encoder::{TiffEncoder, TiffKind, TiffValue};
use tiff::tags::ExtraSamples;

use crate::encode::EncodeError;
use crate::format::Format;

/// Sample bytes past which a standard TIFF's 32-bit offsets may not reach
/// the directory written after them.
const STANDARD_MAX: u64 = (u32::MAX as u64) - (64 << 20);

/// Writes an image of `shape` whose rows come in `bands` (each a whole
/// number of rows, in order, in `shape`'s layout and depth).
pub fn write<W: Write + Seek, B: Borrow<Pixels>>(
    out: &mut W,
    shape: &Shape,
    bands: impl IntoIterator<Item = B>,
) -> Result<(), EncodeError> {
    let samples = u64::from(shape.width) * u64::from(shape.height) * written_channels(shape.layout) as u64;
    let bytes = samples * if shape.depth == Depth::U8 { 1 } else { 2 };
    let bands = bands.into_iter();
    if bytes > STANDARD_MAX {
        write_kind(TiffEncoder::new_big(out).map_err(failed)?, shape, bands)
    } else {
        write_kind(TiffEncoder::new(out).map_err(failed)?, shape, bands)
    }
}

/// Channels written for a layout: gray+alpha becomes RGBA.
fn written_channels(layout: Layout) -> usize {
    if layout == Layout::GrayAlpha { 4 } else { layout.channels() }
}

fn write_kind<W: Write + Seek, K: TiffKind, B: Borrow<Pixels>>(
    mut encoder: TiffEncoder<W, K>,
    shape: &Shape,
    bands: impl Iterator<Item = B>,
) -> Result<(), EncodeError> {
    let alpha = shape.layout.has_alpha();
    match (shape.layout, shape.depth) {
        (Layout::Gray, Depth::U8) => write_image::<_, Gray8, K, _>(&mut encoder, shape, false, bands),
        (Layout::Gray, Depth::U16) => write_image::<_, Gray16, K, _>(&mut encoder, shape, false, bands),
        (_, Depth::U8) => write_image::<_, RGB8, K, _>(&mut encoder, shape, alpha, bands),
        (_, Depth::U16) => write_image::<_, RGB16, K, _>(&mut encoder, shape, alpha, bands),
    }
}

fn write_image<W, C, K, B>(
    encoder: &mut TiffEncoder<W, K>,
    shape: &Shape,
    alpha: bool,
    bands: impl Iterator<Item = B>,
) -> Result<(), EncodeError>
where
    B: Borrow<Pixels>,
    W: Write + Seek,
    C: ColorType<Inner: Level>,
    K: TiffKind,
    [C::Inner]: TiffValue,
{
    let mut image = encoder.new_image::<C>(shape.width, shape.height).map_err(failed)?;
    if alpha {
        image.extra_samples(&[ExtraSamples::UnassociatedAlpha]).map_err(failed)?;
    }
    // Rows left over from a band, short of a TIFF strip.
    let mut pending: Vec<C::Inner> = Vec::new();
    for band in bands {
        let band = C::Inner::of(band.borrow()).ok_or_else(|| wrong("a band of another depth"))?;
        let band =
            if shape.layout == Layout::GrayAlpha { Cow::Owned(gray_alpha_to_rgba(band)) } else { Cow::Borrowed(band) };
        let mut rest = &band[..];
        while !rest.is_empty() {
            let need = usize::try_from(image.next_strip_sample_count()).unwrap_or(usize::MAX);
            if need == 0 {
                return Err(wrong("more rows than the image has"));
            }
            if pending.is_empty() && rest.len() >= need {
                image.write_strip(&rest[..need]).map_err(failed)?;
                rest = &rest[need..];
                continue;
            }
            let take = (need - pending.len()).min(rest.len());
            pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if pending.len() == need {
                image.write_strip(&pending).map_err(failed)?;
                pending.clear();
            }
        }
    }
    if image.next_strip_sample_count() != 0 || !pending.is_empty() {
        return Err(wrong("fewer rows than the image has"));
    }
    image.finish().map_err(failed)
}

/// The two sample types, seen in [`Pixels`].
trait Level: Copy + Sized {
    fn of(pixels: &Pixels) -> Option<&[Self]>;
}

impl Level for u8 {
    fn of(pixels: &Pixels) -> Option<&[u8]> {
        if let Pixels::U8(v) = pixels { Some(v) } else { None }
    }
}

impl Level for u16 {
    fn of(pixels: &Pixels) -> Option<&[u16]> {
        if let Pixels::U16(v) = pixels { Some(v) } else { None }
    }
}

fn gray_alpha_to_rgba<T: Copy>(samples: &[T]) -> Vec<T> {
    samples.chunks_exact(2).flat_map(|ga| [ga[0], ga[0], ga[0], ga[1]]).collect()
}

fn wrong(what: &str) -> EncodeError {
    EncodeError::Encoder { format: Format::Tiff, reason: format!("the rows given were wrong: {what}") }
}

fn failed(e: TiffError) -> EncodeError {
    match e {
        TiffError::IoError(e) => EncodeError::Io(e),
        e => EncodeError::Encoder { format: Format::Tiff, reason: e.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use histo_core::Image;

    use super::*;
    use crate::{Limits, decode};

    fn encoded(shape: &Shape, pixels: &Pixels, band_rows: u32) -> Vec<u8> {
        let mut out = io::Cursor::new(Vec::new());
        let row_len = shape.row_len();
        let bands = (0..shape.height).step_by(band_rows as usize).map(|y0| {
            let range = y0 as usize * row_len..((y0 + band_rows).min(shape.height)) as usize * row_len;
            match pixels {
                Pixels::U8(v) => Pixels::U8(v[range].to_vec()),
                Pixels::U16(v) => Pixels::U16(v[range].to_vec()),
            }
        });
        write(&mut out, shape, bands).unwrap();
        out.into_inner()
    }

    #[test]
    fn any_banding_writes_the_same_file_and_it_reads_back() {
        for layout in [Layout::Gray, Layout::GrayAlpha, Layout::Rgb, Layout::Rgba] {
            for depth in [Depth::U8, Depth::U16] {
                // Rows of 1.4 MB at 16-bit RGBA: several rows per TIFF strip at 8-bit gray only.
                let shape = Shape { width: 700, height: 37, layout, depth };
                let n = shape.row_len() * 37;
                let pixels = match depth {
                    Depth::U8 => Pixels::U8((0..n).map(|i| (i * 7 % 251) as u8).collect()),
                    Depth::U16 => Pixels::U16((0..n).map(|i| (i * 7919 % 65_521) as u16).collect()),
                };
                let whole = encoded(&shape, &pixels, 37);
                for band_rows in [1, 5, 36] {
                    assert_eq!(encoded(&shape, &pixels, band_rows), whole, "{layout:?} {depth:?} by {band_rows}");
                }
                let (back, format) = decode(&whole, &Limits::CLI).unwrap();
                assert_eq!(format, Format::Tiff);
                let expected = Image::new(700, 37, layout, pixels).unwrap();
                if layout == Layout::GrayAlpha {
                    assert_eq!(back.layout(), Layout::Rgba);
                    assert_eq!(back.depth(), depth);
                } else {
                    assert_eq!(back, expected, "{layout:?} {depth:?}");
                }
            }
        }
    }

    #[test]
    fn rows_short_or_over_are_an_error_not_a_file() {
        let shape = Shape { width: 4, height: 3, layout: Layout::Gray, depth: Depth::U8 };
        let mut out = io::Cursor::new(Vec::new());
        let short = write(&mut out, &shape, [Pixels::U8(vec![0; 8])]).unwrap_err();
        assert!(short.to_string().contains("fewer rows"), "{short}");
        let over = write(&mut io::Cursor::new(Vec::new()), &shape, [Pixels::U8(vec![0; 16])]).unwrap_err();
        assert!(over.to_string().contains("more rows"), "{over}");
        let depth = write(&mut io::Cursor::new(Vec::new()), &shape, [Pixels::U16(vec![0; 12])]).unwrap_err();
        assert!(depth.to_string().contains("another depth"), "{depth}");
    }
}
