//! Map and apply inside a mask (a region of interest): one mask sample per
//! pixel, nonzero inside. The histograms count only the pixels inside; the
//! tables then go to every pixel, or with [`Plan::apply_inside`] only to
//! those inside, the rest kept as they were. Global method only.

use super::{Histograms, Plan, Samples, SamplesMut, StripError, Target};
use crate::histogram;
use crate::image::Depth;
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
        let mut out = self.empty_histograms();
        match samples {
            Samples::U8(s) => {
                self.check(strip, Depth::U8, s.len())?;
                self.map_inside_typed(s, mask, &mut out.bins);
            }
            Samples::U16(s) => {
                self.check(strip, Depth::U16, s.len())?;
                self.map_inside_typed(s, mask, &mut out.bins);
            }
        }
        Ok(out)
    }

    fn map_inside_typed<T: Sample>(&self, samples: &[T], mask: &[u8], bins: &mut [u64]) {
        let width = self.width as usize;
        if self.target == Target::Gray && self.layout.channels() == 1 {
            return histogram::count_where(samples, mask, bins);
        }
        let mut values = vec![T::default(); width];
        let per_plane = self.bins_per_plane();
        for (row, inside) in samples.chunks_exact(self.row_len()).zip(mask.chunks_exact(width)) {
            for (plane, bins) in bins.chunks_exact_mut(per_plane).enumerate() {
                self.extract(row, plane, &mut values);
                histogram::count_where(&values, inside, bins);
            }
        }
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
        let channels = self.layout.channels();
        let pixels = samples.chunks_exact_mut(channels).zip(before.chunks_exact(channels));
        for ((px, old), &inside) in pixels.zip(mask) {
            if inside == 0 {
                px.copy_from_slice(old);
            }
        }
        Ok(())
    }
}
