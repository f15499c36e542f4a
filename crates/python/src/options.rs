//! The job options as Python passes them (`mode="luma"`, `tiles=(8, 8)`),
//! checked whatever the method, turned into histo-core's [`Options`].

use histo_core::options::{self, ClaheParams, Method, Mode, Options};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Checks every option and builds the job's [`Options`]. The CLAHE
/// settings are validated even for the global method, so that a bad value
/// never passes silently.
pub fn parse(mode: &str, method: &str, clip_limit: f64, tiles: (u32, u32)) -> PyResult<Options> {
    let mode: Mode = mode.parse().map_err(value_error)?;
    let method = Method::from_name(method).map_err(value_error)?;
    let params = ClaheParams { clip_limit, tiles_x: tiles.0, tiles_y: tiles.1 };
    params.validate().map_err(|e| match e {
        options::OptionError::Tiles(_) => {
            PyValueError::new_err(format!("invalid tiles {tiles:?} (expected (columns, rows), each 1 to 256)"))
        }
        e => value_error(e),
    })?;
    let method = match method {
        Method::Clahe(_) => Method::Clahe(params),
        Method::Global => Method::Global,
    };
    Ok(Options { mode, method })
}

/// A histo error as Python's `ValueError`, with histo's one-line message.
pub fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}
