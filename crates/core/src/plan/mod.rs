//! One equalization job as three pure phases: map, reduce, apply.
//!
//! [`Plan`] is decided once from the image's shape and the [`Options`]; it is
//! small and cheap to copy to every worker. Then:
//!
//! * [`Plan::map`] counts one strip's [`Histograms`] (global: one histogram
//!   per equalized plane; CLAHE: one per tile and plane),
//! * [`Histograms::merge`] sums partial counts in any order,
//! * [`Plan::reduce`] turns the total into [`Luts`],
//! * [`Plan::apply`] maps one strip through the tables, in place.
//!
//! `gray` mode on colour input first converts strips with
//! [`Plan::convert_to_gray`]; alpha is never touched.

use crate::clahe::{Columns, Grid};
use crate::image::{Depth, Layout, Pixels, Shape};
use crate::key::Key;
use crate::options::{MAX_FREE_TILES, Method, Mode, OptionError, Options};
use crate::sample::Sample;
use crate::strips::Strip;
use crate::{color, histogram, lut};

pub use crate::exchange::{Histograms, Luts, Samples, SamplesMut, StripError};
pub use masked::inside_flags;

mod masked;
pub(crate) use masked::restore_outside;

/// Which values of a pixel the job equalizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// Channel 0 of a gray image.
    Gray,
    /// One value of each colour pixel: the pixel is rebuilt around it.
    Key(Key),
    /// R, G and B, each its own plane.
    Channels,
}

impl Target {
    fn planes(self) -> usize {
        if self == Target::Channels { 3 } else { 1 }
    }
}

/// The decided shape of a job.
#[derive(Clone, Debug)]
pub struct Plan {
    width: u32,
    height: u32,
    input_layout: Layout,
    layout: Layout,
    depth: Depth,
    target: Target,
    method: Method,
    grid: Option<(Grid, Columns)>,
}

impl Plan {
    /// Decides what a job does to an image of this shape.
    pub fn new(shape: Shape, options: Options) -> Result<Self, OptionError> {
        let Shape { width, height, layout, depth } = shape;
        let (working, target) = match (options.mode, layout.is_color()) {
            (Mode::Auto | Mode::Gray, false) => (layout, Target::Gray),
            (mode, false) => return Err(OptionError::ColourModeOnGray(mode)),
            (Mode::Gray, true) => (layout.to_gray(), Target::Gray),
            (Mode::Auto | Mode::Luma, true) => (layout, Target::Key(Key::Luma)),
            (Mode::Hsv, true) => (layout, Target::Key(Key::Value)),
            (Mode::Hsl, true) => (layout, Target::Key(Key::Lightness)),
            (Mode::Lab, true) => (layout, Target::Key(Key::Lab)),
            (Mode::Rgb, true) => (layout, Target::Channels),
        };
        let grid = match options.method {
            Method::Global => None,
            Method::Clahe(p) => {
                p.validate()?;
                let tiles = u64::from(p.tiles_x) * u64::from(p.tiles_y);
                let levels = match depth {
                    Depth::U8 => u8::LEVELS,
                    Depth::U16 => u16::LEVELS,
                };
                if tiles > MAX_FREE_TILES && tiles * levels as u64 > u64::from(width) * u64::from(height) {
                    let (tiles_x, tiles_y) = (p.tiles_x, p.tiles_y);
                    return Err(OptionError::TilesTooFine { tiles_x, tiles_y, width, height, levels });
                }
                (width > 0 && height > 0).then(|| {
                    let grid = Grid::new(width, height, p.tiles_x, p.tiles_y);
                    let columns = grid.columns();
                    (grid, columns)
                })
            }
        };
        Ok(Plan { width, height, input_layout: layout, layout: working, depth, target, method: options.method, grid })
    }

    /// The shape of the samples workers apply the tables to and of the
    /// output: the input's, in the working layout.
    pub fn output_shape(&self) -> Shape {
        Shape { width: self.width, height: self.height, layout: self.layout, depth: self.depth }
    }

