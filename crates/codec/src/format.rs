//! The file formats histo reads and writes.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// A supported image file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// PNG: 8/16-bit, gray or colour, with alpha. Lossless.
    Png,
    /// JPEG: 8-bit gray or colour, no alpha. Lossy.
    Jpeg,
    /// TIFF: 8/16-bit. Lossless.
    Tiff,
    /// BMP: 8-bit. Uncompressed.
    Bmp,
    /// WebP: 8-bit; written lossless.
    WebP,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 5] = [Format::Png, Format::Jpeg, Format::Tiff, Format::Bmp, Format::WebP];

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpeg",
            Format::Tiff => "tiff",
            Format::Bmp => "bmp",
            Format::WebP => "webp",
        }
    }

    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Tiff => "image/tiff",
            Format::Bmp => "image/bmp",
            Format::WebP => "image/webp",
        }
    }

    /// The format a file name's extension names, if any.
    pub fn from_path(path: &Path) -> Option<Format> {
        path.extension()?.to_str()?.parse().ok()
    }

    pub(crate) fn from_image(f: image::ImageFormat) -> Option<Format> {
        use image::ImageFormat as F;
        match f {
            F::Png => Some(Format::Png),
            F::Jpeg => Some(Format::Jpeg),
            F::Tiff => Some(Format::Tiff),
            F::Bmp => Some(Format::Bmp),
            F::WebP => Some(Format::WebP),
            _ => None,
        }
    }

    pub(crate) fn to_image(self) -> image::ImageFormat {
        use image::ImageFormat as F;
        match self {
            Format::Png => F::Png,
            Format::Jpeg => F::Jpeg,
            Format::Tiff => F::Tiff,
            Format::Bmp => F::Bmp,
            Format::WebP => F::WebP,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name histo does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported format '{0}' (expected png, jpeg, tiff, bmp or webp)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "png" => Ok(Format::Png),
            "jpg" | "jpeg" => Ok(Format::Jpeg),
            "tif" | "tiff" => Ok(Format::Tiff),
            "bmp" => Ok(Format::Bmp),
            "webp" => Ok(Format::WebP),
            _ => Err(UnknownFormat(s.to_owned())),
        }
    }
}
