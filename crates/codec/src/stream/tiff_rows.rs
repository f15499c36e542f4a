//! A TIFF read a band of rows at a time: a band is one strip, or one row of
//! tiles, so what is held is one band, never the image. Bands are found by
//! their offsets, so rows can be read in any order without starting over.
//!
//! The samples are those of [`crate::decode`]: the same `tiff` decoder
//! expands each chunk (decompression, predictor, byte order), and only the
//! layouts that decoder hands over unchanged are read here (chunky 8 or
//! 16-bit unsigned gray, gray+alpha, RGB, RGBA); anything else is decoded
//! whole.

use histo_core::{Depth, Layout, Pixels, Shape};
use image::error::{DecodingError, ImageFormatHint, LimitError, LimitErrorKind};
use image::{ImageError, ImageFormat};
use tiff::decoder::{ChunkType, Decoder, DecodingResult};
use tiff::tags::Tag;
use tiff::{ColorType, TiffError};

use crate::decode::{self, DecodeError};
use crate::format::Format;
use crate::input::{Input, Source};
use crate::limits::Limits;

/// A TIFF's rows, band by band.
pub(crate) struct TiffRows {
    input: Input,
    decoder: Decoder<Box<dyn Source>>,
    limits: Limits,
    shape: Shape,
    /// Rows of every band but perhaps the last.
    band_rows: u32,
    /// Chunks across one band: 1 for strips, tiles across for tiles.
    across: u32,
    /// Width of a tile (the image's width for strips).
    chunk_width: u32,
    /// The band decoded last, and its samples.
    band: Option<(u32, Pixels)>,
}

impl TiffRows {
    /// A reader of `input`'s first image, or None when it must be decoded
    /// whole.
    pub(crate) fn new(input: &Input, limits: Limits) -> Result<Option<TiffRows>, DecodeError> {
        super::check_header(input, Format::Tiff, &limits)?;
        let fail = decode::failure(Format::Tiff, &limits);
        let tiff = |e: TiffError| fail(image_error(e));
        let mut decoder = open_decoder(input, &limits)?;
        let (width, height) = decoder.dimensions().map_err(tiff)?;
        let (layout, depth) = match decoder.colortype().map_err(tiff)? {
            ColorType::Gray(8) => (Layout::Gray, Depth::U8),
            ColorType::GrayA(8) => (Layout::GrayAlpha, Depth::U8),
            ColorType::RGB(8) => (Layout::Rgb, Depth::U8),
            ColorType::RGBA(8) => (Layout::Rgba, Depth::U8),
            ColorType::Gray(16) => (Layout::Gray, Depth::U16),
            ColorType::GrayA(16) => (Layout::GrayAlpha, Depth::U16),
            ColorType::RGB(16) => (Layout::Rgb, Depth::U16),
            ColorType::RGBA(16) => (Layout::Rgba, Depth::U16),
            // Bilevel, palette, CMYK, YCbCr, floats: converted or refused whole.
            _ => return Ok(None),
        };
        let unsigned = decoder.find_tag_unsigned_vec::<u16>(Tag::SampleFormat).map_err(tiff)?;
        let planar = decoder.find_tag_unsigned::<u16>(Tag::PlanarConfiguration).map_err(tiff)?;
        if unsigned.is_some_and(|formats| formats.iter().any(|&f| f != 1)) || planar.is_some_and(|p| p != 1) {
            return Ok(None);
        }
        let (chunk_width, chunk_height) = decoder.chunk_dimensions();
        if chunk_width == 0 || chunk_height == 0 {
            return Ok(None);
        }
        let (band_rows, across) = match decoder.get_chunk_type() {
            ChunkType::Strip => (chunk_height.min(height), 1),
            ChunkType::Tile => (chunk_height, width.div_ceil(chunk_width)),
        };
        let shape = Shape { width, height, layout, depth };
        super::check_alloc(&shape, Format::Tiff, &limits)?;
        Ok(Some(TiffRows { input: input.clone(), decoder, limits, shape, band_rows, across, chunk_width, band: None }))
    }

    /// A fresh reader of the same input (its own file handle).
    pub(crate) fn restart(&self) -> Result<TiffRows, DecodeError> {
        Ok(TiffRows {
            input: self.input.clone(),
            decoder: open_decoder(&self.input, &self.limits)?,
            band: None,
            ..*self
        })
    }

    /// The image's shape.
    pub(crate) fn shape(&self) -> Shape {
        self.shape
    }

