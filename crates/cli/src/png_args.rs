//! The PNG compression flags shared by `equalize` (files) and the commands
//! that answer uploads (`serve`, `master`). Each command has its own default
//! (see [`PngArgs::settings`]), so the flags have none of their own.

use histo_codec::png;

/// How PNG output is compressed.
#[derive(clap::Args, Debug)]
pub struct PngArgs {
    /// PNG compression level, 0 (fastest) to 9 (smallest). Default: 5 for
    /// `equalize` (files about the size of libvips' in less time), 1 for
    /// `serve` and `master` (answers sooner, files larger).
    #[arg(long, env = "HISTO_PNG_LEVEL", value_parser = clap::value_parser!(u32).range(0..=9))]
    png_level: Option<u32>,

    /// PNG row filter: none, sub, up, paeth, or adaptive (per row, the one
    /// whose bytes have the lowest entropy). Default: adaptive for
    /// `equalize`, sub for `serve` and `master`.
    #[arg(long, env = "HISTO_PNG_FILTER", value_parser = parse_filter)]
    png_filter: Option<png::Filter>,
}

impl PngArgs {
    /// The settings given, the command's `default` for those not given.
    pub fn settings(&self, default: png::Settings) -> png::Settings {
        png::Settings {
            level: self.png_level.unwrap_or(default.level),
            filter: self.png_filter.unwrap_or(default.filter),
        }
    }
}

fn parse_filter(s: &str) -> Result<png::Filter, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        png: PngArgs,
    }

    #[test]
    fn flags_override_the_commands_default_one_by_one() {
        let fast = png::Settings { level: 1, filter: png::Filter::Sub };
        let given = |args: &[&str]| Cli::try_parse_from([&["histo"], args].concat()).map(|c| c.png.settings(fast));
        assert_eq!(given(&[]).unwrap(), fast);
        assert_eq!(given(&["--png-level", "6"]).unwrap(), png::Settings { level: 6, ..fast });
        assert_eq!(given(&["--png-filter", "paeth"]).unwrap(), png::Settings { filter: png::Filter::Paeth, ..fast });
        assert!(given(&["--png-level", "10"]).is_err());
        assert!(given(&["--png-filter", "best"]).is_err());
    }
}
