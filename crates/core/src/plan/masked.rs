//! Map and apply inside a mask (a region of interest): one mask sample per
//! pixel, nonzero inside. The histograms count only the pixels inside; the
//! tables then go to every pixel, or with [`Plan::apply_inside`] only to
//! those inside, the rest kept as they were. Global method only.

use super::{Histograms, Plan, Samples, SamplesMut, StripError};
use crate::options::{Method, OptionError};
use crate::sample::Sample;
use crate::strips::Strip;

impl Plan {
    /// Whether this plan can take a mask: the global method only (a masked
    /// CLAHE would need each tile's inside count for its clip limit).
    pub fn check_mask(&self) -> Result<(), OptionError> {
        match self.method {
            Method::Global => Ok(()),
            Method::Clahe(_) => Err(OptionError::MaskMethod),
        }
    }

    fn check_mask_len(&self, strip: Strip, mask: &[u8]) -> Result<(), StripError> {
        let want = strip.rows as usize * self.width as usize;
        if mask.len() == want { Ok(()) } else { Err(StripError::Mask { want, got: mask.len() }) }
    }

    /// Map inside a mask: counts the levels of the strip's pixels whose
    /// mask sample is nonzero.
    pub fn map_inside(&self, strip: Strip, samples: Samples<'_>, mask: &[u8]) -> Result<Histograms, StripError> {
        if self.check_mask().is_err() {
            return Err(StripError::MaskMethod);
        }
        self.check_mask_len(strip, mask)?;
        self.map_where(strip, samples, Some(mask))
    }

    /// Apply inside a mask: maps the strip's pixels whose mask sample is
    /// nonzero, in place, and leaves the others' samples as they were.
    pub fn apply_inside(
        &self,
        strip: Strip,
        samples: SamplesMut<'_>,
        luts: &super::Luts,
        mask: &[u8],
    ) -> Result<(), StripError> {
        self.check_mask_len(strip, mask)?;
        match samples {
            SamplesMut::U8(s) => self.apply_inside_typed(strip, s, luts, mask),
            SamplesMut::U16(s) => self.apply_inside_typed(strip, s, luts, mask),
        }
    }

    fn apply_inside_typed<T: Sample>(
        &self,
        strip: Strip,
        samples: &mut [T],
        luts: &super::Luts,
        mask: &[u8],
    ) -> Result<(), StripError> {
        let before = samples.to_vec();
        self.apply(strip, T::wrap_mut(samples), luts)?;
        restore_outside(self.layout.channels(), samples, &before, mask);
        Ok(())
    }
}

/// Puts back, from `original`, the samples of the pixels (`channels`
/// samples each) whose `mask` sample is zero.
pub(crate) fn restore_outside<T: Copy>(channels: usize, samples: &mut [T], original: &[T], mask: &[u8]) {
    let pixels = samples.chunks_exact_mut(channels).zip(original.chunks_exact(channels));
    for ((px, old), &inside) in pixels.zip(mask) {
        if inside == 0 {
            px.copy_from_slice(old);
        }
    }
}
