//! What a user chooses about a job ([`Options`]: a [`Mode`] and a
//! [`Method`]), parsed from the words of the command line and the API, and
//! the [`OptionError`]s a wrong choice gets. [`crate::plan::Plan`] checks
//! them against the image.

use std::fmt;
use std::str::FromStr;

/// What to equalize.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `gray` for gray input, `luma` for colour input.
    #[default]
    Auto,
    /// Convert colour to gray, then equalize the gray.
    Gray,
    /// Equalize the Y of YCbCr and keep the chroma.
    Luma,
    /// Equalize each colour channel on its own.
    Rgb,
    /// Equalize CIE L* (D65, sRGB) and keep a* and b*.
    Lab,
    /// Equalize V of HSV and keep hue and saturation.
    Hsv,
    /// Equalize L of HSL and keep hue and saturation.
    Hsl,
}

impl Mode {
    /// Every mode, in the order `--help` lists them.
    pub const ALL: [Mode; 7] = [Mode::Auto, Mode::Gray, Mode::Luma, Mode::Rgb, Mode::Lab, Mode::Hsv, Mode::Hsl];

    /// The mode's name on the command line and in the API.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Gray => "gray",
            Mode::Luma => "luma",
            Mode::Rgb => "rgb",
            Mode::Lab => "lab",
            Mode::Hsv => "hsv",
            Mode::Hsl => "hsl",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = OptionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mode::ALL.into_iter().find(|m| m.name().eq_ignore_ascii_case(s)).ok_or_else(|| OptionError::Mode(s.to_owned()))
    }
}

/// CLAHE settings, with OpenCV's meaning and defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClaheParams {
    /// Clip limit as a multiple of the mean bin height (0 disables clipping).
    pub clip_limit: f64,
    /// Tile columns.
    pub tiles_x: u32,
    /// Tile rows.
    pub tiles_y: u32,
}

impl Default for ClaheParams {
    fn default() -> Self {
        ClaheParams { clip_limit: 2.0, tiles_x: 8, tiles_y: 8 }
    }
}

/// Largest tile count on either axis: past it a tile is a few pixels and
/// the tables outweigh the image.
pub const MAX_TILES: u32 = 256;

impl ClaheParams {
    /// Checks the values are usable.
    pub fn validate(&self) -> Result<(), OptionError> {
        if !self.clip_limit.is_finite() || self.clip_limit < 0.0 {
            return Err(OptionError::ClipLimit(self.clip_limit.to_string()));
        }
        let ok = |t: u32| (1..=MAX_TILES).contains(&t);
        if !ok(self.tiles_x) || !ok(self.tiles_y) {
            return Err(OptionError::Tiles(format!("{}x{}", self.tiles_x, self.tiles_y)));
        }
        Ok(())
    }
}

/// Parses a tile grid written `COLSxROWS`, e.g. `8x8`.
pub fn parse_tiles(s: &str) -> Result<(u32, u32), OptionError> {
    let bad = || OptionError::Tiles(s.to_owned());
    let (x, y) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let (x, y) = (x.trim().parse().map_err(|_| bad())?, y.trim().parse().map_err(|_| bad())?);
    let ok = |t: u32| (1..=MAX_TILES).contains(&t);
    if ok(x) && ok(y) { Ok((x, y)) } else { Err(bad()) }
}

/// Parses a clip limit: a finite number ≥ 0.
pub fn parse_clip_limit(s: &str) -> Result<f64, OptionError> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(OptionError::ClipLimit(s.to_owned())),
    }
}

/// How to equalize.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Method {
    /// One table for the whole image.
    #[default]
    Global,
    /// Contrast-limited adaptive equalization.
    Clahe(ClaheParams),
}

impl Method {
    /// The method's name.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Global => "global",
            Method::Clahe(_) => "clahe",
        }
    }

    /// Parses a method name; CLAHE gets its default parameters.
    pub fn from_name(s: &str) -> Result<Self, OptionError> {
        match s.to_ascii_lowercase().as_str() {
            "global" => Ok(Method::Global),
            "clahe" => Ok(Method::Clahe(ClaheParams::default())),
            _ => Err(OptionError::Method(s.to_owned())),
        }
    }

    /// The method named `name` (global when none), with the CLAHE settings
    /// a user gave explicitly and defaults for the rest. A setting given to
    /// a method that does not use it is refused rather than ignored: the
    /// user meant something that would not happen.
    pub fn with_settings(
        name: Option<&str>,
        clip_limit: Option<f64>,
        tiles: Option<(u32, u32)>,
    ) -> Result<Self, OptionError> {
        match name.map(Method::from_name).transpose()?.unwrap_or_default() {
            Method::Clahe(defaults) => {
                let (tiles_x, tiles_y) = tiles.unwrap_or((defaults.tiles_x, defaults.tiles_y));
                let params = ClaheParams { clip_limit: clip_limit.unwrap_or(defaults.clip_limit), tiles_x, tiles_y };
                params.validate()?;
                Ok(Method::Clahe(params))
            }
            Method::Global => match (clip_limit, tiles) {
                (Some(_), _) => Err(OptionError::NotUsed { setting: "clip limit" }),
                (_, Some(_)) => Err(OptionError::NotUsed { setting: "tile grid" }),
                (None, None) => Ok(Method::Global),
            },
        }
    }
}

/// Which pixels a masked job's tables go to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MaskApply {
    /// Every pixel (scikit-image's rule): only the counting is masked.
    #[default]
    All,
    /// The pixels inside; the others keep their samples.
    Inside,
}

