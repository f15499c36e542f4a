//! Runs a whole job in this process: strips in parallel on rayon's pool.
//!
//! This is the in-process stand-in for a cluster of workers: the same
//! [`Plan`] phases, with rayon threads as the workers.

use rayon::prelude::*;

use crate::image::{Image, Pixels};
use crate::options::{OptionError, Options};
use crate::plan::{Histograms, Plan, SamplesMut};
use crate::sample::Sample;
use crate::strips::{self, Strip};

/// Equalizes `image` with all of rayon's threads.
pub fn equalize(image: Image, options: Options) -> Result<Image, OptionError> {
    equalize_in_strips(image, options, None)
}

/// Equalizes `image` in `strip_count` strips (or as many as suit the pool).
/// The output does not depend on the strip count.
pub fn equalize_in_strips(image: Image, options: Options, strip_count: Option<usize>) -> Result<Image, OptionError> {
    let plan = Plan::new(image.shape(), options)?;
    let (width, height, _, pixels) = image.into_parts();
    if width == 0 || height == 0 {
        return Ok(Image::new(width, height, plan.output_layout(), pixels).expect("empty image"));
    }
    let count = strip_count.unwrap_or_else(|| strips::count_for(height, plan.row_len()));
    let strips = strips::split(height, count);
    let mut pixels = if plan.converts_to_gray() { convert_to_gray(&plan, &pixels, height) } else { pixels };

    let row_len = plan.row_len();
    let total = strips
        .par_iter()
        .map(|s| plan.map(*s, pixels.slice(s.sample_range(row_len))).expect("strip fits its own plan"))
        .reduce(
            || plan.empty_histograms(),
            |mut a: Histograms, b| {
                a.merge(&b);
                a
            },
        );
    let luts = plan.reduce(&total);
    match &mut pixels {
        Pixels::U8(data) => for_each_strip_mut(data, &strips, row_len, |s, d| plan.apply(s, SamplesMut::U8(d), &luts)),
        Pixels::U16(data) => {
            for_each_strip_mut(data, &strips, row_len, |s, d| plan.apply(s, SamplesMut::U16(d), &luts))
        }
    }
    .expect("strip fits its own plan");
    Ok(Image::new(width, height, plan.output_layout(), pixels).expect("output has the plan's shape"))
}

/// Converts colour input to gray, strip-parallel.
fn convert_to_gray(plan: &Plan, pixels: &Pixels, height: u32) -> Pixels {
    let in_row = pixels.len() / height as usize;
    let parts: Vec<Pixels> = (0..height)
        .into_par_iter()
        .map(|y| plan.convert_to_gray(pixels.slice(y as usize * in_row..(y as usize + 1) * in_row)))
        .collect();
    let mut out = match pixels {
        Pixels::U8(_) => Pixels::U8(Vec::with_capacity(plan.row_len() * height as usize)),
        Pixels::U16(_) => Pixels::U16(Vec::with_capacity(plan.row_len() * height as usize)),
    };
    for part in parts {
        match (&mut out, part) {
            (Pixels::U8(o), Pixels::U8(p)) => o.extend_from_slice(&p),
            (Pixels::U16(o), Pixels::U16(p)) => o.extend_from_slice(&p),
            _ => unreachable!("conversion keeps the depth"),
        }
    }
    out
}

/// Runs `f` on each strip's disjoint part of `data`, in parallel.
fn for_each_strip_mut<T: Sample, E: Send>(
    data: &mut [T],
    strips: &[Strip],
    row_len: usize,
    f: impl Fn(Strip, &mut [T]) -> Result<(), E> + Sync,
) -> Result<(), E> {
    let mut parts = Vec::with_capacity(strips.len());
    let mut rest = data;
    for s in strips {
        let (head, tail) = rest.split_at_mut(s.rows as usize * row_len);
        parts.push((*s, head));
        rest = tail;
    }
    parts.into_par_iter().try_for_each(|(s, d)| f(s, d))
}