    /// The shape of the input the plan was made for.
    pub fn input_shape(&self) -> Shape {
        Shape { layout: self.input_layout, ..self.output_shape() }
    }

    /// Image width.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Image height.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Layout of the output (gray mode drops colour).
    pub fn output_layout(&self) -> Layout {
        self.layout
    }

    /// Sample depth.
    pub fn depth(&self) -> Depth {
        self.depth
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// Whether strips must go through [`Plan::convert_to_gray`] before map.
    pub fn converts_to_gray(&self) -> bool {
        self.input_layout != self.layout
    }

    /// Samples in one row of the working image.
    pub fn row_len(&self) -> usize {
        self.width as usize * self.layout.channels()
    }

    fn levels(&self) -> usize {
        match self.depth {
            Depth::U8 => u8::LEVELS,
            Depth::U16 => u16::LEVELS,
        }
    }

    fn bins_per_plane(&self) -> usize {
        let tiles = self.grid.as_ref().map_or(1, |(g, _)| g.tiles());
        tiles * self.levels()
    }

    /// Bins in this job's histograms, and entries in its tables.
    pub fn bin_count(&self) -> usize {
        self.target.planes() * self.bins_per_plane()
    }

    /// Empty counts for this job, to merge partial counts into.
    pub fn empty_histograms(&self) -> Histograms {
        Histograms { bins: vec![0; self.bin_count()] }
    }

    /// Names of the equalized planes: `gray`, a key (`luma`, `value`,
    /// `lightness`, `lab_l`), or `r`, `g`, `b`.
    pub fn plane_names(&self) -> &'static [&'static str] {
        match self.target {
            Target::Gray => &["gray"],
            Target::Key(key) => key.plane_names(),
            Target::Channels => &["r", "g", "b"],
        }
    }

    /// One 256-bin histogram per plane, for display: tiles summed, 16-bit
    /// levels folded eight bits down.
    pub fn summarize(&self, hist: &Histograms) -> Vec<Vec<u64>> {
        let levels = self.levels();
        let shift = if levels == 256 { 0 } else { 8 };
        hist.bins
            .chunks_exact(self.bins_per_plane())
            .map(|plane| {
                let mut out = vec![0u64; 256];
                for tile in plane.chunks_exact(levels) {
                    tile.iter().enumerate().for_each(|(v, &c)| out[v >> shift] += c);
                }
                out
            })
            .collect()
    }

    /// The plan that counts this job's output the way this one counts its
    /// input (same planes, one global histogram each).
    pub fn output_plan(&self) -> Plan {
        let mode = match self.target {
            Target::Gray => Mode::Gray,
            Target::Key(Key::Luma) => Mode::Luma,
            Target::Key(Key::Value) => Mode::Hsv,
            Target::Key(Key::Lightness) => Mode::Hsl,
            Target::Key(Key::Lab) => Mode::Lab,
            Target::Channels => Mode::Rgb,
        };
        let options = Options { mode, method: Method::Global };
        Plan::new(self.output_shape(), options).expect("global options are valid")
    }

    /// Converts a strip of colour input to the gray working layout.
    pub fn convert_to_gray(&self, samples: Samples<'_>) -> Pixels {
        let channels = self.input_layout.channels();
        let out_len = |n: usize| n / channels * self.layout.channels();
        match samples {
            Samples::U8(s) => {
                let mut out = vec![0; out_len(s.len())];
                color::to_gray(s, channels, &mut out);
                Pixels::U8(out)
            }
            Samples::U16(s) => {
                let mut out = vec![0; out_len(s.len())];
                color::to_gray(s, channels, &mut out);
                Pixels::U16(out)
            }
        }
    }

