//! Decoding an image strip by strip, so that neither a master nor the local
//! engine holds the whole image: [`open`] reads the header (with the same
//! limits and the same errors as [`crate::decode`]) and hands back a
//! [`StripReader`] that decodes rows on demand, or, for what cannot be read
//! row by row, the image decoded whole.
//!
//! Rows come from a non-interlaced PNG (`png_rows`) or a JPEG (`jpeg_rows`),
//! in order, starting over for a row already given, or from a TIFF of
//! strips or tiles (`tiff_rows`: any band by its offset). Interlaced PNG,
//! CMYK JPEG, the TIFF layouts that need a conversion, WebP and BMP are
//! decoded whole.

pub(crate) mod jpeg_rows;
mod png_rows;
mod tiff_rows;

use histo_core::strips::Strip;
use histo_core::{Image, Pixels, Shape};
use image::ImageReader;

use crate::decode::{self, DecodeError};
use crate::format::Format;
use crate::input::Input;
use crate::limits::Limits;
use jpeg_rows::JpegRows;
use png_rows::PngRows;
use tiff_rows::TiffRows;

/// What [`open`] found.
pub enum Opened {
    /// An image whose rows can be decoded strip by strip.
    Strips(Box<StripReader>),
    /// Any other image, decoded whole.
    Whole(Image, Format),
}

/// Bytes enough to recognise every supported format.
const HEAD: usize = 64;

/// Opens `input`: the checks of [`crate::decode`] (size, format, header,
/// dimensions) first, then a row reader for a non-interlaced PNG, a gray or
/// colour JPEG or a TIFF that needs no conversion, or the whole image for
/// anything else.
pub fn open(input: &Input, limits: &Limits) -> Result<Opened, DecodeError> {
    if input.is_empty() {
        return Err(DecodeError::Empty);
    }
    if input.len() > limits.max_input_bytes {
        return Err(DecodeError::TooLarge { limit: limits.max_input_bytes });
    }
    let format = decode::guess_format(&input.head(HEAD)?)?;
    let rows = match format {
        Format::Png => PngRows::new(input.clone(), *limits)?.map(Rows::Png),
        Format::Tiff => TiffRows::new(input, *limits)?.map(|rows| Rows::Tiff(Box::new(rows))),
        Format::Jpeg => JpegRows::new(input, limits)?.map(Rows::Jpeg),
        _ => None,
    };
    if let Some(rows) = rows {
        return Ok(Opened::Strips(Box::new(StripReader { format, rows })));
    }
    // Refused on its header, before a byte more of it is read.
    let (width, height) = check_header(input, format, limits)?;
    decode::check_whole_dimensions(width, height, limits)?;
    let (image, format) = decode::decode(&input.bytes(limits)?, limits)?;
    Ok(Opened::Whole(image, format))
}

/// The header as the whole-image decoder reads it, with the same limits and
/// the same errors: the image's width and height.
fn check_header(input: &Input, format: Format, limits: &Limits) -> Result<(u32, u32), DecodeError> {
    let mut header = ImageReader::with_format(input.reader()?, format.to_image());
    header.limits(decode::image_limits(limits));
    let (width, height) = header.into_dimensions().map_err(decode::failure(format, limits))?;
    decode::check_dimensions(width, height, limits)?;
    Ok((width, height))
}

/// Refuses an image whose samples the whole-image decoder would not
/// allocate, with its error, so that both paths take the same images.
fn check_alloc(shape: &Shape, format: Format, limits: &Limits) -> Result<(), DecodeError> {
    let bytes_per_sample = if shape.depth == histo_core::Depth::U8 { 1 } else { 2 };
    let total = shape.row_len() as u64 * bytes_per_sample * u64::from(shape.height);
    if total > limits.max_alloc() {
        let limit = image::error::LimitError::from_kind(image::error::LimitErrorKind::InsufficientMemory);
        return Err(decode::failure(format, limits)(image::ImageError::Limits(limit)));
    }
    Ok(())
}

/// An image decoded a band of rows at a time.
pub struct StripReader {
    format: Format,
    rows: Rows,
}

/// What decodes the rows.
enum Rows {
    Png(PngRows),
    Tiff(Box<TiffRows>),
    Jpeg(JpegRows),
}

impl std::fmt::Debug for StripReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripReader")
            .field("format", &self.format)
            .field("shape", &self.shape())
            .finish_non_exhaustive()
    }
}

