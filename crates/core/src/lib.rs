//! Pure image math for histo: the MapReduce job's three phases without any I/O.
//!
//! An image is cut into row [`strips`]. The **map** phase counts each strip's
//! histograms ([`histogram`], or per-tile ones for [`clahe`]); the **reduce**
//! phase sums them and turns them into look-up tables ([`lut`]); the **apply**
//! phase maps each strip through the tables. [`plan::Plan`] ties the phases
//! together for every mode (gray, per-channel rgb, and the modes that equalize
//! one [`key`] of each colour pixel: luma via [`color`], HSV value, HSL
//! lightness, CIE L* via [`lab`]) and
//! both methods, and [`local`] runs them on all cores with rayon.
//!
//! Histogram counts are exact integers and merging them is associative, so the
//! output is the same bytes whatever the number or order of strips.

pub mod clahe;
pub mod color;
mod exchange;
pub mod histogram;
pub mod image;
mod key;
mod lab;
pub mod local;
pub mod lut;
pub mod matching;
pub mod options;
pub mod plan;
pub mod sample;
mod staircase;
pub mod strips;

pub use image::{Depth, Image, Layout, Pixels, Shape};
pub use options::{ClaheParams, Method, Mode, OptionError, Options};
pub use plan::Plan;
