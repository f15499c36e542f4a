//! Runs a whole job in this process: strips in parallel on rayon's pool.
//!
//! This is the in-process stand-in for a cluster of workers: the same
//! [`Plan`] phases, with rayon threads as the workers. [`equalize`] owns
//! an [`Image`]; [`equalize_into`] and [`equalize_in_place`] work on
//! borrowed samples, such as a NumPy array's.

use rayon::prelude::*;

use crate::color;
use crate::image::{Image, Pixels};
use crate::matching;
use crate::options::{MaskApply, OptionError, Options};
use crate::plan::{Histograms, Luts, Plan, StripError, restore_outside};
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
    let strips = plan_strips(&plan, strip_count);
    let mut pixels = if plan.converts_to_gray() { convert_to_gray(&plan, &pixels, height) } else { pixels };
    match &mut pixels {
        Pixels::U8(data) => equalize_in_place(&plan, data, &strips),
        Pixels::U16(data) => equalize_in_place(&plan, data, &strips),
    }
    .expect("samples fit their own plan");
    Ok(Image::new(width, height, plan.output_layout(), pixels).expect("output has the plan's shape"))
}

/// The strips a job on this plan runs in: `count`, or about
/// [`strips::STRIP_SAMPLES`] samples each.
pub fn plan_strips(plan: &Plan, count: Option<usize>) -> Vec<Strip> {
    if plan.height() == 0 || plan.width() == 0 {
        return Vec::new();
    }
    let count = count.unwrap_or_else(|| strips::count_for(plan.height(), plan.row_len()));
    strips::split(plan.height(), count)
}

/// Equalizes `samples`, already in the plan's working layout, in place.
pub fn equalize_in_place<T: Sample>(plan: &Plan, samples: &mut [T], strips: &[Strip]) -> Result<(), StripError> {
    in_place_with(plan, samples, strips, |total| plan.reduce(total))
}

/// Equalizes `input` (in the plan's input layout) into `output` (in its
/// working layout), leaving the input untouched.
pub fn equalize_into<T: Sample>(
    plan: &Plan,
    input: &[T],
    output: &mut [T],
    strips: &[Strip],
) -> Result<(), StripError> {
    into_with(plan, input, output, strips, |total| plan.reduce(total))
}

/// Matches `input`'s histograms to `reference` (which
/// [`matching::check`] accepted for this plan) into `output`.
pub fn match_into<T: Sample>(
    plan: &Plan,
    input: &[T],
    output: &mut [T],
    strips: &[Strip],
    reference: &Histograms,
) -> Result<(), StripError> {
    into_with(plan, input, output, strips, |total| matching::reduce(plan, total, reference))
}

/// Map, then `reduce`, then apply, in place.
fn in_place_with<T: Sample>(
    plan: &Plan,
    samples: &mut [T],
    strips: &[Strip],
    reduce: impl FnOnce(&Histograms) -> Luts,
) -> Result<(), StripError> {
    let luts = reduce(&count(plan, samples, strips)?);
    for_each_strip_mut(samples, strips, plan.row_len(), |s, d| plan.apply(s, T::wrap_mut(d), &luts))
}

/// Map, then `reduce`, then apply, from `input` into `output`.
fn into_with<T: Sample>(
    plan: &Plan,
    input: &[T],
    output: &mut [T],
    strips: &[Strip],
    reduce: impl FnOnce(&Histograms) -> Luts,
) -> Result<(), StripError> {
    let row_len = plan.row_len();
    fits_whole(plan, output.len(), row_len)?;
    if plan.converts_to_gray() {
        to_working(plan, input, output, strips)?;
        return in_place_with(plan, output, strips, reduce);
    }
    let luts = reduce(&count(plan, input, strips)?);
    for_each_strip_mut(output, strips, row_len, |s, d| {
        plan.apply_from(s, T::wrap(&input[s.sample_range(row_len)]), T::wrap_mut(d), &luts)
    })
}

/// The map phase over every strip, summed: `samples` in the plan's
/// working layout.
pub fn count<T: Sample>(plan: &Plan, samples: &[T], strips: &[Strip]) -> Result<Histograms, StripError> {
    let row_len = plan.row_len();
    fits_whole(plan, samples.len(), row_len)?;
    sum_strips(plan, strips, |s| plan.map(*s, T::wrap(&samples[s.sample_range(row_len)])))
}

