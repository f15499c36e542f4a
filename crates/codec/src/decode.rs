//! Decoding an upload or a file into an [`Image`], within [`Limits`].

use std::io::{Cursor, Read};

use histo_core::{Image, Layout, Pixels};
use image::{DynamicImage, ImageReader};

use crate::format::Format;
use crate::limits::Limits;

/// Why input could not be decoded. Each kind maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// More bytes than allowed (413).
    #[error("input is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// Empty input (415).
    #[error("input is empty")]
    Empty,
    /// Not one of the supported formats (415).
    #[error("not a supported image (expected PNG, JPEG, TIFF, BMP or WebP)")]
    NotAnImage,
    /// The header declares an image over the limits (422).
    #[error("image of {width}x{height} exceeds the limits ({limits})")]
    Dimensions {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The limits, spelled out.
        limits: String,
    },
    /// Decoding would need more memory than the limits allow (422).
    #[error("image exceeds the limits ({limits}): {reason}")]
    OverLimits {
        /// What the decoder said.
        reason: String,
        /// The limits, spelled out.
        limits: String,
    },
    /// The file is truncated or corrupt (422).
    #[error("cannot decode {format} image: {reason}")]
    Corrupt {
        /// The format it claimed to be.
        format: Format,
        /// What the decoder said.
        reason: String,
    },
    /// Reading the input failed.
    #[error("cannot read input: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads all of `reader`, refusing more than `limits.max_input_bytes`.
pub fn read_limited(reader: impl Read, limits: &Limits) -> Result<Vec<u8>, DecodeError> {
    let mut bytes = Vec::new();
    reader.take(limits.max_input_bytes.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limits.max_input_bytes {
        return Err(DecodeError::TooLarge { limit: limits.max_input_bytes });
    }
    Ok(bytes)
}

/// Decodes `bytes`, whose format is recognised by content, never by name.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<(Image, Format), DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if bytes.len() as u64 > limits.max_input_bytes {
        return Err(DecodeError::TooLarge { limit: limits.max_input_bytes });
    }
    let format = guess_format(bytes)?;
    let whole = limits.whole();
    let fail = failure(format, limits);
    let reader = || {
        let mut r = ImageReader::with_format(Cursor::new(bytes), format.to_image());
        r.limits(image_limits(&whole));
        r
    };
    // The header alone first: a bomb is refused before any pixel is decoded.
    let (width, height) = reader().into_dimensions().map_err(&fail)?;
    check_whole_dimensions(width, height, limits)?;
    // The JPEG decoder is lenient, as browsers are: it fills what a file
    // lacks with gray. A file cut short is refused instead of equalized.
    if format == Format::Jpeg && !jpeg_is_complete(bytes) {
        return Err(DecodeError::Corrupt { format, reason: "truncated: no end-of-image marker after the scan".into() });
    }
    if format == Format::Jpeg
        && let Some(image) = crate::stream::jpeg_rows::decode_whole(bytes, &whole)?
    {
        return Ok((image, format));
    }
    let decoded = reader().decode().map_err(fail)?;
    Ok((from_dynamic(decoded), format))
}

/// Whether a JPEG has an end-of-image marker (`FF D9`) after its first
/// start-of-scan: the markers before the scan are walked by their lengths
/// (an embedded thumbnail's own `FF D9` does not count); in entropy-coded
/// data a 0xFF byte is always followed by 0x00 or a restart marker, so the
/// first `FF D9` after the scan starts is a marker.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let mut at = 2; // after SOI
    loop {
        // Fill bytes (0xFF) may precede a marker.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let (Some(0xFF), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) else { return false };
        at += 2;
        match marker {
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => continue,
            0xD9 => return false, // EOI before any scan
            _ => {}
        }
        let Some(len) = bytes.get(at..at + 2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]]))) else {
            return false;
        };
        at += len;
        if marker == 0xDA {
            return bytes.get(at..).is_some_and(|scan| scan.windows(2).any(|w| w == [0xFF, 0xD9]));
        }
    }
}

/// The format `head` (the input's first bytes) announces.
pub(crate) fn guess_format(head: &[u8]) -> Result<Format, DecodeError> {
    // BigTIFF (64-bit offsets): the `image` crate's sniffing does not know
    // its header, though its TIFF decoder reads it.
    if head.starts_with(b"II\x2b\x00") || head.starts_with(b"MM\x00\x2b") {
        return Ok(Format::Tiff);
    }
    image::guess_format(head).ok().and_then(Format::from_image).ok_or(DecodeError::NotAnImage)
}

/// The `image` crate's limits for ours.
pub(crate) fn image_limits(limits: &Limits) -> image::Limits {
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_width);
    l.max_image_height = Some(limits.max_height);
    l.max_alloc = Some(limits.max_alloc());
    l
}

/// How a decoder's error reads: its own limit errors are the same refusal
/// as ours, anything else means the file is broken.
pub(crate) fn failure(format: Format, limits: &Limits) -> impl Fn(image::ImageError) -> DecodeError + '_ {
    move |e| match e {
        image::ImageError::Limits(e) => DecodeError::OverLimits { reason: e.to_string(), limits: describe(limits) },
        e => DecodeError::Corrupt { format, reason: e.to_string() },
    }
}

pub(crate) fn check_dimensions(width: u32, height: u32, limits: &Limits) -> Result<(), DecodeError> {
    let pixels = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 || width > limits.max_width || height > limits.max_height || pixels > limits.max_pixels
    {
        return Err(DecodeError::Dimensions { width, height, limits: describe(limits) });
    }
    Ok(())
}

