//! `equalize`: a whole array in one call, on all cores or `threads` of
//! them, with the GIL released. The result goes to a new array, to `out`,
//! or back into the input itself (`out=a`).

use histo_core::local;
use histo_core::options::MaskApply;
use histo_core::plan::StripError;
use histo_core::strips::{self, Strip};
use histo_core::{Plan, sample::Sample};
use numpy::{Element, PyArrayDyn, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::array::{self, Array, Input};
use crate::masked;
use crate::options::{self, value_error};
use crate::threads;

/// Equalizes an image array (see `histo.equalize`).
#[pyfunction]
#[pyo3(signature = (
    a, *, mode = "auto", method = "global", clip_limit = 2.0, tiles = (8, 8), mask = None, mask_apply = "all",
    out = None, threads = None
))]
#[allow(clippy::too_many_arguments)]
pub fn equalize<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    mode: &str,
    method: &str,
    clip_limit: f64,
    tiles: (u32, u32),
    mask: Option<PyReadonlyArray2<'py, u8>>,
    mask_apply: &str,
    out: Option<&Bound<'py, PyAny>>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let options = options::parse(mode, method, clip_limit, tiles)?;
    let apply: MaskApply = mask_apply.parse().map_err(value_error)?;
    threads::check(threads)?;
    let in_place = out.is_some_and(|o| o.is(a));
    if let Some(mask) = &mask {
        return match array::input(a, "a")? {
            Input::U8(array) => masked::equalize::<u8>(py, array, options, mask, apply, out, in_place, threads),
            Input::U16(array) => masked::equalize::<u16>(py, array, options, mask, apply, out, in_place, threads),
        };
    }
    if in_place {
        return match array::input(a, "a")? {
            Input::U8(array) => equalize_in_place::<u8>(py, array, options, threads),
            Input::U16(array) => equalize_in_place::<u16>(py, array, options, threads),
        };
    }
    match array::input(a, "a")? {
        Input::U8(array) => equalize_to::<u8>(py, array, options, out, threads),
        Input::U16(array) => equalize_to::<u16>(py, array, options, out, threads),
    }
}

fn equalize_to<'py, T: Sample + Element>(
    py: Python<'py>,
    array: Array<'py, T>,
    options: histo_core::Options,
    out: Option<&Bound<'py, PyAny>>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let plan = Plan::new(array.shape, options).map_err(value_error)?;
    let dims = array::dims_of(plan.output_shape(), array.view.shape());
    let result = array::output::<T>(py, out, &dims)?;
    run_into(py, &plan, &array.samples(), result, threads, |input, output, strips| {
        local::equalize_into(&plan, input, output, strips)
    })
}

/// Runs `job` from `input` into `target` on the strips for `threads`,
/// without the GIL.
pub(crate) fn run_into<'py, T: Sample + Element>(
    py: Python<'py>,
    plan: &Plan,
    input: &[T],
    target: Bound<'py, PyArrayDyn<T>>,
    threads: Option<usize>,
    job: impl Fn(&[T], &mut [T], &[Strip]) -> Result<(), StripError> + Send + Sync,
) -> PyResult<Bound<'py, PyAny>> {
    {
        let mut output = target.try_readwrite().map_err(value_error)?;
        let output = output.as_slice_mut().map_err(value_error)?;
        let strips = strips_for(plan, threads);
        py.detach(|| threads::run(threads, strips.len(), || job(input, output, &strips))).map_err(value_error)?;
    }
    Ok(target.into_any())
}

fn equalize_in_place<'py, T: Sample + Element>(
    py: Python<'py>,
    array: Array<'py, T>,
    options: histo_core::Options,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let plan = Plan::new(array.shape, options).map_err(value_error)?;
    if plan.converts_to_gray() {
        return Err(PyValueError::new_err("out=a cannot hold the result: mode 'gray' drops the colour channels"));
    }
    let target: Bound<'py, PyArrayDyn<T>> = Bound::clone(&array.view);
    drop(array);
    if !target.is_c_contiguous() {
        return Err(PyValueError::new_err("out must be C-contiguous"));
    }
    {
        let mut samples = target.try_readwrite().map_err(value_error)?;
        let samples = samples.as_slice_mut().map_err(value_error)?;
        let strips = strips_for(&plan, threads);
        py.detach(|| threads::run(threads, strips.len(), || local::equalize_in_place(&plan, samples, &strips)))
            .map_err(value_error)?;
    }
    Ok(target.into_any())
}

/// The strips to run in on `threads` threads. An array is not compressed
/// in pieces, so unlike a file its strips may follow the pool: a small image
/// still keeps every thread busy.
pub(crate) fn strips_for(plan: &Plan, threads: Option<usize>) -> Vec<Strip> {
    let count = strips::count_for(plan.height(), plan.row_len());
    let threads = threads.unwrap_or_else(rayon::current_num_threads);
    local::plan_strips(plan, Some(if threads > 1 { count.max(2 * threads) } else { count }))
}
