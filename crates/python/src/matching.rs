//! `match_histograms`: an array given the histograms of a reference array
//! (histogram specification, `histo.match`), on all cores or `threads` of
//! them, with the GIL released.

use histo_core::options::{Method, Mode, Options};
use histo_core::plan::Histograms;
use histo_core::{Plan, local, matching, sample::Sample};
use numpy::{Element, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::array::{self, Array, Input};
use crate::equalize::{run_into, strips_for};
use crate::options::value_error;
use crate::threads;

/// Matches an image array's histograms to a reference's (see `histo.match`).
#[pyfunction]
#[pyo3(signature = (a, reference, *, mode = "auto", out = None, threads = None))]
pub fn match_histograms<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    reference: &Bound<'py, PyAny>,
    mode: &str,
    out: Option<&Bound<'py, PyAny>>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let mode: Mode = mode.parse().map_err(value_error)?;
    let options = Options { mode, method: Method::Global };
    threads::check(threads)?;
    let counts = match array::input(reference, "reference")? {
        Input::U8(r) => reference_counts::<u8>(py, r, options, threads)?,
        Input::U16(r) => reference_counts::<u16>(py, r, options, threads)?,
    };
    match array::input(a, "a")? {
        Input::U8(array) => match_to::<u8>(py, array, options, &counts, out, threads),
        Input::U16(array) => match_to::<u16>(py, array, options, &counts, out, threads),
    }
}

/// The reference's histograms, counted as the job counts its own input.
fn reference_counts<T: Sample + Element>(
    py: Python<'_>,
    array: Array<'_, T>,
    options: Options,
    threads: Option<usize>,
) -> PyResult<Histograms> {
    let plan = Plan::new(array.shape, options).map_err(|e| value_error(format!("reference: {e}")))?;
    let samples = array.samples();
    let strips = strips_for(&plan, threads);
    py.detach(|| {
        threads::run(threads, strips.len(), || {
            if plan.converts_to_gray() {
                let gray = plan.convert_to_gray(T::wrap(&samples));
                match gray {
                    histo_core::Pixels::U8(g) => local::count(&plan, &g, &strips),
                    histo_core::Pixels::U16(g) => local::count(&plan, &g, &strips),
                }
            } else {
                local::count(&plan, &samples, &strips)
            }
        })
    })
    .map_err(value_error)
}

fn match_to<'py, T: Sample + Element>(
    py: Python<'py>,
    array: Array<'py, T>,
    options: Options,
    reference: &Histograms,
    out: Option<&Bound<'py, PyAny>>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let plan = Plan::new(array.shape, options).map_err(value_error)?;
    matching::check(&plan, reference).map_err(value_error)?;
    let dims = array::dims_of(plan.output_shape(), array.view.shape());
    let result = array::output::<T>(py, out, &dims)?;
    run_into(py, &plan, &array.samples(), result, threads, |input, output, strips| {
        local::match_into(&plan, input, output, strips, reference)
    })
}