/// As [`check_dimensions`], for an image decoded whole: over
/// `max_whole_pixels` is refused too, and the error says so.
pub(crate) fn check_whole_dimensions(width: u32, height: u32, limits: &Limits) -> Result<(), DecodeError> {
    check_dimensions(width, height, limits)?;
    if u64::from(width) * u64::from(height) > limits.max_whole_pixels {
        let limits = format!(
            "at most {} pixels for an image decoded whole, not read a strip at a time (--max-whole-pixels)",
            limits.max_whole_pixels
        );
        return Err(DecodeError::Dimensions { width, height, limits });
    }
    Ok(())
}

fn describe(l: &Limits) -> String {
    format!(
        "at most {}x{}, {} pixels read a strip at a time and {} decoded whole \
         (--max-width, --max-height, --max-pixels, --max-whole-pixels)",
        l.max_width,
        l.max_height,
        l.max_pixels,
        l.max_pixels.min(l.max_whole_pixels)
    )
}

/// Converts the decoder's image into histo's, keeping depth and alpha.
fn from_dynamic(img: DynamicImage) -> Image {
    let (w, h) = (img.width(), img.height());
    let (layout, pixels) = match img {
        DynamicImage::ImageLuma8(b) => (Layout::Gray, Pixels::U8(b.into_raw())),
        DynamicImage::ImageLumaA8(b) => (Layout::GrayAlpha, Pixels::U8(b.into_raw())),
        DynamicImage::ImageRgb8(b) => (Layout::Rgb, Pixels::U8(b.into_raw())),
        DynamicImage::ImageRgba8(b) => (Layout::Rgba, Pixels::U8(b.into_raw())),
        DynamicImage::ImageLuma16(b) => (Layout::Gray, Pixels::U16(b.into_raw())),
        DynamicImage::ImageLumaA16(b) => (Layout::GrayAlpha, Pixels::U16(b.into_raw())),
        DynamicImage::ImageRgb16(b) => (Layout::Rgb, Pixels::U16(b.into_raw())),
        DynamicImage::ImageRgba16(b) => (Layout::Rgba, Pixels::U16(b.into_raw())),
        // Float images (e.g. some TIFFs) are brought to 16-bit integer levels.
        other if other.color().has_alpha() => (Layout::Rgba, Pixels::U16(other.into_rgba16().into_raw())),
        other => (Layout::Rgb, Pixels::U16(other.into_rgb16().into_raw())),
    };
    Image::new(w, h, layout, pixels).expect("decoder output matches its dimensions")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(v: &mut Vec<u8>, kind_and_data: &[u8]) {
        v.extend_from_slice(&(kind_and_data.len() as u32 - 4).to_be_bytes());
        v.extend_from_slice(kind_and_data);
        v.extend_from_slice(&crc32fast::hash(kind_and_data).to_be_bytes());
    }

    /// A PNG that declares its size and then stops in its first IDAT.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
        chunk(&mut v, &ihdr);
        chunk(&mut v, b"IDAT\x78\x01");
        v
    }

    #[test]
    fn a_bomb_header_is_refused_before_decoding() {
        let err = decode(&png_header(100_000, 100_000), &Limits::CLI).unwrap_err();
        assert!(matches!(err, DecodeError::Dimensions { width: 100_000, .. }), "{err}");
    }

    #[test]
    fn truncated_png_is_corrupt() {
        let err = decode(&png_header(4, 4), &Limits::CLI).unwrap_err();
        assert!(matches!(err, DecodeError::Corrupt { format: Format::Png, .. }), "{err}");
    }

    #[test]
    fn a_jpeg_cut_short_is_corrupt_and_a_whole_one_decodes() {
        let pixels = (0..32 * 24 * 3).map(|i| (i * 7 % 251) as u8).collect();
        let image = Image::new(32, 24, Layout::Rgb, Pixels::U8(pixels)).unwrap();
        let mut jpeg = Cursor::new(Vec::new());
        crate::encode(&image, Format::Jpeg, &Default::default(), &mut jpeg).unwrap();
        let jpeg = jpeg.into_inner();
        assert!(jpeg_is_complete(&jpeg));
        assert_eq!(decode(&jpeg, &Limits::CLI).unwrap().0.width(), 32);
        // Trailing bytes after the end are fine (cameras append data).
        let mut trailing = jpeg.clone();
        trailing.extend_from_slice(b"trailing data");
        assert!(decode(&trailing, &Limits::CLI).is_ok());
        for cut in [jpeg.len() - 2, jpeg.len() * 2 / 3, 200, 4] {
            let err = decode(&jpeg[..cut], &Limits::CLI).unwrap_err();
            assert!(matches!(err, DecodeError::Corrupt { format: Format::Jpeg, .. }), "cut at {cut}: {err}");
        }
    }

    #[test]
    fn text_is_not_an_image() {
        assert!(matches!(decode(b"hello world", &Limits::CLI), Err(DecodeError::NotAnImage)));
        assert!(matches!(decode(b"", &Limits::CLI), Err(DecodeError::Empty)));
    }

    #[test]
    fn input_over_the_byte_limit_is_refused() {
        let limits = Limits { max_input_bytes: 10, ..Limits::CLI };
        assert!(matches!(read_limited(&[0u8; 11][..], &limits), Err(DecodeError::TooLarge { limit: 10 })));
        assert_eq!(read_limited(&[0u8; 10][..], &limits).unwrap().len(), 10);
    }
}
