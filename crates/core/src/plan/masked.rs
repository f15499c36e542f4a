//! Map and apply inside a mask (a region of interest): one mask sample per
//! pixel, nonzero inside. The histograms count only the pixels inside; the
//! tables then go to every pixel, or with [`Plan::apply_inside`] only to
//! those inside, the rest kept as they were. Under CLAHE each tile counts
//! its inside pixels, and its clip limit is relative to their number.

use super::{Histograms, Plan, Samples, SamplesMut, StripError};
use crate::Layout;
use crate::sample::Sample;
use crate::strips::Strip;

impl Plan {
    fn check_mask_len(&self, strip: Strip, mask: &[u8]) -> Result<(), StripError> {
        let want = strip.rows as usize * self.width as usize;
        if mask.len() == want { Ok(()) } else { Err(StripError::Mask { want, got: mask.len() }) }
    }

    /// Map inside a mask: counts the levels of the strip's pixels whose
    /// mask sample is nonzero.
    pub fn map_inside(&self, strip: Strip, samples: Samples<'_>, mask: &[u8]) -> Result<Histograms, StripError> {
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

/// A mask image's samples as one flag per pixel: inside (1) where any of
/// its colour samples is nonzero, alpha aside; a gray mask's level alone.
pub fn inside_flags(layout: Layout, samples: Samples<'_>) -> Vec<u8> {
    fn flags<T: Sample>(layout: Layout, samples: &[T]) -> Vec<u8> {
        let colour = layout.channels() - usize::from(layout.has_alpha());
        samples
            .chunks_exact(layout.channels())
            .map(|px| u8::from(px[..colour].iter().any(|v| v.index() != 0)))
            .collect()
    }
    match samples {
        Samples::U8(s) => flags(layout, s),
        Samples::U16(s) => flags(layout, s),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pixel_is_inside_when_a_colour_sample_is_nonzero_whatever_its_alpha() {
        let rgba = [0u8, 0, 0, 255, 0, 0, 1, 0, 9, 0, 0, 0];
        assert_eq!(inside_flags(Layout::Rgba, Samples::U8(&rgba)), [0, 1, 1]);
        let gray_alpha = [0u16, 65535, 300, 0];
        assert_eq!(inside_flags(Layout::GrayAlpha, Samples::U16(&gray_alpha)), [0, 1]);
        assert_eq!(inside_flags(Layout::Gray, Samples::U8(&[0, 7, 0])), [0, 1, 0]);
    }
}
