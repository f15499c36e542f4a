//! What the phases hand each other: runs of [`Samples`] (a strip, whatever
//! its depth), [`Histograms`] (map → reduce), [`Luts`] (reduce → apply),
//! and the [`StripError`] a strip that does not fit its plan gets.

use crate::histogram;
use crate::image::{Depth, Pixels};

/// A strip that does not fit the plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripError {
    /// Samples of the wrong depth.
    #[error("strip has {got:?} samples, the job is {want:?}")]
    Depth {
        /// The job's depth.
        want: Depth,
        /// The strip's.
        got: Depth,
    },
    /// Wrong number of samples, or rows outside the image.
    #[error("strip at row {y0} with {rows} rows and {samples} samples does not fit a {width}x{height} image")]
    Shape {
        /// First row.
        y0: u32,
        /// Rows.
        rows: u32,
        /// Samples received.
        samples: usize,
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
    },
    /// A mask of the wrong size for the strip.
    #[error("mask has {got} samples, the strip has {want} pixels")]
    Mask {
        /// Pixels in the strip.
        want: usize,
        /// Mask samples received.
        got: usize,
    },
    /// A mask with no pixel inside.
    #[error("the mask is empty: no pixel is inside it")]
    EmptyMask,
    /// Tables of the wrong size.
    #[error("look-up tables have {got} entries, the job needs {want}")]
    Tables {
        /// Entries needed.
        want: usize,
        /// Entries received.
        got: usize,
    },
}

/// A borrowed run of samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Samples<'a> {
    /// 8-bit.
    U8(&'a [u8]),
    /// 16-bit.
    U16(&'a [u16]),
}

/// A mutably borrowed run of samples.
#[derive(Debug)]
pub enum SamplesMut<'a> {
    /// 8-bit.
    U8(&'a mut [u8]),
    /// 16-bit.
    U16(&'a mut [u16]),
}

impl Pixels {
    /// Borrows a range of samples.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Samples<'_> {
        match self {
            Pixels::U8(v) => Samples::U8(&v[range]),
            Pixels::U16(v) => Samples::U16(&v[range]),
        }
    }
}

/// Summed level counts: one run of bins per plane (and tile, for CLAHE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histograms {
    /// The bins, plane-major, then tile-major.
    pub bins: Vec<u64>,
}

impl Histograms {
    /// Adds another partial count of the same job.
    pub fn merge(&mut self, other: &Histograms) {
        histogram::merge(&mut self.bins, &other.bins);
    }
}

/// Look-up tables: one run per plane (and tile, for CLAHE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Luts {
    /// 8-bit tables.
    U8(Vec<u8>),
    /// 16-bit tables.
    U16(Vec<u16>),
}
