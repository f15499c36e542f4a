//! NumPy arrays in and out: which arrays histo takes (uint8 or uint16,
//! H×W or H×W×C with C from 1 to 4), the [`Shape`] they stand for, and
//! the one copy a non-contiguous array costs.

use std::borrow::Cow;

use histo_core::{Depth, Layout, Shape};
use numpy::{Element, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// An input array of one of histo's two sample types.
pub enum Input<'py> {
    /// uint8 samples.
    U8(Array<'py, u8>),
    /// uint16 samples.
    U16(Array<'py, u16>),
}

/// A borrowed input array and the image it holds.
pub struct Array<'py, T: Element> {
    pub view: PyReadonlyArrayDyn<'py, T>,
    pub shape: Shape,
}

impl<T: Element + Copy> Array<'_, T> {
    /// The samples, row-major: borrowed when the array is C-contiguous,
    /// else copied once.
    pub fn samples(&self) -> Cow<'_, [T]> {
        // `as_slice` also takes Fortran order, whose memory order is not
        // the image's.
        match self.view.as_slice() {
            Ok(s) if self.view.is_c_contiguous() => Cow::Borrowed(s),
            _ => Cow::Owned(self.view.as_array().iter().copied().collect()),
        }
    }
}

/// Reads `value` as an image array; `what` names it in errors.
pub fn input<'py>(value: &Bound<'py, PyAny>, what: &str) -> PyResult<Input<'py>> {
    let Ok(untyped) = value.cast::<PyUntypedArray>() else {
        let type_name = value.get_type().name()?;
        return Err(PyTypeError::new_err(format!("{what} must be a NumPy array of uint8 or uint16, not {type_name}")));
    };
    if let Ok(a) = value.cast::<PyArrayDyn<u8>>() {
        let shape = shape_of(untyped.shape(), Depth::U8, what)?;
        return Ok(Input::U8(Array { view: a.try_readonly().map_err(busy)?, shape }));
    }
    if let Ok(a) = value.cast::<PyArrayDyn<u16>>() {
        let shape = shape_of(untyped.shape(), Depth::U16, what)?;
        return Ok(Input::U16(Array { view: a.try_readonly().map_err(busy)?, shape }));
    }
    let dtype = untyped.dtype();
    Err(PyTypeError::new_err(format!("{what} must be of dtype uint8 or uint16, not {dtype}")))
}

fn busy(e: numpy::BorrowError) -> PyErr {
    PyValueError::new_err(format!("the array is being written elsewhere: {e}"))
}

/// The image an array of these dimensions holds.
pub fn shape_of(dims: &[usize], depth: Depth, what: &str) -> PyResult<Shape> {
    let bad = || {
        PyValueError::new_err(format!(
            "{what} must be 2-D (height, width) or 3-D (height, width, channels) with 1 to 4 channels, \
             not of shape {dims:?}"
        ))
    };
    let layout = match dims {
        [_, _] | [_, _, 1] => Layout::Gray,
        [_, _, 2] => Layout::GrayAlpha,
        [_, _, 3] => Layout::Rgb,
        [_, _, 4] => Layout::Rgba,
        _ => return Err(bad()),
    };
    let side = |n: usize| {
        u32::try_from(n).map_err(|_| {
            PyValueError::new_err(format!("{what} is {n} pixels on a side; histo takes up to {}", u32::MAX))
        })
    };
    Ok(Shape { width: side(dims[1])?, height: side(dims[0])?, layout, depth })
}

/// The dimensions of an array holding `shape`, in the style of `like`
/// (a gray image stays 2-D when its input was 2-D or colour).
pub fn dims_of(shape: Shape, like: &[usize]) -> Vec<usize> {
    let (h, w) = (shape.height as usize, shape.width as usize);
    match (shape.layout.channels(), like) {
        (1, [_, _] | [_, _, 3 | 4]) => vec![h, w],
        (c, _) => vec![h, w, c],
    }
}

/// A new array, uninitialized as NumPy's `empty` leaves it: every sample
/// is written before the caller sees it, and zeroing a big array first
/// would cost as much as the equalization.
pub fn empty<'py, T: Element>(py: Python<'py>, dims: &[usize]) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let array = py.import("numpy")?.getattr("empty")?.call1((dims.to_vec(), T::get_dtype(py)))?;
    Ok(array.cast_into::<PyArrayDyn<T>>()?)
}

/// The array to write into: `out`, checked against `dims`, or a new one.
pub fn output<'py, T: Element>(
    py: Python<'py>,
    out: Option<&Bound<'py, PyAny>>,
    dims: &[usize],
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let Some(out) = out else {
        return empty(py, dims);
    };
    let Ok(array) = out.cast::<PyArrayDyn<T>>() else {
        let dtype = T::get_dtype(py);
        return Err(PyTypeError::new_err(format!("out must be a NumPy array of dtype {dtype}")));
    };
    if array.shape() != dims {
        return Err(PyValueError::new_err(format!("out has shape {:?}; the result has shape {dims:?}", array.shape())));
    }
    if !array.is_c_contiguous() {
        return Err(PyValueError::new_err("out must be C-contiguous"));
    }
    Ok(array.clone())
}
