//! histo's Python extension module, `histo._histo`: equalization on NumPy
//! arrays and image files, built on histo-core (and, for files, on the
//! same pipeline as `histo equalize`). The `histo` package around it
//! (crates/python/python/histo) adds the Python-facing API, its checks
//! and documentation, and the Dask graphs.
//!
//! Every function releases the GIL while it works.

mod array;
mod blocks;
mod equalize;
mod files;
mod masked;
mod matching;
mod options;
mod pieces;
mod threads;

use pyo3::prelude::*;

#[pymodule]
fn _histo(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(equalize::equalize, m)?)?;
    m.add_function(wrap_pyfunction!(pieces::histogram, m)?)?;
    m.add_function(wrap_pyfunction!(pieces::table, m)?)?;
    m.add_function(wrap_pyfunction!(pieces::apply, m)?)?;
    m.add_function(wrap_pyfunction!(blocks::map_block, m)?)?;
    m.add_function(wrap_pyfunction!(blocks::reduce_bins, m)?)?;
    m.add_function(wrap_pyfunction!(blocks::apply_block, m)?)?;
    m.add_function(wrap_pyfunction!(blocks::output_shape, m)?)?;
    m.add_function(wrap_pyfunction!(files::equalize_file, m)?)?;
    m.add_function(wrap_pyfunction!(matching::match_histograms, m)?)?;
    Ok(())
}