/// Equalizes `input` into `output` from the histograms of the pixels
/// inside `mask` (one sample per pixel, nonzero inside): the tables go to
/// every pixel, or with [`MaskApply::Inside`] only to those inside.
pub fn equalize_masked_into<T: Sample>(
    plan: &Plan,
    input: &[T],
    output: &mut [T],
    strips: &[Strip],
    mask: &[u8],
    apply: MaskApply,
) -> Result<(), StripError> {
    let (width, row_len) = (plan.width() as usize, plan.row_len());
    let want = width * plan.height() as usize;
    if mask.len() != want {
        return Err(StripError::Mask { want, got: mask.len() });
    }
    if !mask.iter().any(|&m| m != 0) {
        return Err(StripError::EmptyMask);
    }
    fits_whole(plan, output.len(), row_len)?;
    let inside = |s: &Strip| &mask[s.y0 as usize * width..(s.y0 + s.rows) as usize * width];
    let count_inside = |samples: &[T]| {
        sum_strips(plan, strips, |s| plan.map_inside(*s, T::wrap(&samples[s.sample_range(row_len)]), inside(s)))
    };
    if plan.converts_to_gray() {
        to_working(plan, input, output, strips)?;
        let luts = plan.reduce(&count_inside(output)?);
        return for_each_strip_mut(output, strips, row_len, |s, d| match apply {
            MaskApply::All => plan.apply(s, T::wrap_mut(d), &luts),
            MaskApply::Inside => plan.apply_inside(s, T::wrap_mut(d), &luts, inside(&s)),
        });
    }
    fits_whole(plan, input.len(), row_len)?;
    let luts = plan.reduce(&count_inside(input)?);
    // From the input straight into the output, the outside put back from
    // the input: no copy first.
    let channels = plan.output_layout().channels();
    for_each_strip_mut(output, strips, row_len, |s, d| {
        let src = &input[s.sample_range(row_len)];
        plan.apply_from(s, T::wrap(src), T::wrap_mut(d), &luts)?;
        if apply == MaskApply::Inside {
            restore_outside(channels, d, src, inside(&s));
        }
        Ok(())
    })
}

/// Colour input converted to the plan's gray working layout, into `output`.
fn to_working<T: Sample>(plan: &Plan, input: &[T], output: &mut [T], strips: &[Strip]) -> Result<(), StripError> {
    let in_shape = plan.input_shape();
    let in_row = in_shape.row_len();
    fits_whole(plan, input.len(), in_row)?;
    let channels = in_shape.layout.channels();
    for_each_strip_mut(output, strips, plan.row_len(), |s, d| {
        color::to_gray(&input[s.sample_range(in_row)], channels, d);
        Ok(())
    })
}

/// Each strip's histograms by `map`, summed, strip-parallel.
fn sum_strips(
    plan: &Plan,
    strips: &[Strip],
    map: impl Fn(&Strip) -> Result<Histograms, StripError> + Sync + Send,
) -> Result<Histograms, StripError> {
    if let [one] = strips {
        return map(one);
    }
    strips.par_iter().map(map).try_reduce(
        || plan.empty_histograms(),
        |mut a, b| {
            a.merge(&b);
            Ok(a)
        },
    )
}

/// Checks that `samples` fill the whole image at `row_len` samples a row.
fn fits_whole(plan: &Plan, samples: usize, row_len: usize) -> Result<(), StripError> {
    let (width, height) = (plan.width(), plan.height());
    if samples == row_len * height as usize {
        return Ok(());
    }
    Err(StripError::Shape { y0: 0, rows: height, samples, width, height })
}

/// Converts colour input to gray, strip-parallel.
fn convert_to_gray(plan: &Plan, pixels: &Pixels, height: u32) -> Pixels {
    let in_row = pixels.len() / height.max(1) as usize;
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
    // One strip runs on the calling thread: no hand-over to the pool.
    if let [(s, d)] = parts.as_mut_slice() {
        return f(*s, d);
    }
    parts.into_par_iter().try_for_each(|(s, d)| f(s, d))
}
