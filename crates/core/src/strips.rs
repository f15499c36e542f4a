//! Cutting an image into row strips: the MapReduce job's unit of work.

use std::ops::Range;

/// Samples in a strip: big enough that scheduling costs little, small
/// enough that all cores (and workers) share even a mid-sized image.
pub const STRIP_SAMPLES: usize = 1 << 20;

/// A band of whole rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Strip {
    /// Index of the strip in the plan.
    pub index: usize,
    /// First row.
    pub y0: u32,
    /// Number of rows.
    pub rows: u32,
}

impl Strip {
    /// The strip's rows.
    pub fn row_range(&self) -> Range<usize> {
        self.y0 as usize..(self.y0 + self.rows) as usize
    }

    /// The strip's samples in an image buffer with `row_len` samples a row.
    pub fn sample_range(&self, row_len: usize) -> Range<usize> {
        let rows = self.row_range();
        rows.start * row_len..rows.end * row_len
    }
}

/// Cuts `height` rows into `count` strips of near-equal size (the first ones
/// one row taller), never more strips than rows, never an empty strip.
pub fn split(height: u32, count: usize) -> Vec<Strip> {
    let count = count.clamp(1, height.max(1) as usize) as u32;
    let (base, extra) = (height / count, height % count);
    let mut y0 = 0;
    (0..count)
        .map(|i| {
            let rows = base + u32::from(i < extra);
            let strip = Strip { index: i as usize, y0, rows };
            y0 += rows;
            strip
        })
        .filter(|s| s.rows > 0)
        .collect()
}

/// The strip count for an image: about [`STRIP_SAMPLES`] samples each.
///
/// It depends on the image alone, never on the number of cores or workers:
/// compressed output is cut at strip boundaries, and the same input must
/// give the same bytes however many workers ran it.
pub fn count_for(height: u32, row_len: usize) -> usize {
    let samples = height as usize * row_len;
    samples.div_ceil(STRIP_SAMPLES).clamp(1, height.max(1) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn strips_cover_every_row_once(height in 1u32..5000, count in 1usize..100) {
            let strips = split(height, count);
            prop_assert!(strips.len() <= count);
            let mut next = 0;
            for (i, s) in strips.iter().enumerate() {
                prop_assert_eq!(s.index, i);
                prop_assert_eq!(s.y0, next);
                prop_assert!(s.rows > 0);
                next += s.rows;
            }
            prop_assert_eq!(next, height);
        }
    }

    #[test]
    fn small_images_get_one_strip() {
        assert_eq!(count_for(10, 10), 1);
        assert_eq!(count_for(8000, 8000), 62);
        assert_eq!(count_for(3, 1 << 22), 3);
    }
}
