//! Writing a striped TIFF from its rows in order, so that neither the
//! cluster's output nor a whole-image encode holds more than a few TIFF
//! strips beyond what it is given.
//!
//! The directory is built here on the `tiff` crate's low-level encoder: its
//! image encoder compresses only when given the whole image at once, and
//! predicts RGB with alpha at the wrong stride. Strips are uncompressed, or
//! LZW or Deflate after the horizontal predictor ([`crate::tiff_strip`]),
//! several compressed at once. Past 4 GiB the file is a BigTIFF (64-bit
//! offsets). Gray+alpha is written as RGBA, because readers built on
//! libtiff (OpenCV among them) do not all read two-sample gray; alpha is
//! marked unassociated (ExtraSamples = 2).

use std::borrow::{Borrow, Cow};
use std::io::{Seek, Write};

use histo_core::{Depth, Layout, Pixels, Shape};
use rayon::prelude::*;
use tiff::TiffError;
use tiff::encoder::{DirectoryEncoder, Rational, TiffEncoder, TiffKind};
use tiff::tags::{CompressionMethod, PhotometricInterpretation, Predictor, ResolutionUnit, SampleFormat, Tag};

use crate::encode::EncodeError;
use crate::format::Format;
use crate::settings::TiffCompression;
use crate::tiff_strip::{self, Sample};

/// File bytes past which a standard TIFF's 32-bit offsets may not reach
/// the directory written after them.
const STANDARD_MAX: u64 = (u32::MAX as u64) - (64 << 20);

/// Uncompressed bytes in a TIFF strip, as the `tiff` crate and libtiff's
/// default strips hold about.
const STRIP_BYTES: u64 = 1_000_000;

/// Writes an image of `shape` whose rows come in `bands` (each a whole
/// number of rows, in order, in `shape`'s layout and depth).
pub fn write<W: Write + Seek, B: Borrow<Pixels>>(
    out: &mut W,
    shape: &Shape,
    compression: TiffCompression,
    bands: impl IntoIterator<Item = B>,
) -> Result<(), EncodeError> {
    let strips = Strips::of(shape);
    let bytes = strips.row_bytes * u64::from(shape.height);
    // LZW can grow noise by half; Deflate's stored blocks barely at all.
    let worst = if compression == TiffCompression::Lzw { bytes + bytes / 2 } else { bytes + bytes / 64 };
    let bands = bands.into_iter();
    if worst > STANDARD_MAX {
        let mut big = TiffEncoder::new_big(out).map_err(failed)?;
        write_directory(big.image_directory().map_err(failed)?, shape, &strips, compression, bands)
    } else {
        let mut standard = TiffEncoder::new(out).map_err(failed)?;
        write_directory(standard.image_directory().map_err(failed)?, shape, &strips, compression, bands)
    }
}

/// How the image is cut into TIFF strips.
struct Strips {
    /// Samples in a written row (gray+alpha written as RGBA).
    row_len: usize,
    channels: usize,
    row_bytes: u64,
    rows_per_strip: u32,
    height: u32,
}

impl Strips {
    fn of(shape: &Shape) -> Strips {
        let channels = if shape.layout == Layout::GrayAlpha { 4 } else { shape.layout.channels() };
        let row_len = shape.width as usize * channels;
        let row_bytes = row_len as u64 * if shape.depth == Depth::U8 { 1 } else { 2 };
        let rows_per_strip = u32::try_from(STRIP_BYTES.div_ceil(row_bytes.max(1))).unwrap_or(u32::MAX);
        Strips {
            row_len,
            channels,
            row_bytes,
            rows_per_strip: rows_per_strip.clamp(1, shape.height.max(1)),
            height: shape.height,
        }
    }

    fn count(&self) -> usize {
        self.height.div_ceil(self.rows_per_strip) as usize
    }

    /// Samples in strip `i`; 0 past the last.
    fn samples(&self, i: usize) -> usize {
        let start = (i as u64 * u64::from(self.rows_per_strip)).min(u64::from(self.height));
        let end = (start + u64::from(self.rows_per_strip)).min(u64::from(self.height));
        (end - start) as usize * self.row_len
    }
}

