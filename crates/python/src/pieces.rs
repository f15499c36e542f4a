//! The map, reduce and apply phases as functions on arrays, for users who
//! distribute the work themselves: `histogram` counts (inside a mask,
//! if given), `table` turns counts into histo's equalization table, and
//! `apply` maps samples through a table. Per channel for H×W×C arrays.

use histo_core::sample::Sample;
use histo_core::{histogram as count, lut};
use numpy::ndarray::{Array2, ArrayView2, Axis};
use numpy::{Element, IntoPyArray, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::array::{self, Array, Input};
use crate::options::value_error;

/// Counts each channel's levels (see `histo.histogram`).
#[pyfunction]
#[pyo3(signature = (a, mask = None))]
pub fn histogram<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    mask: Option<PyReadonlyArray2<'py, u8>>,
) -> PyResult<Bound<'py, PyAny>> {
    match array::input(a, "a")? {
        Input::U8(array) => counts::<u8>(py, &array, mask.as_ref()),
        Input::U16(array) => counts::<u16>(py, &array, mask.as_ref()),
    }
}

fn counts<'py, T: Sample + Element>(
    py: Python<'py>,
    array: &Array<'py, T>,
    mask: Option<&PyReadonlyArray2<'py, u8>>,
) -> PyResult<Bound<'py, PyAny>> {
    let shape = array.shape;
    let channels = shape.layout.channels();
    let samples = array.samples();
    let mask = match mask {
        Some(m) => Some(mask_samples(m.as_array(), shape.width as usize, shape.height as usize)?),
        None => None,
    };
    let bins = py.detach(|| {
        let mut bins = Array2::<u64>::zeros((channels, T::LEVELS));
        for (c, mut hist) in bins.axis_iter_mut(Axis(0)).enumerate() {
            let hist = hist.as_slice_mut().expect("a fresh array is contiguous");
            match &mask {
                None if channels == 1 => count::count(&samples, hist),
                None => count::count_strided(&samples, channels, c, hist),
                Some(mask) => {
                    let inside = samples.chunks_exact(channels).zip(mask.iter()).filter(|(_, m)| **m != 0);
                    inside.for_each(|(px, _)| hist[px[c].index()] += 1);
                }
            }
        }
        bins
    });
    let two_d = array.view.ndim() == 2;
    Ok(if two_d { bins.remove_axis(Axis(0)).into_pyarray(py).into_any() } else { bins.into_pyarray(py).into_any() })
}

/// A mask's samples, checked against the image's size.
fn mask_samples(mask: ArrayView2<'_, u8>, width: usize, height: usize) -> PyResult<Vec<u8>> {
    crate::masked::check_size(mask, width, height)?;
    let samples: Vec<u8> = mask.iter().copied().collect();
    if samples.iter().all(|&m| m == 0) {
        return Err(PyValueError::new_err("mask is empty: no pixel is inside it"));
    }
    Ok(samples)
}

/// Builds equalization tables from counts (see `histo.table`).
#[pyfunction]
pub fn table<'py>(py: Python<'py>, hist: PyReadonlyArray2<'py, u64>) -> PyResult<Bound<'py, PyAny>> {
    let rows = hist.as_array().nrows();
    let bins = c_order(&hist)?;
    Ok(match hist.as_array().ncols() {
        256 => tables::<u8>(bins, rows).into_pyarray(py).into_any(),
        65536 => tables::<u16>(bins, rows).into_pyarray(py).into_any(),
        n => {
            return Err(PyValueError::new_err(format!(
                "hist has {n} bins; histo tables are for 256 (uint8) or 65536 (uint16) levels"
            )));
        }
    })
}

/// A 2-D array's values, row after row (`as_slice` alone also takes
/// Fortran order).
fn c_order<'a, T: Element>(a: &'a PyReadonlyArray2<'_, T>) -> PyResult<&'a [T]> {
    match a.as_slice() {
        Ok(s) if a.is_c_contiguous() => Ok(s),
        _ => Err(PyValueError::new_err("tables and counts must be C-contiguous")),
    }
}

/// One table per row of `T::LEVELS` bins.
fn tables<T: Sample + Element>(bins: &[u64], rows: usize) -> Array2<T> {
    let flat: Vec<T> = bins.chunks_exact(T::LEVELS).flat_map(lut::equalize::<T>).collect();
    Array2::from_shape_vec((rows, T::LEVELS), flat).expect("one table per row")
}

/// Maps samples through tables (see `histo.apply`).
#[pyfunction]
#[pyo3(signature = (a, table, out = None))]
pub fn apply<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    table: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    match array::input(a, "a")? {
        Input::U8(array) => apply_typed::<u8>(py, array, table, out),
        Input::U16(array) => apply_typed::<u16>(py, array, table, out),
    }
}

fn apply_typed<'py, T: Sample + Element>(
    py: Python<'py>,
    array: Array<'py, T>,
    table: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let Ok(table) = table.extract::<PyReadonlyArray2<'py, T>>() else {
        let dtype = T::get_dtype(py);
        return Err(PyTypeError::new_err(format!("table must be a 2-D array of the image's dtype, {dtype}")));
    };
    let channels = array.shape.layout.channels();
    let (rows, cols) = table.as_array().dim();
    if cols != T::LEVELS || (rows != 1 && rows != channels) {
        return Err(PyValueError::new_err(format!(
            "table has shape ({rows}, {cols}); this image needs (1, {levels}) or ({channels}, {levels})",
            levels = T::LEVELS
        )));
    }
    let dims = array.view.shape().to_vec();
    let result = array::output::<T>(py, out, &dims)?;
    {
        let input = array.samples();
        let mut output = result.try_readwrite().map_err(value_error)?;
        let output = output.as_slice_mut().map_err(value_error)?;
        let table = c_order(&table)?;
        py.detach(|| {
            if table.len() == T::LEVELS {
                return lut::apply_into(&input, output, table);
            }
            output.copy_from_slice(&input);
            for (c, t) in table.chunks_exact(T::LEVELS).enumerate() {
                lut::apply_strided(output, channels, c, t);
            }
        });
    }
    Ok(result.into_any())
}
