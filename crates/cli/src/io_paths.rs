//! Reading an input image and writing an output one, for the commands that
//! take files: `-` is standard input/output, and an output file appears
//! only once it is complete (it is written under a temporary name, then
//! renamed).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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
    check_input(path, limits)?;
    Ok(fs::read(path)?)
}

/// Checks an input file (it exists, is not a directory, is within the
/// byte limit) without reading it.
pub fn check_input(path: &Path, limits: &Limits) -> Result<()> {
    let meta = fs::metadata(path)?;
    if meta.is_dir() {
        bail!("it is a directory");
    }
    if meta.len() > limits.max_input_bytes {
        bail!("it is {} bytes, over the limit of {} (--max-input-bytes)", meta.len(), limits.max_input_bytes);
    }
    Ok(())
}

/// Writes the whole output or nothing: a file appears only once complete.
pub fn write_output(path: &Path, data: &[u8]) -> Result<()> {
    if is_stdio(path) {
        let mut out = io::stdout().lock();
        out.write_all(data).and_then(|_| out.flush()).context("cannot write to standard output")?;
        return Ok(());
    }
    let mut file = OutputFile::create(path)?;
    file.file().write_all(data).with_context(|| format!("cannot write {}", path.display()))?;
    file.commit()
}

/// An output file being written under a temporary name beside it: it
/// takes its name on [`OutputFile::commit`], and is removed if dropped
/// before.
pub struct OutputFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<fs::File>,
}

impl OutputFile {
    /// Creates the temporary file.
    pub fn create(path: &Path) -> Result<OutputFile> {
        let file_name = path.file_name().with_context(|| format!("'{}' is not a file name", path.display()))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(file_name);
        tmp_name.push(format!(".{}.tmp", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let file = fs::File::create(&tmp).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(OutputFile { path: path.to_owned(), tmp, file: Some(file) })
    }

    /// The file to write to.
    pub fn file(&mut self) -> &mut fs::File {
        self.file.as_mut().expect("the file is open until commit")
    }

    /// A second handle on the file, for a writer that must own one.
    pub fn handle(&self) -> Result<fs::File> {
        let file = self.file.as_ref().expect("the file is open until commit");
        file.try_clone().with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Gives the file its name.
    pub fn commit(mut self) -> Result<()> {
        drop(self.file.take());
        if let Err(e) = fs::rename(&self.tmp, &self.path) {
            let _ = fs::remove_file(&self.tmp);
            return Err(e).with_context(|| format!("cannot write {}", self.path.display()));
        }
        Ok(())
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}