    fn check(&self, strip: Strip, depth: Depth, samples: usize) -> Result<(), StripError> {
        if depth != self.depth {
            return Err(StripError::Depth { want: self.depth, got: depth });
        }
        let fits = strip.y0.checked_add(strip.rows).is_some_and(|end| end <= self.height);
        if !fits || samples != strip.rows as usize * self.row_len() {
            let (y0, rows, width, height) = (strip.y0, strip.rows, self.width, self.height);
            return Err(StripError::Shape { y0, rows, samples, width, height });
        }
        Ok(())
    }

    /// Map: counts the levels of one strip (working layout).
    pub fn map(&self, strip: Strip, samples: Samples<'_>) -> Result<Histograms, StripError> {
        self.map_where(strip, samples, None)
    }

    /// Map over the pixels whose `mask` sample is nonzero, or all of them.
    fn map_where(&self, strip: Strip, samples: Samples<'_>, mask: Option<&[u8]>) -> Result<Histograms, StripError> {
        let mut out = self.empty_histograms();
        match samples {
            Samples::U8(s) => {
                self.check(strip, Depth::U8, s.len())?;
                self.map_typed(strip, s, mask, &mut out.bins);
            }
            Samples::U16(s) => {
                self.check(strip, Depth::U16, s.len())?;
                self.map_typed(strip, s, mask, &mut out.bins);
            }
        }
        Ok(out)
    }

    /// Reduce: turns the job's total counts into its tables.
    pub fn reduce(&self, total: &Histograms) -> Luts {
        let per_plane = self.bins_per_plane();
        assert_eq!(total.bins.len(), self.bin_count(), "histograms of another job");
        fn tables<T: Sample>(plan: &Plan, bins: &[u64], per_plane: usize) -> Vec<T> {
            bins.chunks_exact(per_plane)
                .flat_map(|plane| match (&plan.grid, plan.method) {
                    (Some((grid, _)), Method::Clahe(p)) => grid.tile_luts::<T>(p.clip_limit, plane),
                    _ => lut::equalize::<T>(plane),
                })
                .collect()
        }
        match self.depth {
            Depth::U8 => Luts::U8(tables(self, &total.bins, per_plane)),
            Depth::U16 => Luts::U16(tables(self, &total.bins, per_plane)),
        }
    }

    /// Apply: maps one strip (working layout) through the tables, in place.
    pub fn apply(&self, strip: Strip, samples: SamplesMut<'_>, luts: &Luts) -> Result<(), StripError> {
        self.apply_checked(strip, None, samples, luts)
    }

    /// Apply from one buffer into another of the same size: `dst` gets
    /// what [`Plan::apply`] would make of `src`, in one pass.
    pub fn apply_from(
        &self,
        strip: Strip,
        src: Samples<'_>,
        dst: SamplesMut<'_>,
        luts: &Luts,
    ) -> Result<(), StripError> {
        self.apply_checked(strip, Some(src), dst, luts)
    }

    fn apply_checked(
        &self,
        strip: Strip,
        src: Option<Samples<'_>>,
        samples: SamplesMut<'_>,
        luts: &Luts,
    ) -> Result<(), StripError> {
        match (samples, luts, src) {
            (SamplesMut::U8(s), Luts::U8(t), None) => self.apply_run(strip, None, s, t),
            (SamplesMut::U8(s), Luts::U8(t), Some(Samples::U8(src))) => self.apply_run(strip, Some(src), s, t),
            (SamplesMut::U16(s), Luts::U16(t), None) => self.apply_run(strip, None, s, t),
            (SamplesMut::U16(s), Luts::U16(t), Some(Samples::U16(src))) => self.apply_run(strip, Some(src), s, t),
            _ => {
                let got = if self.depth == Depth::U8 { Depth::U16 } else { Depth::U8 };
                Err(StripError::Depth { want: self.depth, got })
            }
        }
    }

    fn apply_run<T: Sample>(&self, strip: Strip, src: Option<&[T]>, s: &mut [T], t: &[T]) -> Result<(), StripError> {
        let want = self.bin_count();
        if t.len() != want {
            return Err(StripError::Tables { want, got: t.len() });
        }
        self.check(strip, T::DEPTH, s.len())?;
        if let Some(src) = src {
            self.check(strip, T::DEPTH, src.len())?;
        }
        self.apply_typed(strip, src, s, t);
        Ok(())
    }

