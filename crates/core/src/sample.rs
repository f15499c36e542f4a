//! The two sample depths histo equalizes: 8-bit and 16-bit.
//!
//! Generic code over [`Sample`] serves both; only the number of levels and
//! the rounding of the look-up tables differ.

use crate::image::Depth;
use crate::plan::{Samples, SamplesMut};

/// One channel value of a pixel.
pub trait Sample: Copy + Default + Send + Sync + Into<u32> + 'static {
    /// Number of distinct levels (256 or 65536): the histogram size.
    const LEVELS: usize;
    /// The depth these samples have.
    const DEPTH: Depth;
    /// Largest value.
    const MAX: u32 = (Self::LEVELS - 1) as u32;
    /// Half the range: the chroma offset of YCbCr.
    const HALF: i32 = (Self::LEVELS / 2) as i32;

    /// Converts an in-range value; callers clamp first.
    fn from_u32(v: u32) -> Self;

    /// The samples as bytes when they are bytes, so generic code can take
    /// the 8-bit fast paths.
    fn as_bytes(samples: &[Self]) -> Option<&[u8]>;

    /// Mutable form of [`Sample::as_bytes`].
    fn as_bytes_mut(samples: &mut [Self]) -> Option<&mut [u8]>;

    /// The samples as the plan's depth-tagged run.
    fn wrap(samples: &[Self]) -> Samples<'_>;

    /// Mutable form of [`Sample::wrap`].
    fn wrap_mut(samples: &mut [Self]) -> SamplesMut<'_>;

    /// Clamps a signed value into range. With bit operations rather than
    /// comparisons: in the colour loops the compiler turned those into
    /// branches, which noisy pixels mispredict half the time.
    #[inline]
    fn saturate(v: i32) -> Self {
        let max = Self::MAX as i32;
        let v = v & !(v >> 31); // negative: 0
        let v = (v | ((max - v) >> 31)) & max; // above max: max
        Self::from_u32(v as u32)
    }

    /// Rounds half to even and clamps, as OpenCV's `saturate_cast<T>(float)`.
    #[inline]
    fn round_f32(v: f32) -> Self {
        let r = v.round_ties_even();
        if r <= 0.0 {
            Self::from_u32(0)
        } else if r >= Self::MAX as f32 {
            Self::from_u32(Self::MAX)
        } else {
            Self::from_u32(r as u32)
        }
    }

    /// The value as a table index.
    #[inline]
    fn index(self) -> usize {
        Into::<u32>::into(self) as usize
    }
}

impl Sample for u8 {
    const LEVELS: usize = 256;
    const DEPTH: Depth = Depth::U8;

    #[inline]
    fn from_u32(v: u32) -> Self {
        v as u8
    }

    fn as_bytes(samples: &[Self]) -> Option<&[u8]> {
        Some(samples)
    }

    fn wrap(samples: &[Self]) -> Samples<'_> {
        Samples::U8(samples)
    }

    fn wrap_mut(samples: &mut [Self]) -> SamplesMut<'_> {
        SamplesMut::U8(samples)
    }

    fn as_bytes_mut(samples: &mut [Self]) -> Option<&mut [u8]> {
        Some(samples)
    }
}

impl Sample for u16 {
    const LEVELS: usize = 65536;
    const DEPTH: Depth = Depth::U16;

    #[inline]
    fn from_u32(v: u32) -> Self {
        v as u16
    }

    fn as_bytes(_: &[Self]) -> Option<&[u8]> {
        None
    }

    fn wrap(samples: &[Self]) -> Samples<'_> {
        Samples::U16(samples)
    }

    fn wrap_mut(samples: &mut [Self]) -> SamplesMut<'_> {
        SamplesMut::U16(samples)
    }

    fn as_bytes_mut(_: &mut [Self]) -> Option<&mut [u8]> {
        None
    }
}
