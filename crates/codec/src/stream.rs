//! Decoding a PNG strip by strip, so that a master never holds the whole
//! image: [`open`] reads the header (with the same limits and the same
//! errors as [`crate::decode`]) and hands back a [`StripReader`] that
//! decodes rows on demand, or, for what cannot be read row by row
//! (interlaced PNG, other formats), the image decoded whole.
//!
//! The samples are exactly those of [`crate::decode`]: the same `png`
//! decoder with the same transformations (palette and low bit depths
//! expanded to 8 bits, tRNS to alpha), 16-bit samples brought from
//! big-endian to native `u16`. Plain image data (nothing to expand) is
//! inflated by the `idat` module instead, which is faster and leaves anything
//! unusual to the `png` decoder, from the row where it stopped.

use histo_core::strips::Strip;
use histo_core::{Depth, Image, Layout, Pixels, Shape};
use image::error::{DecodingError, ImageFormatHint, LimitError, LimitErrorKind, ParameterError, ParameterErrorKind};
use image::{ImageError, ImageFormat, ImageReader};

use crate::decode::{self, DecodeError};
use crate::format::Format;
use crate::idat::IdatRows;
use crate::input::{Input, Source};
use crate::limits::Limits;

/// What [`open`] found.
pub enum Opened {
    /// A PNG whose rows can be decoded strip by strip.
    Strips(Box<StripReader>),
    /// Any other image, decoded whole.
    Whole(Image, Format),
}

/// Bytes enough to recognise every supported format.
const HEAD: usize = 64;

/// Opens `input`: the checks of [`crate::decode`] (size, format, header,
/// dimensions) first, then a row reader for a non-interlaced PNG, or the
/// whole image for anything else.
pub fn open(input: &Input, limits: &Limits) -> Result<Opened, DecodeError> {
    if input.is_empty() {
        return Err(DecodeError::Empty);
    }
    if input.len() > limits.max_input_bytes {
        return Err(DecodeError::TooLarge { limit: limits.max_input_bytes });
    }
    let format = decode::guess_format(&input.head(HEAD)?)?;
    if format == Format::Png
        && let Some(reader) = StripReader::new(input.clone(), *limits)?
    {
        return Ok(Opened::Strips(Box::new(reader)));
    }
    let (image, format) = decode::decode(&input.bytes(limits)?, limits)?;
    Ok(Opened::Whole(image, format))
}

/// A non-interlaced PNG, decoded a band of rows at a time.
pub struct StripReader {
    input: Input,
    limits: Limits,
    rows: Rows,
    /// Whether the `png` decoder would expand nothing, so that the plain
    /// reader can give the rows.
    plain: bool,
    shape: Shape,
    /// Bytes of one decoded row.
    line: usize,
    /// The next row the decoder gives.
    next: u32,
    /// One row, for rows skipped and for 16-bit conversion.
    scratch: Vec<u8>,
}

/// What decodes the rows.
enum Rows {
    /// Plain image data, inflated and unfiltered by [`crate::idat`].
    Plain(Box<IdatRows>),
    /// The `png` decoder, for everything else.
    Png(Box<png::Reader<Box<dyn Source>>>),
}

impl Rows {
    /// Rows from row 0: plain ones when `plain` and the image data can be
    /// found, else those of the `png` decoder that `png` opens.
    fn open(
        input: &Input,
        shape: &Shape,
        plain: bool,
        png: impl FnOnce() -> Result<png::Reader<Box<dyn Source>>, ImageError>,
    ) -> Result<Rows, ImageError> {
        let rows =
            plain.then(|| IdatRows::new(input.reader().ok()?, shape.row_bytes(), shape.pixel_bytes()).ok()).flatten();
        Ok(match rows {
            Some(rows) => Rows::Plain(Box::new(rows)),
            None => Rows::Png(Box::new(png()?)),
        })
    }
}

impl std::fmt::Debug for StripReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripReader").field("shape", &self.shape).field("next", &self.next).finish_non_exhaustive()
    }
}