fn write_directory<W: Write + Seek, K: TiffKind, B: Borrow<Pixels>>(
    mut dir: DirectoryEncoder<'_, W, K>,
    shape: &Shape,
    strips: &Strips,
    compression: TiffCompression,
    bands: impl Iterator<Item = B>,
) -> Result<(), EncodeError> {
    let written = match shape.depth {
        Depth::U8 => write_strips::<_, K, u8, _>(&mut dir, shape.layout, strips, compression, bands)?,
        Depth::U16 => write_strips::<_, K, u16, _>(&mut dir, shape.layout, strips, compression, bands)?,
    };
    let bits: u16 = if shape.depth == Depth::U8 { 8 } else { 16 };
    let channels = strips.channels as u16;
    let offsets =
        written.offsets.iter().map(|&o| K::convert_offset(o)).collect::<Result<Vec<_>, _>>().map_err(failed)?;
    let counts = written.counts.iter().map(|&c| K::convert_offset(c)).collect::<Result<Vec<_>, _>>().map_err(failed)?;
    let photometric = if shape.layout.is_color() || shape.layout == Layout::GrayAlpha {
        PhotometricInterpretation::RGB
    } else {
        PhotometricInterpretation::BlackIsZero
    };
    let (method, predictor) = match compression {
        TiffCompression::None => (CompressionMethod::None, None),
        TiffCompression::Lzw => (CompressionMethod::LZW, Some(Predictor::Horizontal)),
        TiffCompression::Deflate => (CompressionMethod::Deflate, Some(Predictor::Horizontal)),
    };
    let mut tags = || -> Result<(), TiffError> {
        dir.write_tag(Tag::ImageWidth, shape.width)?;
        dir.write_tag(Tag::ImageLength, shape.height)?;
        dir.write_tag(Tag::BitsPerSample, &vec![bits; usize::from(channels)][..])?;
        dir.write_tag(Tag::Compression, method.to_u16())?;
        dir.write_tag(Tag::PhotometricInterpretation, photometric.to_u16())?;
        dir.write_tag(Tag::StripOffsets, K::convert_slice(&offsets))?;
        dir.write_tag(Tag::SamplesPerPixel, channels)?;
        dir.write_tag(Tag::RowsPerStrip, strips.rows_per_strip)?;
        dir.write_tag(Tag::StripByteCounts, K::convert_slice(&counts))?;
        dir.write_tag(Tag::XResolution, Rational { n: 1, d: 1 })?;
        dir.write_tag(Tag::YResolution, Rational { n: 1, d: 1 })?;
        dir.write_tag(Tag::ResolutionUnit, ResolutionUnit::None.to_u16())?;
        // libtiff knows the tag only through a compression that uses it.
        if let Some(predictor) = predictor {
            dir.write_tag(Tag::Predictor, predictor.to_u16())?;
        }
        if shape.layout.has_alpha() {
            dir.write_tag(Tag::ExtraSamples, 2u16)?;
        }
        dir.write_tag(Tag::SampleFormat, &vec![SampleFormat::Uint.to_u16(); usize::from(channels)][..])?;
        Ok(())
    };
    tags().map_err(failed)?;
    dir.finish().map_err(failed)
}

/// Where each strip went.
#[derive(Default)]
struct Written {
    offsets: Vec<u64>,
    counts: Vec<u64>,
}

impl Written {
    fn put<W: Write + Seek, K: TiffKind>(
        &mut self,
        dir: &mut DirectoryEncoder<'_, W, K>,
        data: &[u8],
    ) -> Result<(), EncodeError> {
        self.offsets.push(dir.write_data(data).map_err(failed)?);
        self.counts.push(data.len() as u64);
        Ok(())
    }
}

/// Writes the strips' data from `bands`, compressing a batch of full strips
/// at a time across threads.
fn write_strips<W, K, T, B>(
    dir: &mut DirectoryEncoder<'_, W, K>,
    layout: Layout,
    strips: &Strips,
    compression: TiffCompression,
    bands: impl Iterator<Item = B>,
) -> Result<Written, EncodeError>
where
    W: Write + Seek,
    K: TiffKind,
    T: Level,
    B: Borrow<Pixels>,
{
    let batch = 2 * rayon::current_num_threads().max(1);
    let mut written = Written::default();
    let flush = |dir: &mut DirectoryEncoder<'_, W, K>, written: &mut Written, ready: &mut Vec<Vec<T>>| {
        let compressed: Vec<_> = ready
            .par_drain(..)
            .map(|strip| tiff_strip::compress(strip, strips.row_len, strips.channels, compression))
            .collect();
        compressed.into_iter().try_for_each(|data| written.put(dir, &data?))
    };
    // Full strips not yet compressed, and the rows of the next, short of a strip.
    let mut ready: Vec<Vec<T>> = Vec::new();
    let mut pending: Vec<T> = Vec::new();
    let mut next = 0;
    for band in bands {
        let band = T::of(band.borrow()).ok_or_else(|| wrong("a band of another depth"))?;
        let band = if layout == Layout::GrayAlpha { Cow::Owned(gray_alpha_to_rgba(band)) } else { Cow::Borrowed(band) };
        let mut rest = &band[..];
        while !rest.is_empty() {
            let need = strips.samples(next);
            if need == 0 {
                return Err(wrong("more rows than the image has"));
            }
            if compression == TiffCompression::None && pending.is_empty() && rest.len() >= need {
                written.put(dir, bytemuck::cast_slice(&rest[..need]))?;
                (rest, next) = (&rest[need..], next + 1);
                continue;
            }
            let take = (need - pending.len()).min(rest.len());
            pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if pending.len() == need && compression == TiffCompression::None {
                // Nothing to compress: written as it is, not copied again.
                written.put(dir, bytemuck::cast_slice(&pending))?;
                pending.clear();
                next += 1;
            } else if pending.len() == need {
                ready.push(std::mem::replace(&mut pending, Vec::with_capacity(need)));
                next += 1;
                if ready.len() >= batch {
                    flush(dir, &mut written, &mut ready)?;
                }
            }
        }
    }
    flush(dir, &mut written, &mut ready)?;
    if next != strips.count() || !pending.is_empty() {
        return Err(wrong("fewer rows than the image has"));
    }
    Ok(written)
}