impl FromStr for MaskApply {
    type Err = OptionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "all" => Ok(MaskApply::All),
            "inside" => Ok(MaskApply::Inside),
            _ => Err(OptionError::MaskApply(s.to_owned())),
        }
    }
}

impl fmt::Display for MaskApply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MaskApply::All => "all",
            MaskApply::Inside => "inside",
        })
    }
}

/// Everything a user chooses about a job.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Options {
    /// What to equalize.
    pub mode: Mode,
    /// How.
    pub method: Method,
}

/// A job option a user got wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionError {
    /// Unknown mode.
    #[error("unknown mode '{0}' (expected auto, gray, luma, rgb, lab, hsv or hsl)")]
    Mode(String),
    /// A CLAHE setting given with the global method.
    #[error("a {setting} is a CLAHE setting and the method is global: choose method clahe, or leave it out")]
    NotUsed {
        /// What was given.
        setting: &'static str,
    },
    /// Unknown mask rule.
    #[error("unknown mask application '{0}' (expected all or inside)")]
    MaskApply(String),
    /// A mask image of another size than the image.
    #[error("the mask is {mask_width}x{mask_height}, the image is {width}x{height}: a mask must have the image's size")]
    MaskSize {
        /// The mask's width.
        mask_width: u32,
        /// The mask's height.
        mask_height: u32,
        /// The image's width.
        width: u32,
        /// The image's height.
        height: u32,
    },
    /// Shared counts of another plan than the job's.
    #[error("the shared counts have {bins} bins, this image's table needs {want}")]
    SharedCounts {
        /// Bins given.
        bins: usize,
        /// Bins the plan counts.
        want: usize,
    },
    /// Images that cannot share one table.
    #[error("{0}")]
    SharedTable(String),
    /// A mask with no pixel inside.
    #[error("the mask is empty: no pixel is inside it (nonzero)")]
    EmptyMask,
    /// Matching asked with CLAHE.
    #[error("histogram matching uses the global method, not CLAHE")]
    MatchMethod,
    /// A reference histogram of another shape than the job's.
    #[error("the reference has {bins} histogram bins; the job needs {want} plane(s) of 256 or 65536")]
    MatchPlanes {
        /// Planes the job equalizes.
        want: usize,
        /// Bins the reference has.
        bins: usize,
    },
    /// A reference image the job's options do not fit.
    #[error("reference: {0}")]
    Reference(Box<OptionError>),
    /// Reference counts that are not a histogram.
    #[error("bad reference histogram: {0}")]
    ReferenceCounts(String),
    /// A reference without a single pixel (in some plane).
    #[error("the reference histogram is empty: there is nothing to match")]
    EmptyReference,
    /// A colour mode asked of a gray image.
    #[error("mode '{0}' needs a colour image; this one is gray (use auto or gray)")]
    ColourModeOnGray(Mode),
    /// Unknown method.
    #[error("unknown method '{0}' (expected global or clahe)")]
    Method(String),
    /// Bad clip limit.
    #[error("invalid clip limit '{0}' (expected a number >= 0)")]
    ClipLimit(String),
    /// Bad tile grid.
    #[error("invalid tile grid '{0}' (expected COLSxROWS, each 1 to 256, e.g. 8x8)")]
    Tiles(String),
    /// A tile grid too fine for the image: its tables would outweigh it.
    #[error(
        "a {tiles_x}x{tiles_y} tile grid is too fine for a {width}x{height} image: \
         past {MAX_FREE_TILES} tiles, each needs at least {levels} pixels"
    )]
    TilesTooFine {
        /// Tile columns.
        tiles_x: u32,
        /// Tile rows.
        tiles_y: u32,
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
        /// Levels of the image's depth (a tile's histogram bins).
        levels: usize,
    },
}

/// Tiles a CLAHE grid may always have (8x8, the default). A finer grid
/// needs as many pixels per tile as a histogram has bins (256, or 65536
/// for 16-bit), so that the per-tile tables never outweigh the image: a
/// 16x16 image asking for 256x256 tiles of 16-bit levels would otherwise
/// need 32 GiB of histograms.
pub const MAX_FREE_TILES: u64 = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_go_to_the_method_that_uses_them() {
        assert_eq!(Method::with_settings(None, None, None), Ok(Method::Global));
        assert_eq!(Method::with_settings(Some("global"), None, None), Ok(Method::Global));
        let clahe = Method::with_settings(Some("CLAHE"), Some(3.5), None).unwrap();
        assert_eq!(clahe, Method::Clahe(ClaheParams { clip_limit: 3.5, ..ClaheParams::default() }));
        let tiles = Method::with_settings(Some("clahe"), None, Some((4, 2))).unwrap();
        assert_eq!(tiles, Method::Clahe(ClaheParams { tiles_x: 4, tiles_y: 2, ..ClaheParams::default() }));
    }

    #[test]
    fn a_setting_the_method_does_not_use_is_refused() {
        for (clip, tiles, setting) in [(Some(2.0), None, "clip limit"), (None, Some((8, 8)), "tile grid")] {
            let err = Method::with_settings(None, clip, tiles).unwrap_err();
            assert_eq!(err, OptionError::NotUsed { setting });
            assert!(err.to_string().starts_with(&format!("a {setting} is a CLAHE setting")));
        }
        assert!(Method::with_settings(Some("nope"), None, None).is_err());
        assert!(Method::with_settings(Some("clahe"), Some(-1.0), None).is_err());
    }
}
