//! `--mask MASK` and `--mask-apply all|inside`: a job that counts only the
//! pixels inside a mask image, and where its tables then go.

use std::path::PathBuf;

use anyhow::{Context, Result};
use histo_cluster::Mask;
use histo_codec::{Input, Limits};
use histo_core::options::{MaskApply, OptionError};

use crate::io_paths::check_input;

#[derive(clap::Args, Debug)]
pub struct MaskArgs {
    /// Count only the pixels inside this mask: an image of the input's
    /// size, any format, where a pixel is inside when one of its colour
    /// samples is nonzero (alpha aside). With CLAHE, each tile counts its
    /// inside pixels, and a tile with none keeps its levels.
    #[arg(long, env = "HISTO_MASK", value_name = "MASK")]
    mask: Option<PathBuf>,

    /// Where a masked job's tables go: `all` (every pixel, scikit-image's
    /// rule; the default) or `inside` (the pixels outside keep their bytes).
    #[arg(long, env = "HISTO_MASK_APPLY", value_parser = parse_mask_apply, requires = "mask")]
    mask_apply: Option<MaskApply>,
}

fn parse_mask_apply(s: &str) -> Result<MaskApply, String> {
    s.parse().map_err(|e: OptionError| e.to_string())
}

impl MaskArgs {
    /// The mask, if one was given.
    pub fn mask(&self, limits: &Limits) -> Result<Option<Mask>> {
        let Some(path) = &self.mask else { return Ok(None) };
        let name = path.display();
        check_input(path, limits).with_context(|| format!("cannot read mask {name}"))?;
        let input = Input::file(path).with_context(|| format!("cannot read mask {name}"))?;
        Ok(Some(Mask { input, apply: self.mask_apply.unwrap_or_default() }))
    }
}
