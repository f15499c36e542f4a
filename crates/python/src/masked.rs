//! `equalize` with a mask: the histograms count the pixels inside (nonzero
//! mask samples), the tables go to every pixel or only to those inside.
//! The same engine as the unmasked call, strip-parallel, GIL released.

use std::borrow::Cow;

use histo_core::options::{MaskApply, Options};
use histo_core::{Plan, local, sample::Sample};
use numpy::ndarray::ArrayView2;
use numpy::{Element, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::array::{self, Array};
use crate::equalize::run_into;
use crate::options::value_error;

/// Equalizes `array` from the pixels inside `mask` into `out` (a new
/// array when `None`; `out=a` works: the input is read first).
#[allow(clippy::too_many_arguments)]
pub fn equalize<'py, T: Sample + Element>(
    py: Python<'py>,
    array: Array<'py, T>,
    options: Options,
    mask: &PyReadonlyArray2<'py, u8>,
    apply: MaskApply,
    out: Option<&Bound<'py, PyAny>>,
    in_place: bool,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let plan = Plan::new(array.shape, options).map_err(value_error)?;
    let (width, height) = (plan.width() as usize, plan.height() as usize);
    check_size(mask.as_array(), width, height)?;
    // Borrowed when contiguous, as the package passes it; the engine
    // refuses an empty one.
    let mask: Cow<'_, [u8]> = match mask.as_slice() {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(mask.as_array().iter().copied().collect()),
    };
    let dims = array::dims_of(plan.output_shape(), array.view.shape());
    if in_place {
        // The input is copied first: the borrow of `a` must end before it
        // can be written.
        let input = array.samples().into_owned();
        let target = Bound::clone(&array.view);
        drop(array);
        let target = array::output::<T>(py, Some(target.as_any()), &dims)?;
        return run_into(py, &plan, &input, target, threads, |input, output, strips| {
            local::equalize_masked_into(&plan, input, output, strips, &mask, apply)
        });
    }
    let target = array::output::<T>(py, out, &dims)?;
    run_into(py, &plan, &array.samples(), target, threads, |input, output, strips| {
        local::equalize_masked_into(&plan, input, output, strips, &mask, apply)
    })
}

/// Checks that a mask has one sample per pixel of the image.
pub(crate) fn check_size(mask: ArrayView2<'_, u8>, width: usize, height: usize) -> PyResult<()> {
    if mask.dim() != (height, width) {
        let (h, w) = mask.dim();
        return Err(PyValueError::new_err(format!("mask is {h}x{w} (rows x columns); the image is {height}x{width}")));
    }
    Ok(())
}
