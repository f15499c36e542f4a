//! What a user chooses about how output is written: PNG compression, TIFF
//! compression and JPEG quality, carried as one value from the command line
//! (or a server's configuration) to every writer, local or on the cluster.

use std::fmt;
use std::str::FromStr;

use crate::png;

/// How each output format is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EncodeSettings {
    /// PNG level and row filter.
    pub png: png::Settings,
    /// TIFF strip compression.
    pub tiff: TiffCompression,
    /// JPEG quality.
    pub jpeg_quality: JpegQuality,
}

/// How a TIFF's strips are compressed. Compressed strips are first
/// differenced by the horizontal predictor, as libvips and libtiff do by
/// default, which makes photographs markedly smaller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TiffCompression {
    /// Samples as they are: the fastest to write and to read, libvips' default.
    #[default]
    None,
    /// LZW, which every TIFF reader understands.
    Lzw,
    /// Deflate (zlib) at level 6, smaller than LZW.
    Deflate,
}

impl FromStr for TiffCompression {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(TiffCompression::None),
            "lzw" => Ok(TiffCompression::Lzw),
            "deflate" | "zip" => Ok(TiffCompression::Deflate),
            _ => Err(format!("unknown TIFF compression '{s}' (expected none, lzw or deflate)")),
        }
    }
}

impl fmt::Display for TiffCompression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TiffCompression::None => "none",
            TiffCompression::Lzw => "lzw",
            TiffCompression::Deflate => "deflate",
        })
    }
}

/// A JPEG quality, 1 to 100.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct JpegQuality(u8);

impl JpegQuality {
    /// Visually lossless for equalized photographs; from 90 chroma is kept
    /// at full resolution ([`crate::jpeg_writer`]).
    pub const DEFAULT: JpegQuality = JpegQuality(92);

    /// The quality `q`, if it is within 1 to 100.
    pub fn new(q: u8) -> Option<JpegQuality> {
        (1..=100).contains(&q).then_some(JpegQuality(q))
    }

    /// The quality as libjpeg takes it.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for JpegQuality {
    fn default() -> Self {
        JpegQuality::DEFAULT
    }
}

impl FromStr for JpegQuality {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<u8>().ok().and_then(JpegQuality::new).ok_or_else(|| format!("JPEG quality '{s}' is not 1 to 100"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_parse_and_others_are_refused() {
        assert_eq!("LZW".parse(), Ok(TiffCompression::Lzw));
        assert_eq!("zip".parse(), Ok(TiffCompression::Deflate));
        assert_eq!(TiffCompression::Deflate.to_string().parse(), Ok(TiffCompression::Deflate));
        assert!("jpeg".parse::<TiffCompression>().unwrap_err().contains("none, lzw or deflate"));
        assert_eq!("75".parse::<JpegQuality>().map(JpegQuality::get), Ok(75));
        for bad in ["0", "101", "-1", "high"] {
            assert!(bad.parse::<JpegQuality>().unwrap_err().contains("1 to 100"), "{bad}");
        }
    }
}
