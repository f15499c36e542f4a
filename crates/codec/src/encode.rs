//! Encoding an [`Image`] into any supported format.
//!
//! PNG uses histo's strip-parallel encoder, TIFF and JPEG their row
//! writers ([`crate::tiff_writer`], [`crate::jpeg_writer`]); BMP and WebP
//! use the `image` crate's encoders, after bringing the image into a form
//! the format can hold (8-bit only).

use std::io::{self, Seek, Write};

use histo_core::{Image, Layout, Pixels};
use image::{DynamicImage, ImageBuffer};

use crate::format::Format;
use crate::settings::EncodeSettings;
use crate::{jpeg_writer, png, tiff_writer};

/// Why an image could not be written.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// Writing failed.
    #[error("cannot write image: {0}")]
    Io(#[from] io::Error),
    /// The encoder refused the image.
    #[error("cannot encode {format}: {reason}")]
    Encoder {
        /// The format.
        format: Format,
        /// What the encoder said.
        reason: String,
    },
}

/// Writes `image` as `format`.
pub fn encode(
    image: &Image,
    format: Format,
    settings: &EncodeSettings,
    out: impl Write + Seek,
) -> Result<(), EncodeError> {
    if format == Format::Png {
        return Ok(png::encode(image, &settings.png, io::BufWriter::with_capacity(1 << 20, out))?);
    }
    if format == Format::Tiff {
        let mut out = io::BufWriter::with_capacity(1 << 20, out);
        tiff_writer::write(&mut out, &image.shape(), settings.tiff, [image.pixels()])?;
        return Ok(out.flush()?);
    }
    if format == Format::Jpeg {
        let mut out = io::BufWriter::with_capacity(1 << 20, out);
        jpeg_writer::write(&mut out, &image.shape(), settings.jpeg_quality, [image.pixels()])?;
        return Ok(out.flush()?);
    }
    let dynamic = to_dynamic(image, format);
    let fail = |e: image::ImageError| match e {
        image::ImageError::IoError(e) => EncodeError::Io(e),
        e => EncodeError::Encoder { format, reason: e.to_string() },
    };
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    dynamic.write_to(&mut out, format.to_image()).map_err(fail)?;
    out.flush()?;
    Ok(())
}

/// The image in a form `format` can store.
fn to_dynamic(image: &Image, format: Format) -> DynamicImage {
    let (w, h) = (image.width(), image.height());
    let dynamic = match (image.layout(), image.pixels().clone()) {
        (Layout::Gray, Pixels::U8(v)) => DynamicImage::ImageLuma8(ImageBuffer::from_raw(w, h, v).expect("shape")),
        (Layout::GrayAlpha, Pixels::U8(v)) => DynamicImage::ImageLumaA8(ImageBuffer::from_raw(w, h, v).expect("shape")),
        (Layout::Rgb, Pixels::U8(v)) => DynamicImage::ImageRgb8(ImageBuffer::from_raw(w, h, v).expect("shape")),
        (Layout::Rgba, Pixels::U8(v)) => DynamicImage::ImageRgba8(ImageBuffer::from_raw(w, h, v).expect("shape")),
        (Layout::Gray, Pixels::U16(v)) => DynamicImage::ImageLuma16(ImageBuffer::from_raw(w, h, v).expect("shape")),
        (Layout::GrayAlpha, Pixels::U16(v)) => {
            DynamicImage::ImageLumaA16(ImageBuffer::from_raw(w, h, v).expect("shape"))
        }
        (Layout::Rgb, Pixels::U16(v)) => DynamicImage::ImageRgb16(ImageBuffer::from_raw(w, h, v).expect("shape")),
        (Layout::Rgba, Pixels::U16(v)) => DynamicImage::ImageRgba16(ImageBuffer::from_raw(w, h, v).expect("shape")),
    };
    let gray = !image.layout().is_color();
    match format {
        // PNG, TIFF and JPEG have their own encoders.
        Format::Png | Format::Tiff | Format::Jpeg => dynamic,
        Format::Bmp | Format::WebP => match (gray, image.layout().has_alpha()) {
            (true, false) if format == Format::Bmp => DynamicImage::ImageLuma8(dynamic.into_luma8()),
            (_, true) => DynamicImage::ImageRgba8(dynamic.into_rgba8()),
            (_, false) => DynamicImage::ImageRgb8(dynamic.into_rgb8()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, decode};

    #[test]
    fn every_layout_and_depth_encodes_in_every_format() {
        // Found by the fuzz target: TIFF refused gray+alpha.
        for layout in [Layout::Gray, Layout::GrayAlpha, Layout::Rgb, Layout::Rgba] {
            let n = 5 * 3 * layout.channels();
            for pixels in
                [Pixels::U8((0..n).map(|i| i as u8).collect()), Pixels::U16((0..n).map(|i| i as u16 * 999).collect())]
            {
                let img = Image::new(5, 3, layout, pixels).unwrap();
                for format in Format::ALL {
                    let mut out = io::Cursor::new(Vec::new());
                    encode(&img, format, &EncodeSettings::default(), &mut out)
                        .unwrap_or_else(|e| panic!("{layout:?} {:?} as {format}: {e}", img.depth()));
                    let (back, _) = decode(out.get_ref(), &Limits::CLI).unwrap();
                    assert_eq!((back.width(), back.height()), (5, 3));
                }
            }
        }
    }

    #[test]
    fn every_format_round_trips_through_the_decoder() {
        let data: Vec<u8> = (0..32 * 16 * 3).map(|i| (i % 256) as u8).collect();
        let img = Image::new(32, 16, Layout::Rgb, Pixels::U8(data)).unwrap();
        for format in Format::ALL {
            let mut out = io::Cursor::new(Vec::new());
            encode(&img, format, &EncodeSettings::default(), &mut out).unwrap();
            let (back, got) = decode(out.get_ref(), &Limits::CLI).unwrap();
            assert_eq!(got, format);
            assert_eq!((back.width(), back.height()), (32, 16), "{format}");
            if format != Format::Jpeg {
                assert_eq!(back.pixels(), img.pixels(), "{format} is lossless");
            }
        }
    }
}