    /// The samples of rows `y0..y0 + rows` (inside the image).
    pub(crate) fn rows(&mut self, y0: u32, rows: u32) -> Result<Pixels, DecodeError> {
        let row_len = self.shape.row_len();
        let mut out = match self.shape.depth {
            Depth::U8 => Pixels::U8(Vec::with_capacity(rows as usize * row_len)),
            Depth::U16 => Pixels::U16(Vec::with_capacity(rows as usize * row_len)),
        };
        let mut y = y0;
        while y < y0 + rows {
            let band = y / self.band_rows;
            let band_y0 = band * self.band_rows;
            let upto = (y0 + rows).min(band_y0 + self.band_rows);
            let samples = self.band(band)?;
            let range = (y - band_y0) as usize * row_len..(upto - band_y0) as usize * row_len;
            match (&mut out, samples) {
                (Pixels::U8(out), Pixels::U8(band)) => out.extend_from_slice(&band[range]),
                (Pixels::U16(out), Pixels::U16(band)) => out.extend_from_slice(&band[range]),
                _ => unreachable!("a band has the image's depth"),
            }
            y = upto;
        }
        Ok(out)
    }

    /// Band `index`, decoded now unless it was the last one decoded.
    fn band(&mut self, index: u32) -> Result<&Pixels, DecodeError> {
        if self.band.as_ref().is_none_or(|(held, _)| *held != index) {
            self.band = None;
            let samples = self.decode_band(index)?;
            self.band = Some((index, samples));
        }
        Ok(&self.band.as_ref().expect("just decoded").1)
    }

    fn decode_band(&mut self, index: u32) -> Result<Pixels, DecodeError> {
        let Shape { width, height, .. } = self.shape;
        let rows = self.band_rows.min(height - index * self.band_rows);
        let channels = self.shape.layout.channels();
        let row_len = self.shape.row_len();
        let mut band = match self.shape.depth {
            Depth::U8 => Pixels::U8(vec![0; rows as usize * row_len]),
            Depth::U16 => Pixels::U16(vec![0; rows as usize * row_len]),
        };
        for across in 0..self.across {
            let chunk = index * self.across + across;
            let decoded = self.decoder.read_chunk(chunk).map_err(|e| self.failure(e))?;
            let x0 = (across * self.chunk_width) as usize * channels;
            let chunk_len = (self.chunk_width.min(width - across * self.chunk_width)) as usize * channels;
            let wrong = || self.failure(TiffError::FormatError(tiff::TiffFormatError::InconsistentSizesEncountered));
            match (&mut band, decoded) {
                (Pixels::U8(band), DecodingResult::U8(chunk)) => place(band, &chunk, row_len, x0, chunk_len, rows),
                (Pixels::U16(band), DecodingResult::U16(chunk)) => place(band, &chunk, row_len, x0, chunk_len, rows),
                _ => false,
            }
            .then_some(())
            .ok_or_else(wrong)?;
        }
        Ok(band)
    }

    fn failure(&self, e: TiffError) -> DecodeError {
        decode::failure(Format::Tiff, &self.limits)(image_error(e))
    }
}

/// Copies a chunk of `rows` rows of `chunk_len` samples into the band at
/// sample `x0` of each row; false if the chunk has another size.
fn place<T: Copy>(band: &mut [T], chunk: &[T], row_len: usize, x0: usize, chunk_len: usize, rows: u32) -> bool {
    if chunk.len() != chunk_len * rows as usize {
        return false;
    }
    for (dst, src) in band.chunks_exact_mut(row_len).zip(chunk.chunks_exact(chunk_len)) {
        dst[x0..x0 + chunk_len].copy_from_slice(src);
    }
    true
}

/// A `tiff` decoder of `input` at its first image, within `limits`.
fn open_decoder(input: &Input, limits: &Limits) -> Result<Decoder<Box<dyn Source>>, DecodeError> {
    let decoder =
        Decoder::new(input.seeking_reader()?).map_err(|e| decode::failure(Format::Tiff, limits)(image_error(e)))?;
    Ok(decoder.with_limits(tiff_limits(limits)))
}

/// The `tiff` decoder's limits: a chunk may take what the whole image may.
fn tiff_limits(limits: &Limits) -> tiff::decoder::Limits {
    let most = usize::try_from(limits.max_alloc()).unwrap_or(usize::MAX);
    let mut tiff = tiff::decoder::Limits::default();
    tiff.decoding_buffer_size = most;
    tiff.intermediate_buffer_size = most;
    tiff
}