impl StripReader {
    /// A reader at row 0, or None when the PNG must be decoded whole.
    fn new(input: Input, limits: Limits) -> Result<Option<Self>, DecodeError> {
        let fail = decode::failure(Format::Png, &limits);
        // The header as the whole-image decoder reads it: same limits, same errors.
        let mut header = ImageReader::with_format(input.reader()?, ImageFormat::Png);
        header.limits(decode::image_limits(&limits));
        let (width, height) = header.into_dimensions().map_err(&fail)?;
        decode::check_dimensions(width, height, &limits)?;

        let reader = png_reader(&input, &limits).map_err(&fail)?;
        if reader.info().interlaced {
            return Ok(None);
        }
        let (layout, depth) = match reader.output_color_type() {
            (png::ColorType::Grayscale, png::BitDepth::Eight) => (Layout::Gray, Depth::U8),
            (png::ColorType::GrayscaleAlpha, png::BitDepth::Eight) => (Layout::GrayAlpha, Depth::U8),
            (png::ColorType::Rgb, png::BitDepth::Eight) => (Layout::Rgb, Depth::U8),
            (png::ColorType::Rgba, png::BitDepth::Eight) => (Layout::Rgba, Depth::U8),
            (png::ColorType::Grayscale, png::BitDepth::Sixteen) => (Layout::Gray, Depth::U16),
            (png::ColorType::GrayscaleAlpha, png::BitDepth::Sixteen) => (Layout::GrayAlpha, Depth::U16),
            (png::ColorType::Rgb, png::BitDepth::Sixteen) => (Layout::Rgb, Depth::U16),
            (png::ColorType::Rgba, png::BitDepth::Sixteen) => (Layout::Rgba, Depth::U16),
            // Whatever the expansion leaves unsupported, the whole-image path refuses.
            _ => return Ok(None),
        };
        let bytes_per_sample = if depth == Depth::U8 { 1 } else { 2 };
        let line = width as usize * layout.channels() * bytes_per_sample;
        // The allocation the whole-image decoder reserves for its output.
        let total = line as u64 * u64::from(height);
        if total > limits.max_alloc() {
            return Err(fail(ImageError::Limits(LimitError::from_kind(LimitErrorKind::InsufficientMemory))));
        }
        if reader.output_line_size(width) != Some(line) {
            return Ok(None);
        }
        let shape = Shape { width, height, layout, depth };
        let info = reader.info();
        let plain = reader.output_color_type() == (info.color_type, info.bit_depth);
        let rows = Rows::open(&input, &shape, plain, || Ok(reader)).map_err(&fail)?;
        Ok(Some(StripReader { rows, input, limits, plain, shape, line, next: 0, scratch: vec![0; line] }))
    }

    /// The image's shape: size, channel layout of the decoded samples, depth.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Samples in one row.
    pub fn row_len(&self) -> usize {
        self.shape.row_len()
    }

    /// The next row the decoder gives without starting over.
    pub fn next_row(&self) -> u32 {
        self.next
    }

    /// A fresh reader of the same input, at row 0.
    pub fn restart(&self) -> Result<StripReader, DecodeError> {
        let rows = Rows::open(&self.input, &self.shape, self.plain, || png_reader(&self.input, &self.limits))
            .map_err(self.failure())?;
        Ok(StripReader { rows, next: 0, scratch: vec![0; self.line], input: self.input.clone(), ..*self })
    }

