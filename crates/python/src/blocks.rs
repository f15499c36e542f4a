//! One job's phases on blocks of rows, for a scheduler that holds the
//! image in pieces (histo.Plan, histo.dask): `map_block` counts a band of
//! rows, `reduce_bins` turns the summed counts into tables, `apply_block`
//! maps a band through them. Bands must span the image's full width for
//! CLAHE, whose tiles depend on where a row is; the global method takes
//! any block, as a band of an image of the block's own size.

use histo_core::color;
use histo_core::plan::{Histograms, Luts};
use histo_core::sample::Sample;
use histo_core::strips::Strip;
use histo_core::{Depth, Options, Plan, Shape};
use numpy::{Element, IntoPyArray, PyArrayMethods, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::array::{self, Array, Input};
use crate::options::{self, value_error};

/// The job's options and where a block sits in the image.
#[derive(FromPyObject)]
pub struct Spec {
    mode: String,
    method: String,
    clip_limit: f64,
    tiles: (u32, u32),
    /// The whole image's height; `None` for a block taken as an image.
    height: Option<u32>,
}

impl Spec {
    fn options(&self) -> PyResult<Options> {
        options::parse(&self.mode, &self.method, self.clip_limit, self.tiles)
    }

    /// The plan for the image `block` belongs to, and the block's strip.
    fn plan(&self, block: Shape, y0: u32) -> PyResult<(Plan, Strip)> {
        let height = self.height.unwrap_or(block.height);
        let plan = Plan::new(Shape { height, ..block }, self.options()?).map_err(value_error)?;
        if y0.checked_add(block.height).is_none_or(|end| end > height) {
            let rows = block.height;
            return Err(PyValueError::new_err(format!("a block of {rows} rows at row {y0} overruns {height} rows")));
        }
        Ok((plan, Strip { index: 0, y0, rows: block.height }))
    }
}

/// Counts one band of rows: the job's histograms, flattened.
#[pyfunction]
pub fn map_block<'py>(py: Python<'py>, block: &Bound<'py, PyAny>, y0: u32, spec: Spec) -> PyResult<Bound<'py, PyAny>> {
    let bins = match array::input(block, "block")? {
        Input::U8(b) => map_typed(py, &b, y0, &spec)?,
        Input::U16(b) => map_typed(py, &b, y0, &spec)?,
    };
    Ok(bins.bins.into_pyarray(py).into_any())
}

fn map_typed<T: Sample + Element>(py: Python<'_>, block: &Array<'_, T>, y0: u32, spec: &Spec) -> PyResult<Histograms> {
    let (plan, strip) = spec.plan(block.shape, y0)?;
    let samples = block.samples();
    py.detach(|| {
        if plan.converts_to_gray() {
            let gray = plan.convert_to_gray(T::wrap(&samples));
            return plan.map(strip, gray.slice(0..gray.len()));
        }
        plan.map(strip, T::wrap(&samples))
    })
    .map_err(value_error)
}

/// Turns a job's summed counts into its tables.
#[pyfunction]
pub fn reduce_bins<'py>(
    py: Python<'py>,
    bins: PyReadonlyArray1<'py, u64>,
    shape: Vec<usize>,
    dtype: &str,
    spec: Spec,
) -> PyResult<Bound<'py, PyAny>> {
    let image = array::shape_of(&shape, depth_of(dtype)?, "shape")?;
    let (plan, _) = spec.plan(image, 0)?;
    let total = Histograms { bins: bins.as_slice().map_err(value_error)?.to_vec() };
    if total.bins.len() != plan.bin_count() {
        let (got, want) = (total.bins.len(), plan.bin_count());
        return Err(PyValueError::new_err(format!("bins has {got} counts; this job has {want}")));
    }
    Ok(match py.detach(|| plan.reduce(&total)) {
        Luts::U8(t) => t.into_pyarray(py).into_any(),
        Luts::U16(t) => t.into_pyarray(py).into_any(),
    })
}

/// Maps one band of rows through the job's tables, into a new array.
#[pyfunction]
pub fn apply_block<'py>(
    py: Python<'py>,
    block: &Bound<'py, PyAny>,
    tables: &Bound<'py, PyAny>,
    y0: u32,
    spec: Spec,
) -> PyResult<Bound<'py, PyAny>> {
    match array::input(block, "block")? {
        Input::U8(b) => apply_typed(py, &b, tables, y0, &spec, Luts::U8),
        Input::U16(b) => apply_typed(py, &b, tables, y0, &spec, Luts::U16),
    }
}

fn apply_typed<'py, T: Sample + Element>(
    py: Python<'py>,
    block: &Array<'py, T>,
    tables: &Bound<'py, PyAny>,
    y0: u32,
    spec: &Spec,
    luts: fn(Vec<T>) -> Luts,
) -> PyResult<Bound<'py, PyAny>> {
    let Ok(tables) = tables.extract::<PyReadonlyArray1<'py, T>>() else {
        return Err(PyTypeError::new_err(format!("tables must be a 1-D array of {}", T::get_dtype(py))));
    };
    let luts = luts(tables.as_slice().map_err(value_error)?.to_vec());
    let (plan, strip) = spec.plan(block.shape, y0)?;
    let dims = array::dims_of(Shape { height: block.shape.height, ..plan.output_shape() }, block.view.shape());
    let result = array::empty::<T>(py, &dims)?;
    let channels = block.shape.layout.channels();
    {
        let input = block.samples();
        let mut output = result.try_readwrite().map_err(value_error)?;
        let output = output.as_slice_mut().map_err(value_error)?;
        py.detach(|| {
            if plan.converts_to_gray() {
                color::to_gray(&input, channels, output);
                plan.apply(strip, T::wrap_mut(output), &luts)
            } else {
                plan.apply_from(strip, T::wrap(&input), T::wrap_mut(output), &luts)
            }
        })
        .map_err(value_error)?;
    }
    Ok(result.into_any())
}

/// The shape of the job's output for an input of `shape`: checks every
/// option against the image before any work.
#[pyfunction]
pub fn output_shape(shape: Vec<usize>, dtype: &str, spec: Spec) -> PyResult<Vec<usize>> {
    let image = array::shape_of(&shape, depth_of(dtype)?, "shape")?;
    let (plan, _) = spec.plan(image, 0)?;
    Ok(array::dims_of(plan.output_shape(), &shape))
}

fn depth_of(dtype: &str) -> PyResult<Depth> {
    match dtype {
        "uint8" => Ok(Depth::U8),
        "uint16" => Ok(Depth::U16),
        _ => Err(PyTypeError::new_err(format!("dtype must be uint8 or uint16, not {dtype}"))),
    }
}