/// A `tiff` error as the `image` crate reads it, so that limits stay limits.
fn image_error(e: TiffError) -> ImageError {
    match e {
        TiffError::LimitsExceeded => ImageError::Limits(LimitError::from_kind(LimitErrorKind::InsufficientMemory)),
        TiffError::IoError(e) => ImageError::IoError(e),
        e => ImageError::Decoding(DecodingError::new(ImageFormatHint::Exact(ImageFormat::Tiff), e)),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use histo_core::Image;
    use tiff::encoder::compression::DeflateLevel;
    use tiff::encoder::{Compression, Predictor, TiffEncoder, colortype};

    use super::*;
    use crate::decode::decode;
    use crate::stream::{Opened, open};

    /// Deterministic samples for an image of `shape`.
    fn samples(width: u32, height: u32, channels: usize) -> Vec<u16> {
        (0..width as usize * height as usize * channels).map(|i| ((i * 7919 + i / 13) % 65_521) as u16).collect()
    }

    /// A striped TIFF written by the `tiff` crate.
    fn striped<C: colortype::ColorType>(
        w: u32,
        h: u32,
        data: &[C::Inner],
        rows: u32,
        compression: Compression,
    ) -> Vec<u8>
    where
        [C::Inner]: tiff::encoder::TiffValue,
    {
        let mut out = Cursor::new(Vec::new());
        let predictor =
            if matches!(compression, Compression::Uncompressed) { Predictor::None } else { Predictor::Horizontal };
        let mut encoder = TiffEncoder::new(&mut out).unwrap().with_compression(compression).with_predictor(predictor);
        let mut image = encoder.new_image::<C>(w, h).unwrap();
        image.rows_per_strip(rows).unwrap();
        image.write_data(data).unwrap();
        out.into_inner()
    }

    /// A tiled 8-bit TIFF (the `tiff` crate writes no tiles): tiles of
    /// `tile`² samples, padded with junk past the image's edges, raw or
    /// Deflate.
    fn tiled(w: u32, h: u32, channels: u16, data: &[u8], tile: u32, deflate: bool) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut encoder = TiffEncoder::new(&mut out).unwrap();
        let mut dir = encoder.image_directory().unwrap();
        let (across, down) = (w.div_ceil(tile), h.div_ceil(tile));
        let (mut offsets, mut counts) = (Vec::new(), Vec::new());
        for ty in 0..down {
            for tx in 0..across {
                let mut chunk = Vec::new();
                for y in ty * tile..(ty + 1) * tile {
                    for x in tx * tile..(tx + 1) * tile {
                        for c in 0..channels as usize {
                            let inside = x < w && y < h;
                            let i = (y as usize * w as usize + x as usize) * channels as usize + c;
                            chunk.push(if inside { data[i] } else { 0xA5 });
                        }
                    }
                }
                if deflate {
                    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                    z.write_all(&chunk).unwrap();
                    chunk = z.finish().unwrap();
                }
                counts.push(chunk.len() as u32);
                offsets.push(dir.write_data(&chunk[..]).unwrap() as u32);
            }
        }
        dir.write_tag(Tag::ImageWidth, w).unwrap();
        dir.write_tag(Tag::ImageLength, h).unwrap();
        dir.write_tag(Tag::BitsPerSample, &vec![8u16; channels as usize][..]).unwrap();
        dir.write_tag(Tag::Compression, if deflate { 8u16 } else { 1 }).unwrap();
        dir.write_tag(Tag::PhotometricInterpretation, if channels >= 3 { 2u16 } else { 1 }).unwrap();
        dir.write_tag(Tag::SamplesPerPixel, channels).unwrap();
        if channels == 2 || channels == 4 {
            dir.write_tag(Tag::ExtraSamples, 2u16).unwrap();
        }
        dir.write_tag(Tag::TileWidth, tile).unwrap();
        dir.write_tag(Tag::TileLength, tile).unwrap();
        dir.write_tag(Tag::TileOffsets, &offsets[..]).unwrap();
        dir.write_tag(Tag::TileByteCounts, &counts[..]).unwrap();
        dir.finish().unwrap();
        out.into_inner()
    }

    /// Every row of `bytes`, read in strips of `rows` rows, last strip first.
    fn by_rows(bytes: &[u8], rows: u32) -> Result<Image, DecodeError> {
        let Opened::Strips(mut reader) = open(&Input::from(bytes.to_vec()), &Limits::CLI)? else {
            panic!("expected a row reader")
        };
        assert_eq!(reader.format(), Format::Tiff);
        let shape = reader.shape();
        let starts: Vec<u32> = (0..shape.height).step_by(rows as usize).collect();
        let mut parts = vec![None; starts.len()];
        for (i, &y0) in starts.iter().enumerate().rev() {
            parts[i] = Some(reader.rows(y0, rows.min(shape.height - y0))?);
        }
        let pixels = parts.into_iter().map(Option::unwrap).reduce(|all, part| match (all, part) {
            (Pixels::U8(mut a), Pixels::U8(b)) => {
                a.extend(b);
                Pixels::U8(a)
            }
            (Pixels::U16(mut a), Pixels::U16(b)) => {
                a.extend(b);
                Pixels::U16(a)
            }
            _ => panic!("depth changed between strips"),
        });
        let pixels = pixels.unwrap();
        Ok(Image::new(shape.width, shape.height, shape.layout, pixels).unwrap())
    }

    fn check(name: &str, bytes: &[u8]) {
        let (whole, format) = decode(bytes, &Limits::CLI).unwrap();
        assert_eq!(format, Format::Tiff);
        for rows in [1, 3, 16, 1000] {
            assert_eq!(by_rows(bytes, rows).unwrap(), whole, "{name}, strips of {rows} rows");
        }
    }

    #[test]
    fn strips_of_any_size_give_the_samples_of_the_whole_image_decoder() {
        let (w, h) = (37, 23);
        let wide = samples(w, h, 4);
        let narrow: Vec<u8> = wide.iter().map(|&v| v as u8).collect();
        for (compression, tag) in [
            (Compression::Uncompressed, "raw"),
            (Compression::Lzw, "lzw"),
            (Compression::Deflate(DeflateLevel::Fast), "deflate"),
        ] {
            for rows in [1, 5, 23] {
                let name = format!("{tag}, {rows} rows per strip");
                check(
                    &format!("gray 8 {name}"),
                    &striped::<colortype::Gray8>(w, h, &narrow[..37 * 23], rows, compression),
                );
                check(
                    &format!("rgb 8 {name}"),
                    &striped::<colortype::RGB8>(w, h, &narrow[..37 * 23 * 3], rows, compression),
                );
                check(&format!("rgba 8 {name}"), &striped::<colortype::RGBA8>(w, h, &narrow, rows, compression));
                check(
                    &format!("gray 16 {name}"),
                    &striped::<colortype::Gray16>(w, h, &wide[..37 * 23], rows, compression),
                );
                check(
                    &format!("rgb 16 {name}"),
                    &striped::<colortype::RGB16>(w, h, &wide[..37 * 23 * 3], rows, compression),
                );
            }
        }
    }

    #[test]
    fn tiles_cropped_at_the_edges_give_the_samples_of_the_whole_image_decoder() {
        let (w, h) = (37, 23);
        let data: Vec<u8> = samples(w, h, 4).iter().map(|&v| (v >> 3) as u8).collect();
        for channels in [1u16, 3, 4] {
            let data = &data[..(w * h) as usize * channels as usize];
            for deflate in [false, true] {
                let bytes = tiled(w, h, channels, data, 16, deflate);
                check(&format!("{channels} channels, tiles of 16, deflate {deflate}"), &bytes);
            }
        }
    }

    #[test]
    fn what_needs_a_conversion_is_decoded_whole() {
        // CMYK: the whole-image decoder converts it to RGB.
        let data = vec![7u8; 4 * 3 * 4];
        let bytes = striped::<colortype::CMYK8>(4, 3, &data, 2, Compression::Uncompressed);
        let Opened::Whole(image, Format::Tiff) = open(&Input::from(bytes), &Limits::CLI).unwrap() else {
            panic!("CMYK should be decoded whole")
        };
        assert_eq!(image.layout(), Layout::Rgb);
    }

    #[test]
    fn broken_and_oversized_tiffs_are_refused_as_the_whole_image_decoder_refuses_them() {
        let data: Vec<u8> = (0..300 * 200).map(|i| (i % 251) as u8).collect();
        let bytes = striped::<colortype::Gray8>(300, 200, &data, 16, Compression::Uncompressed);
        // Cut inside the strips (the directory comes after them): its
        // offsets point past the end.
        let cut = tiled(300, 200, 1, &data, 32, true);
        for broken in [&cut[..cut.len() / 2], &bytes[..8]] {
            let whole = decode(broken, &Limits::CLI).unwrap_err();
            let streamed = by_rows(broken, 7).unwrap_err();
            assert!(matches!(whole, DecodeError::Corrupt { format: Format::Tiff, .. }), "{whole}");
            assert!(matches!(streamed, DecodeError::Corrupt { format: Format::Tiff, .. }), "{streamed}");
        }
        let limits = Limits { max_pixels: 300 * 200 - 1, ..Limits::CLI };
        let whole = decode(&bytes, &limits).unwrap_err();
        let Err(streamed) = open(&Input::from(bytes), &limits) else { panic!("over the pixel limit") };
        assert_eq!(streamed.to_string(), whole.to_string());
    }
}