    /// The samples of rows `y0..y0 + rows`. Rows before `y0` are decoded and
    /// dropped; rows already given are decoded again from the start of the
    /// input. Reading the last row also checks the rest of the image data,
    /// as the whole-image decoder does.
    pub fn rows(&mut self, y0: u32, rows: u32) -> Result<Pixels, DecodeError> {
        let end = y0.checked_add(rows).filter(|&end| end <= self.shape.height).ok_or_else(|| {
            DecodeError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("rows {y0}..+{rows} are outside an image of {} rows", self.shape.height),
            ))
        })?;
        if y0 < self.next {
            *self = self.restart()?;
        }
        while self.next < y0 {
            self.read_row(None)?;
        }
        let pixels = match self.shape.depth {
            Depth::U8 => {
                let mut out = vec![0u8; rows as usize * self.line];
                for row in out.chunks_exact_mut(self.line) {
                    self.read_row(Some(row))?;
                }
                Pixels::U8(out)
            }
            Depth::U16 => {
                let mut out = Vec::with_capacity(rows as usize * self.line / 2);
                for _ in 0..rows {
                    self.read_row(None)?;
                    out.extend(self.scratch.chunks_exact(2).map(|b| u16::from_be_bytes([b[0], b[1]])));
                }
                Pixels::U16(out)
            }
        };
        if end == self.shape.height {
            self.finish_image_data()?;
        }
        Ok(pixels)
    }

    /// The samples of one strip.
    pub fn strip(&mut self, strip: &Strip) -> Result<Pixels, DecodeError> {
        self.rows(strip.y0, strip.rows)
    }

    /// Decodes the next row into `out`, or into the scratch row.
    fn read_row(&mut self, out: Option<&mut [u8]>) -> Result<(), DecodeError> {
        let mut scratch = std::mem::take(&mut self.scratch);
        let read = self.read_row_into(out.unwrap_or(&mut scratch));
        self.scratch = scratch;
        read?;
        self.next += 1;
        Ok(())
    }

    fn read_row_into(&mut self, out: &mut [u8]) -> Result<(), DecodeError> {
        if let Rows::Plain(rows) = &mut self.rows {
            if rows.read_row(out).is_ok() {
                return Ok(());
            }
            self.hand_to_png()?;
        }
        let Rows::Png(reader) = &mut self.rows else { unreachable!("the png decoder took over") };
        png_row(reader, out).map_err(self.failure())
    }

    /// Past the last row: the decoder goes through the rest of the image
    /// data, as the whole-image decoder does.
    fn finish_image_data(&mut self) -> Result<(), DecodeError> {
        if let Rows::Plain(rows) = &mut self.rows {
            if rows.finish().is_ok() {
                return Ok(());
            }
            self.hand_to_png()?;
        }
        let Rows::Png(reader) = &mut self.rows else { unreachable!("the png decoder took over") };
        reader.read_row(&mut self.scratch).map_err(png_error).map_err(self.failure())?;
        Ok(())
    }

    /// The plain reader met something unusual: the `png` decoder goes on
    /// from the same row, and its verdict stands.
    fn hand_to_png(&mut self) -> Result<(), DecodeError> {
        let mut reader = png_reader(&self.input, &self.limits).map_err(self.failure())?;
        let mut row = vec![0; self.line];
        for _ in 0..self.next {
            png_row(&mut reader, &mut row).map_err(self.failure())?;
        }
        self.rows = Rows::Png(Box::new(reader));
        Ok(())
    }

    /// How a decoder error reads, as [`crate::decode`] reads it.
    fn failure(&self) -> impl Fn(ImageError) -> DecodeError + '_ {
        decode::failure(Format::Png, &self.limits)
    }
}

/// A `png` reader set up as the `image` crate sets up its own.
fn png_reader(input: &Input, limits: &Limits) -> Result<png::Reader<Box<dyn Source>>, ImageError> {
    let source = input.reader().map_err(|e| match e {
        DecodeError::Io(e) => ImageError::IoError(e),
        e => ImageError::IoError(std::io::Error::other(e.to_string())),
    })?;
    let max_bytes = usize::try_from(limits.max_alloc()).unwrap_or(usize::MAX);
    let mut decoder = png::Decoder::new_with_limits(source, png::Limits { bytes: max_bytes });
    decoder.set_ignore_text_chunk(false);
    decoder.read_header_info().map_err(png_error)?;
    decoder.set_transformations(png::Transformations::EXPAND);
    decoder.read_info().map_err(png_error)
}

/// The next row from the `png` decoder; running out is an error.
fn png_row(reader: &mut png::Reader<Box<dyn Source>>, out: &mut [u8]) -> Result<(), ImageError> {
    match reader.read_row(out).map_err(png_error)? {
        Some(_) => Ok(()),
        None => Err(ImageError::Decoding(DecodingError::new(
            ImageFormatHint::Exact(ImageFormat::Png),
            "image data ended before the last row",
        ))),
    }
}

/// The `image` crate's reading of a `png` error, so messages match.
fn png_error(err: png::DecodingError) -> ImageError {
    match err {
        png::DecodingError::IoError(e) => ImageError::IoError(e),
        e @ png::DecodingError::Format(_) => {
            ImageError::Decoding(DecodingError::new(ImageFormatHint::Exact(ImageFormat::Png), e))
        }
        e @ png::DecodingError::Parameter(_) => {
            ImageError::Parameter(ParameterError::from_kind(ParameterErrorKind::Generic(e.to_string())))
        }
        png::DecodingError::LimitsExceeded => {
            ImageError::Limits(LimitError::from_kind(LimitErrorKind::InsufficientMemory))
        }
    }
}

#[cfg(test)]
mod tests {
    use histo_core::strips;

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
        crate::encode(&img, Format::Bmp, &crate::png::Settings::default(), &mut bmp).unwrap();
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
        assert_eq!(reader.next_row(), 42);
        assert_eq!(reader.rows(3, 1).unwrap(), Pixels::U16(row(3).to_vec()));
        assert_eq!(reader.rows(49, 1).unwrap(), Pixels::U16(row(49).to_vec()));
        assert!(reader.rows(49, 2).is_err(), "past the last row");
    }
}
