//! A non-interlaced PNG read a band of rows at a time, for [`super`].
//!
//! The samples are exactly those of [`crate::decode`]: the same `png`
//! decoder with the same transformations (palette and low bit depths
//! expanded to 8 bits, tRNS to alpha), 16-bit samples brought from
//! big-endian to native `u16`. Plain image data (nothing to expand) is
//! inflated by the `idat` module instead, which is faster and leaves anything
//! unusual to the `png` decoder, from the row where it stopped.

use histo_core::{Depth, Layout, Pixels, Shape};
use image::error::{DecodingError, ImageFormatHint, LimitError, LimitErrorKind, ParameterError, ParameterErrorKind};
use image::{ImageError, ImageFormat};

use crate::decode::{self, DecodeError};
use crate::format::Format;
use crate::idat::IdatRows;
use crate::input::{Input, Source};
use crate::limits::Limits;

/// A non-interlaced PNG, decoded a band of rows at a time.
pub(crate) struct PngRows {
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

impl PngRows {
    /// A reader at row 0, or None when the PNG must be decoded whole.
    pub(crate) fn new(input: Input, limits: Limits) -> Result<Option<Self>, DecodeError> {
        let fail = decode::failure(Format::Png, &limits);
        let (width, height) = super::check_header(&input, Format::Png, &limits)?;
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
        let shape = Shape { width, height, layout, depth };
        super::check_alloc(&shape, Format::Png, &limits)?;
        let line = shape.row_bytes();
        if reader.output_line_size(width) != Some(line) {
            return Ok(None);
        }
        let info = reader.info();
        let plain = reader.output_color_type() == (info.color_type, info.bit_depth);
        let rows = Rows::open(&input, &shape, plain, || Ok(reader)).map_err(&fail)?;
        Ok(Some(PngRows { rows, input, limits, plain, shape, line, next: 0, scratch: vec![0; line] }))
    }

    /// The image's shape: size, channel layout of the decoded samples, depth.
    pub(crate) fn shape(&self) -> Shape {
        self.shape
    }

    /// The next row the decoder gives without starting over.
    pub(crate) fn next_row(&self) -> u32 {
        self.next
    }

    /// A fresh reader of the same input, at row 0.
    pub(crate) fn restart(&self) -> Result<PngRows, DecodeError> {
        let rows = Rows::open(&self.input, &self.shape, self.plain, || png_reader(&self.input, &self.limits))
            .map_err(self.failure())?;
        Ok(PngRows { rows, next: 0, scratch: vec![0; self.line], input: self.input.clone(), ..*self })
    }

    /// The samples of rows `y0..y0 + rows` (inside the image). Rows before
    /// `y0` are decoded and dropped; rows already given are decoded again
    /// from the start of the input. Reading the last row also checks the
    /// rest of the image data, as the whole-image decoder does.
    pub(crate) fn rows(&mut self, y0: u32, rows: u32) -> Result<Pixels, DecodeError> {
        let end = y0 + rows;
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
