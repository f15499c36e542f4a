//! Reading an input image and writing an output one, for the commands that
//! take files: `-` is standard input/output, and an output file appears
//! only once it is complete.

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use histo_codec::Limits;

/// Whether a path names standard input/output (`-`).
pub fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Reads an input file, or standard input, within the byte limit.
pub fn read_input(path: &Path, limits: &Limits) -> Result<Vec<u8>> {
    if is_stdio(path) {
        return Ok(histo_codec::read_limited(io::stdin().lock(), limits)?);
    }
    let meta = fs::metadata(path)?;
    if meta.is_dir() {
        bail!("it is a directory");
    }
    if meta.len() > limits.max_input_bytes {
        bail!("it is {} bytes, over the limit of {} (--max-input-bytes)", meta.len(), limits.max_input_bytes);
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    fs::File::open(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Writes the whole output or nothing: a file appears only once complete.
pub fn write_output(path: &Path, data: &[u8]) -> Result<()> {
    if is_stdio(path) {
        let mut out = io::stdout().lock();
        out.write_all(data).and_then(|_| out.flush()).context("cannot write to standard output")?;
        return Ok(());
    }
    let file_name = path.file_name().with_context(|| format!("'{}' is not a file name", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = fs::write(&tmp, data).and_then(|_| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}