impl StripReader {
    /// The image's shape: size, channel layout of the decoded samples, depth.
    pub fn shape(&self) -> Shape {
        match &self.rows {
            Rows::Png(rows) => rows.shape(),
            Rows::Tiff(rows) => rows.shape(),
            Rows::Jpeg(rows) => rows.shape(),
        }
    }

    /// The input's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Samples in one row.
    pub fn row_len(&self) -> usize {
        self.shape().row_len()
    }

    /// A fresh reader of the same input, for a second pass over it.
    pub fn restart(&self) -> Result<StripReader, DecodeError> {
        let rows = match &self.rows {
            Rows::Png(rows) => Rows::Png(rows.restart()?),
            Rows::Tiff(rows) => Rows::Tiff(Box::new(rows.restart()?)),
            Rows::Jpeg(rows) => Rows::Jpeg(rows.restart()?),
        };
        Ok(StripReader { format: self.format, rows })
    }

    /// The samples of rows `y0..y0 + rows`, in any order (a PNG decodes the
    /// rows before `y0` again when it has gone past them).
    pub fn rows(&mut self, y0: u32, rows: u32) -> Result<Pixels, DecodeError> {
        let height = self.shape().height;
        if y0.checked_add(rows).is_none_or(|end| end > height) {
            return Err(DecodeError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("rows {y0}..+{rows} are outside an image of {height} rows"),
            )));
        }
        match &mut self.rows {
            Rows::Png(r) => r.rows(y0, rows),
            Rows::Tiff(r) => r.rows(y0, rows),
            Rows::Jpeg(r) => r.rows(y0, rows),
        }
    }

    /// The samples of one strip.
    pub fn strip(&mut self, strip: &Strip) -> Result<Pixels, DecodeError> {
        self.rows(strip.y0, strip.rows)
    }

    /// For a reader that decodes in order (PNG, JPEG), the next row it
    /// gives without starting over; None for one that reads any row (TIFF).
    pub fn position(&self) -> Option<u32> {
        match &self.rows {
            Rows::Png(rows) => Some(rows.next_row()),
            Rows::Jpeg(rows) => Some(rows.next_row()),
            Rows::Tiff(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use histo_core::{Layout, strips};

    use super::*;
    use crate::decode::decode;

    /// A PNG of `width`×`height` in any colour type and bit depth, samples
    /// from a deterministic pattern (packed as the format wants).
    fn make_png(width: u32, height: u32, color: png::ColorType, bits: png::BitDepth, extra: Extra) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(color);
        encoder.set_depth(bits);
        if color == png::ColorType::Indexed {
            let entries = 1usize << bits as u8;
            let palette: Vec<u8> = (0..entries * 3).map(|i| (i * 37 % 256) as u8).collect();
            encoder.set_palette(palette);
        }
        if let Some(trns) = extra.trns {
            encoder.set_trns(trns);
        }
        let mut writer = encoder.write_header().unwrap();
        let samples = match color {
            png::ColorType::Grayscale | png::ColorType::Indexed => 1,
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
        };
        let row_bytes = (width as usize * samples * bits as usize).div_ceil(8);
        let data: Vec<u8> = (0..row_bytes * height as usize).map(|i| ((i * 131 + i / 17) % 251) as u8).collect();
        writer.write_image_data(&data).unwrap();
        writer.finish().unwrap();
        out
    }

    #[derive(Clone, Copy, Default)]
    struct Extra {
        trns: Option<&'static [u8]>,
    }

    /// An Adam7-interlaced 8-bit RGB PNG (the `png` encoder writes none).
    fn interlaced_png(width: u32, height: u32) -> Vec<u8> {
        const PASSES: [(u32, u32, u32, u32); 7] =
            [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];
        let pixel = |x: u32, y: u32| [(x * 7 + y) as u8, (x * y) as u8, (x + y * 3) as u8];
        let mut raw = Vec::new();
        for (x0, y0, dx, dy) in PASSES {
            if x0 >= width || y0 >= height {
                continue;
            }
            for y in (y0..height).step_by(dy as usize) {
                raw.push(0);
                (x0..width).step_by(dx as usize).for_each(|x| raw.extend(pixel(x, y)));
            }
        }
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut z, &raw).unwrap();
        let idat = z.finish().unwrap();
        let chunk = |out: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
            out.extend((data.len() as u32).to_be_bytes());
            let start = out.len();
            out.extend(kind);
            out.extend(data);
            let crc = crc32fast::hash(&out[start..]);
            out.extend(crc.to_be_bytes());
        };
        let mut ihdr = Vec::new();
        ihdr.extend(width.to_be_bytes());
        ihdr.extend(height.to_be_bytes());
        ihdr.extend([8, 2, 0, 0, 1]);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &idat);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    /// Every row of `bytes`, strip by strip as the cluster cuts it.
    fn by_strips(bytes: &[u8], limits: &Limits) -> Result<Image, DecodeError> {
        let Opened::Strips(mut reader) = open(&Input::from(bytes.to_vec()), limits)? else {
            panic!("expected a row reader")
        };
        let Shape { width: w, height: h, layout, .. } = reader.shape();
        // Small strips, so that even small test images are cut many times.
        let strips = strips::split(h, (h as usize).div_ceil(7));
        let mut all: Option<Pixels> = None;
        for s in &strips {
            let p = reader.strip(s)?;
            match (&mut all, p) {
                (None, p) => all = Some(p),
                (Some(Pixels::U8(a)), Pixels::U8(b)) => a.extend(b),
                (Some(Pixels::U16(a)), Pixels::U16(b)) => a.extend(b),
                _ => panic!("depth changed between strips"),
            }
        }
        Ok(Image::new(w, h, layout, all.unwrap()).unwrap())
    }

    fn kinds() -> Vec<(&'static str, png::ColorType, png::BitDepth, Extra)> {
        use png::BitDepth::*;
        use png::ColorType::*;
        let none = Extra::default();
        vec![
            ("gray 1", Grayscale, One, none),
            ("gray 2", Grayscale, Two, none),
            ("gray 4", Grayscale, Four, none),
            ("gray 8", Grayscale, Eight, none),
            ("gray 16", Grayscale, Sixteen, none),
            ("gray 2 tRNS", Grayscale, Two, Extra { trns: Some(&[0, 1]) }),
            ("gray 16 tRNS", Grayscale, Sixteen, Extra { trns: Some(&[1, 2]) }),
            ("gray 8 tRNS", Grayscale, Eight, Extra { trns: Some(&[0, 77]) }),
            ("palette 1", Indexed, One, none),
            ("palette 2", Indexed, Two, none),
            ("palette 4", Indexed, Four, none),
            ("palette 8", Indexed, Eight, none),
            ("palette 8 tRNS", Indexed, Eight, Extra { trns: Some(&[0, 128, 255, 7]) }),
            ("rgb 8", Rgb, Eight, none),
            ("rgb 8 tRNS", Rgb, Eight, Extra { trns: Some(&[0, 1, 0, 2, 0, 3]) }),
            ("rgb 16", Rgb, Sixteen, none),
            ("rgba 8", Rgba, Eight, none),
            ("rgba 16", Rgba, Sixteen, none),
            ("gray+alpha 8", GrayscaleAlpha, Eight, none),
            ("gray+alpha 16", GrayscaleAlpha, Sixteen, none),
        ]
    }

    #[test]
    fn strips_give_the_samples_of_the_whole_image_decoder() {
        for (name, color, bits, extra) in kinds() {
            for (w, h) in [(1, 1), (13, 40), (37, 23)] {
                let bytes = make_png(w, h, color, bits, extra);
                let (whole, format) = decode(&bytes, &Limits::CLI).unwrap();
                assert_eq!(format, Format::Png);
                let strips = by_strips(&bytes, &Limits::CLI).unwrap();
                assert_eq!(strips, whole, "{name} {w}x{h}");
            }
        }
    }

    #[test]
    fn interlaced_png_and_other_formats_are_decoded_whole() {
        let bytes = interlaced_png(21, 17);
        let Opened::Whole(image, Format::Png) = open(&Input::from(bytes.clone()), &Limits::CLI).unwrap() else {
            panic!("interlaced PNG should be decoded whole")
        };
        assert_eq!(image, decode(&bytes, &Limits::CLI).unwrap().0);
        let Pixels::U8(samples) = image.pixels() else { panic!("8-bit") };
        assert_eq!(&samples[(5 * 21 + 3) * 3..][..3], &[3 * 7 + 5, 15, 3 + 15], "the passes were put together");

        let img = Image::new(8, 8, Layout::Gray, Pixels::U8((0..64).collect())).unwrap();
        let mut bmp = std::io::Cursor::new(Vec::new());
        crate::encode(&img, Format::Bmp, &crate::EncodeSettings::default(), &mut bmp).unwrap();
        let Opened::Whole(back, Format::Bmp) = open(&Input::from(bmp.into_inner()), &Limits::CLI).unwrap() else {
            panic!("BMP should be decoded whole")
        };
        assert_eq!((back.width(), back.height()), (8, 8));
    }

    #[test]
    fn limits_are_refused_with_the_errors_of_the_whole_image_decoder() {
        let bytes = make_png(40, 30, png::ColorType::Rgb, png::BitDepth::Eight, Extra::default());
        let cases = [
            Limits { max_pixels: 1199, ..Limits::CLI },
            Limits { max_width: 39, ..Limits::CLI },
            Limits { max_height: 29, ..Limits::CLI },
            Limits { max_input_bytes: bytes.len() as u64 - 1, ..Limits::CLI },
        ];
        for limits in cases {
            let whole = decode(&bytes, &limits).unwrap_err();
            let Err(streamed) = open(&Input::from(bytes.clone()), &limits) else {
                panic!("{limits:?} should be refused")
            };
            assert_eq!(streamed.to_string(), whole.to_string(), "{limits:?}");
            assert_eq!(std::mem::discriminant(&streamed), std::mem::discriminant(&whole));
        }
        assert!(matches!(open(&Input::from(Vec::new()), &Limits::CLI), Err(DecodeError::Empty)));
        assert!(matches!(open(&Input::from(b"not an image".to_vec()), &Limits::CLI), Err(DecodeError::NotAnImage)));
    }

    #[test]
    fn broken_data_fails_as_the_whole_image_decoder_fails() {
        let bytes = make_png(300, 200, png::ColorType::Rgb, png::BitDepth::Eight, Extra::default());
        let idat = bytes.windows(4).position(|w| w == b"IDAT").unwrap();
        let mut flipped = bytes.clone();
        flipped[idat + 200] ^= 0x55;
        for broken in [bytes[..bytes.len() / 2].to_vec(), flipped, bytes[..idat + 10].to_vec()] {
            let whole = decode(&broken, &Limits::CLI).unwrap_err();
            let streamed = by_strips(&broken, &Limits::CLI).unwrap_err();
            assert!(matches!(whole, DecodeError::Corrupt { format: Format::Png, .. }), "{whole}");
            assert_eq!(streamed.to_string(), whole.to_string());
        }
    }

    #[test]
    fn the_png_decoder_takes_over_where_plain_reading_stops() {
        // A wrong Adler-32 stops the plain reader late in the image, where
        // its last read reaches the checksum; the `png` decoder ignores it.
        let (width, height) = (700, 300);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..width * height * 3)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 56) as u8
            })
            .collect();
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, width as u32, height as u32);
        encoder.set_color(png::ColorType::Rgb);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&noise).unwrap();
        writer.finish().unwrap();
        // The last IDAT chunk ends with the checksum.
        let idat = bytes.windows(4).rposition(|w| w == b"IDAT").unwrap();
        let len = u32::from_be_bytes(bytes[idat - 4..idat].try_into().unwrap()) as usize;
        assert!(bytes.len() > 300 * 1024, "the image data outlasts one read of the plain reader");
        let end = idat + 4 + len;
        bytes[end - 1] ^= 0x5a;
        let crc = crc32fast::hash(&bytes[idat..end]);
        bytes[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        let (whole, _) = decode(&bytes, &Limits::CLI).unwrap();
        assert_eq!(whole.pixels(), &Pixels::U8(noise));
        assert_eq!(by_strips(&bytes, &Limits::CLI).unwrap(), whole);
    }

    #[test]
    fn rows_already_given_are_decoded_again() {
        let bytes = make_png(30, 50, png::ColorType::Grayscale, png::BitDepth::Sixteen, Extra::default());
        let (whole, _) = decode(&bytes, &Limits::CLI).unwrap();
        let Pixels::U16(all) = whole.pixels() else { panic!("16-bit") };
        let Opened::Strips(mut reader) = open(&Input::from(bytes), &Limits::CLI).unwrap() else { panic!() };
        let row = |y: usize| &all[y * 30..(y + 1) * 30];
        assert_eq!(reader.rows(40, 2).unwrap(), Pixels::U16([row(40), row(41)].concat()));
        assert_eq!(reader.position(), Some(42));
        assert_eq!(reader.rows(3, 1).unwrap(), Pixels::U16(row(3).to_vec()));
        assert_eq!(reader.rows(49, 1).unwrap(), Pixels::U16(row(49).to_vec()));
        assert!(reader.rows(49, 2).is_err(), "past the last row");
    }
}