    /// Counts `samples` into `bins`; with a mask, the pixels inside it alone.
    fn map_typed<T: Sample>(&self, strip: Strip, samples: &[T], mask: Option<&[u8]>, bins: &mut [u64]) {
        let (channels, width) = (self.layout.channels(), self.width as usize);
        let per_plane = self.bins_per_plane();
        let count = |values: &[T], inside: Option<&[u8]>, bins: &mut [u64]| match inside {
            Some(inside) => histogram::count_where(values, inside, bins),
            None => histogram::count(values, bins),
        };
        if self.grid.is_none() && self.target == Target::Gray && channels == 1 {
            return count(samples, mask, bins);
        }
        let mut values = vec![T::default(); width];
        for (i, (y, row)) in strip.row_range().zip(samples.chunks_exact(self.row_len())).enumerate() {
            for (plane, bins) in bins.chunks_exact_mut(per_plane).enumerate() {
                self.extract(row, plane, &mut values);
                let inside = mask.map(|m| &m[i * width..(i + 1) * width]);
                match &self.grid {
                    Some((grid, _)) => grid.count_row(y, &values, inside, bins),
                    None => count(&values, inside, bins),
                }
            }
        }
    }

    /// Maps `samples` through the tables, reading them from `src` if given.
    fn apply_typed<T: Sample>(&self, strip: Strip, src: Option<&[T]>, samples: &mut [T], luts: &[T]) {
        let channels = self.layout.channels();
        let per_plane = self.bins_per_plane();
        if self.grid.is_none() && self.target == Target::Gray && channels == 1 {
            return match src {
                Some(src) => lut::apply_into(src, samples, luts),
                None => lut::apply(samples, luts),
            };
        }
        if let Some(src) = src {
            samples.copy_from_slice(src);
        }
        // The usual colour job: one pass per pixel, the channel count known
        // to the compiler.
        match (&self.grid, self.target, channels) {
            (None, Target::Key(Key::Luma), 3) => return color::apply_luma::<T, 3>(samples, luts),
            (None, Target::Key(Key::Luma), 4) => return color::apply_luma::<T, 4>(samples, luts),
            _ => {}
        }
        let width = self.width as usize;
        let mut values = vec![T::default(); width];
        let mut scratch = Vec::new();
        for (y, row) in strip.row_range().zip(samples.chunks_exact_mut(self.row_len())) {
            for (plane, tables) in luts.chunks_exact(per_plane).enumerate() {
                self.extract(row, plane, &mut values);
                match &self.grid {
                    Some((grid, columns)) => grid.map_row(y, tables, columns, &mut values, &mut scratch),
                    None => values.iter_mut().for_each(|v| *v = tables[v.index()]),
                }
                match self.target {
                    Target::Key(key) if channels == 3 => key.rebuild::<T, 3>(row, &values),
                    Target::Key(key) => key.rebuild::<T, 4>(row, &values),
                    Target::Gray | Target::Channels => {
                        row.iter_mut().skip(plane).step_by(channels).zip(&values).for_each(|(s, &v)| *s = v)
                    }
                }
            }
        }
    }

    /// Copies plane `plane` of one row into `values` (one value a pixel).
    fn extract<T: Sample>(&self, row: &[T], plane: usize, values: &mut [T]) {
        let channels = self.layout.channels();
        match self.target {
            // Colour layouts only: RGB or RGBA, the count known to the compiler.
            Target::Key(key) if channels == 3 => key.levels::<T, 3>(row, values),
            Target::Key(key) => key.levels::<T, 4>(row, values),
            Target::Gray | Target::Channels => {
                row.chunks_exact(channels).zip(values).for_each(|(px, v)| *v = px[plane]);
            }
        }
    }
}

#[cfg(test)]
mod tests;
