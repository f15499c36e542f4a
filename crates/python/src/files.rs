//! `equalize_file`: a file to a file through histo's own pipeline (the
//! one `histo equalize` runs), so a big image never becomes one array:
//! PNG input is decoded strip by strip and the output written as it is
//! made, under a temporary name that takes the final one at the end.

use std::path::PathBuf;

use histo_cluster::{Admission, Cluster, EventBus, JobSpec, RunError};
use histo_codec::{EncodeSettings, Format, Input, JpegQuality, Limits, TiffCompression};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::options;

/// Equalizes the image file `src` into `dst` (see `histo.equalize_file`).
#[pyfunction]
#[pyo3(signature = (
    src, dst, *, mode = "auto", method = "global", clip_limit = 2.0, tiles = (8, 8), format = None, threads = None,
    png_level = None, tiff_compression = None, jpeg_quality = None,
))]
#[allow(clippy::too_many_arguments)]
pub fn equalize_file(
    py: Python<'_>,
    src: PathBuf,
    dst: PathBuf,
    mode: &str,
    method: &str,
    clip_limit: f64,
    tiles: (u32, u32),
    format: Option<&str>,
    threads: Option<usize>,
    png_level: Option<i64>,
    tiff_compression: Option<&str>,
    jpeg_quality: Option<i64>,
) -> PyResult<()> {
    let options = options::parse(mode, method, clip_limit, tiles)?;
    let encode = encode_settings(png_level, tiff_compression, jpeg_quality)?;
    crate::threads::check(threads)?;
    let format = match format {
        Some(f) => f.parse::<Format>().map_err(options::value_error)?,
        None => Format::from_path(&dst).ok_or_else(|| {
            PyValueError::new_err(format!(
                "cannot tell the output format from '{}': pass format='png', 'jpeg', 'tiff', 'bmp' or 'webp'",
                dst.display()
            ))
        })?,
    };
    let input = Input::file(&src)?;
    let dir = match dst.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let output = tempfile::Builder::new().prefix(".histo-").suffix(".tmp").tempfile_in(&dir)?;
    let file = output.as_file().try_clone()?;
    let workers = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let spec = JobSpec {
        options,
        format: Some(format),
        encode,
        limits: Limits::CLI,
        request_id: None,
        reference: None,
        mask: None,
        strip_rows: None,
        shared: None,
    };
    py.detach(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()?;
        runtime.block_on(async {
            let one_job = Admission { max_running: 1, max_waiting: 0 };
            let cannot =
                |e: RunError| PyValueError::new_err(format!("cannot equalize {}: {}", src.display(), one_line(&e)));
            let cluster = Cluster::embedded(workers, one_job, EventBus::new()).map_err(cannot)?;
            let result = cluster.run_to(input, spec, file).await;
            cluster.close().await;
            result.map(drop).map_err(cannot)
        })
    })?;
    output.persist(&dst).map_err(|e| PyErr::from(e.error))?;
    Ok(())
}

/// `histo equalize`'s output settings, those not given at its defaults.
fn encode_settings(
    png_level: Option<i64>,
    tiff_compression: Option<&str>,
    jpeg_quality: Option<i64>,
) -> PyResult<EncodeSettings> {
    let mut settings = EncodeSettings::default();
    if let Some(level) = png_level {
        settings.png.level = u32::try_from(level)
            .ok()
            .filter(|l| *l <= 9)
            .ok_or_else(|| PyValueError::new_err(format!("png_level {level} is not 0 to 9")))?;
    }
    if let Some(compression) = tiff_compression {
        settings.tiff = compression.parse::<TiffCompression>().map_err(PyValueError::new_err)?;
    }
    if let Some(quality) = jpeg_quality {
        settings.jpeg_quality = u8::try_from(quality)
            .ok()
            .and_then(JpegQuality::new)
            .ok_or_else(|| PyValueError::new_err(format!("jpeg_quality {quality} is not 1 to 100")))?;
    }
    Ok(settings)
}

/// An error and its causes on one line, as `histo equalize` prints them.
fn one_line(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        line.push_str(": ");
        line.push_str(&s.to_string());
        source = s.source();
    }
    line
}
