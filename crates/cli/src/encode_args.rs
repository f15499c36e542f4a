//! How output is written, the flags shared by `equalize` (files) and the
//! commands that answer uploads (`serve`, `master`). Each command has its
//! own default (see [`EncodeArgs::settings`]), so the flags have none of
//! their own.

use histo_codec::{EncodeSettings, JpegQuality, TiffCompression, png};

/// PNG compression, TIFF compression and JPEG quality.
#[derive(clap::Args, Debug)]
pub struct EncodeArgs {
    /// PNG compression level, 0 (fastest) to 9 (smallest). Default: 5 for
    /// `equalize` (files about the size of libvips' in less time), 1 for
    /// `serve` and `master` (answers sooner, files larger).
    #[arg(long, env = "HISTO_PNG_LEVEL", value_parser = clap::value_parser!(u32).range(0..=9))]
    png_level: Option<u32>,

    /// PNG row filter: none, sub, up, paeth, or adaptive (per row, the one
    /// whose bytes have the lowest entropy). Default: adaptive for
    /// `equalize`, sub for `serve` and `master`.
    #[arg(long, env = "HISTO_PNG_FILTER", value_parser = parse::<png::Filter>)]
    png_filter: Option<png::Filter>,

    /// TIFF compression: none, lzw or deflate (both with the horizontal
    /// predictor). Default: none, as libvips.
    #[arg(long, env = "HISTO_TIFF_COMPRESSION", value_parser = parse::<TiffCompression>)]
    tiff_compression: Option<TiffCompression>,

    /// JPEG quality, 1 to 100. Default: 92 (chroma kept at full
    /// resolution from 90).
    #[arg(long, env = "HISTO_JPEG_QUALITY", value_parser = parse::<JpegQuality>)]
    jpeg_quality: Option<JpegQuality>,
}

impl EncodeArgs {
    /// The settings given, the command's `default` for those not given.
    pub fn settings(&self, default: EncodeSettings) -> EncodeSettings {
        EncodeSettings {
            png: png::Settings {
                level: self.png_level.unwrap_or(default.png.level),
                filter: self.png_filter.unwrap_or(default.png.filter),
            },
            tiff: self.tiff_compression.unwrap_or(default.tiff),
            jpeg_quality: self.jpeg_quality.unwrap_or(default.jpeg_quality),
        }
    }
}

fn parse<T: std::str::FromStr<Err = String>>(s: &str) -> Result<T, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        encode: EncodeArgs,
    }

    #[test]
    fn flags_override_the_commands_default_one_by_one() {
        let fast = EncodeSettings {
            png: png::Settings { level: 1, filter: png::Filter::Sub },
            tiff: TiffCompression::Lzw,
            jpeg_quality: JpegQuality::DEFAULT,
        };
        let given = |args: &[&str]| Cli::try_parse_from([&["histo"], args].concat()).map(|c| c.encode.settings(fast));
        assert_eq!(given(&[]).unwrap(), fast);
        assert_eq!(given(&["--png-level", "6"]).unwrap().png, png::Settings { level: 6, ..fast.png });
        assert_eq!(given(&["--png-filter", "paeth"]).unwrap().png.filter, png::Filter::Paeth);
        assert_eq!(given(&["--tiff-compression", "deflate"]).unwrap().tiff, TiffCompression::Deflate);
        assert_eq!(given(&["--jpeg-quality", "75"]).unwrap().jpeg_quality, JpegQuality::new(75).unwrap());
        for bad in [
            &["--png-level", "10"][..],
            &["--png-filter", "best"],
            &["--tiff-compression", "jpeg"],
            &["--jpeg-quality", "0"],
        ] {
            assert!(given(bad).is_err(), "{bad:?}");
        }
    }
}