/// The two sample types, seen in [`Pixels`].
trait Level: Sample {
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

    fn encoded(shape: &Shape, pixels: &Pixels, band_rows: u32, compression: TiffCompression) -> Vec<u8> {
        let mut out = io::Cursor::new(Vec::new());
        let row_len = shape.row_len();
        let bands = (0..shape.height).step_by(band_rows as usize).map(|y0| {
            let range = y0 as usize * row_len..((y0 + band_rows).min(shape.height)) as usize * row_len;
            match pixels {
                Pixels::U8(v) => Pixels::U8(v[range].to_vec()),
                Pixels::U16(v) => Pixels::U16(v[range].to_vec()),
            }
        });
        write(&mut out, shape, compression, bands).unwrap();
        out.into_inner()
    }

    #[test]
    fn any_banding_writes_the_same_file_and_it_reads_back() {
        for compression in [TiffCompression::None, TiffCompression::Lzw, TiffCompression::Deflate] {
            for layout in [Layout::Gray, Layout::GrayAlpha, Layout::Rgb, Layout::Rgba] {
                for depth in [Depth::U8, Depth::U16] {
                    // 1 TIFF strip at 8-bit gray, 5 of 179 rows at 16-bit RGBA.
                    let shape = Shape { width: 700, height: 800, layout, depth };
                    let n = shape.row_len() * 800;
                    let pixels = match depth {
                        Depth::U8 => Pixels::U8((0..n).map(|i| (i * 7 % 251 / 3) as u8).collect()),
                        Depth::U16 => Pixels::U16((0..n).map(|i| (i * 7919 % 65_521) as u16).collect()),
                    };
                    let whole = encoded(&shape, &pixels, 800, compression);
                    let case = format!("{compression} {layout:?} {depth:?}");
                    for band_rows in [1, 37, 799] {
                        assert!(encoded(&shape, &pixels, band_rows, compression) == whole, "{case} by {band_rows}");
                    }
                    let (back, format) = decode(&whole, &Limits::CLI).unwrap();
                    assert_eq!(format, Format::Tiff);
                    let expected = Image::new(700, 800, layout, pixels).unwrap();
                    if layout == Layout::GrayAlpha {
                        assert_eq!(back.layout(), Layout::Rgba);
                        assert_eq!(back.depth(), depth);
                    } else {
                        assert!(back == expected, "{case}");
                    }
                }
            }
        }
    }

    #[test]
    fn compression_shrinks_smooth_images() {
        let shape = Shape { width: 1000, height: 600, layout: Layout::Rgb, depth: Depth::U8 };
        let pixels = Pixels::U8((0..shape.row_len() * 600).map(|i| (i % 3000 / 12) as u8).collect());
        let raw = encoded(&shape, &pixels, 64, TiffCompression::None).len();
        let lzw = encoded(&shape, &pixels, 64, TiffCompression::Lzw).len();
        let deflate = encoded(&shape, &pixels, 64, TiffCompression::Deflate).len();
        assert!(raw > 1_800_000 && deflate < lzw && lzw < raw / 10, "{raw} {lzw} {deflate}");
    }

    #[test]
    fn rows_short_or_over_are_an_error_not_a_file() {
        let shape = Shape { width: 4, height: 3, layout: Layout::Gray, depth: Depth::U8 };
        let mut out = io::Cursor::new(Vec::new());
        let short = write(&mut out, &shape, TiffCompression::None, [Pixels::U8(vec![0; 8])]).unwrap_err();
        assert!(short.to_string().contains("fewer rows"), "{short}");
        let over = write(&mut io::Cursor::new(Vec::new()), &shape, TiffCompression::Lzw, [Pixels::U8(vec![0; 16])])
            .unwrap_err();
        assert!(over.to_string().contains("more rows"), "{over}");
        let depth = write(&mut io::Cursor::new(Vec::new()), &shape, TiffCompression::Lzw, [Pixels::U16(vec![0; 12])])
            .unwrap_err();
        assert!(depth.to_string().contains("another depth"), "{depth}");
    }
}
