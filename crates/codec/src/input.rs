//! Where an encoded image comes from: bytes already in memory (an upload),
//! or a file that is read as it is decoded, and read again when a strip
//! must be decoded a second time.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;

use crate::decode::DecodeError;
use crate::limits::Limits;

/// An encoded image, in memory or in a file. Cloning is cheap: memory is
/// shared, a file is named (and opened again by each reader).
#[derive(Clone, Debug)]
pub enum Input {
    /// Bytes in memory.
    Memory(Bytes),
    /// A file, as it was when the input was made.
    File(FileInput),
}

/// A file input: its path and what it looked like when first seen, so that
/// a file changed during a job is noticed when it is read again.
#[derive(Clone, Debug)]
pub struct FileInput {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
}

impl FileInput {
    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Something a PNG decoder can read and rewind.
pub(crate) trait Source: BufRead + Seek + Send {}

impl<T: BufRead + Seek + Send> Source for T {}

/// Read buffer of a file input: large enough that the decoder seldom waits
/// on a system call.
const FILE_BUFFER: usize = 256 * 1024;

/// Read buffer for a seeking decoder: enough for a directory's entries;
/// reads larger than it go straight to the file.
const SEEKING_BUFFER: usize = 8 * 1024;

impl Input {
    /// A file input; fails if the file cannot be opened or is not a file.
    pub fn file(path: impl Into<PathBuf>) -> io::Result<Input> {
        let path = path.into();
        let file = File::open(&path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::new(io::ErrorKind::IsADirectory, "it is a directory"));
        }
        Ok(Input::File(FileInput { path, len: meta.len(), modified: meta.modified().ok() }))
    }

    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Input::Memory(b) => b.len() as u64,
            Input::File(f) => f.len,
        }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A reader from its first byte, buffered for decoders that read in
    /// small pieces (PNG).
    pub(crate) fn reader(&self) -> Result<Box<dyn Source>, DecodeError> {
        self.reader_with(FILE_BUFFER)
    }

    /// A reader for decoders that seek to each chunk and read it whole
    /// (TIFF): a seek empties a buffer, so a large one would read ahead for
    /// nothing at every chunk.
    pub(crate) fn seeking_reader(&self) -> Result<Box<dyn Source>, DecodeError> {
        self.reader_with(SEEKING_BUFFER)
    }

    fn reader_with(&self, buffer: usize) -> Result<Box<dyn Source>, DecodeError> {
        match self {
            Input::Memory(b) => Ok(Box::new(Cursor::new(b.clone()))),
            Input::File(f) => {
                let file = File::open(&f.path)?;
                let meta = file.metadata()?;
                if meta.len() != f.len || meta.modified().ok() != f.modified {
                    return Err(DecodeError::Io(io::Error::other(format!(
                        "{} changed while it was being read",
                        f.path.display()
                    ))));
                }
                Ok(Box::new(BufReader::with_capacity(buffer, file)))
            }
        }
    }

    /// Its first `n` bytes (fewer if it is shorter).
    pub(crate) fn head(&self, n: usize) -> Result<Vec<u8>, DecodeError> {
        let mut head = Vec::with_capacity(n);
        self.reader()?.take(n as u64).read_to_end(&mut head)?;
        Ok(head)
    }

    /// All of it in memory, refusing more than `limits.max_input_bytes`.
    pub fn bytes(&self, limits: &Limits) -> Result<Bytes, DecodeError> {
        if self.len() > limits.max_input_bytes {
            return Err(DecodeError::TooLarge { limit: limits.max_input_bytes });
        }
        match self {
            Input::Memory(b) => Ok(b.clone()),
            Input::File(_) => {
                let bytes = crate::decode::read_limited(self.reader()?, limits)?;
                if bytes.len() as u64 != self.len() {
                    return Err(DecodeError::Io(io::Error::other("the input changed while it was being read")));
                }
                Ok(Bytes::from(bytes))
            }
        }
    }
}

impl From<Vec<u8>> for Input {
    fn from(v: Vec<u8>) -> Self {
        Input::Memory(Bytes::from(v))
    }
}

impl From<Bytes> for Input {
    fn from(b: Bytes) -> Self {
        Input::Memory(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_changed_after_it_was_seen_is_refused() {
        let dir = std::env::temp_dir().join(format!("histo-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in.bin");
        std::fs::write(&path, b"first").unwrap();
        let input = Input::file(&path).unwrap();
        assert_eq!(input.len(), 5);
        assert_eq!(&input.bytes(&Limits::CLI).unwrap()[..], b"first");
        std::fs::write(&path, b"second, longer").unwrap();
        let err = input.bytes(&Limits::CLI).unwrap_err();
        assert!(err.to_string().contains("changed"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn memory_input_is_limited_too() {
        let input = Input::from(vec![1u8; 11]);
        let limits = Limits { max_input_bytes: 10, ..Limits::CLI };
        assert!(matches!(input.bytes(&limits), Err(DecodeError::TooLarge { limit: 10 })));
        assert_eq!(input.head(4).unwrap(), vec![1; 4]);
    }

    #[test]
    fn a_directory_is_not_an_input() {
        assert!(Input::file(std::env::temp_dir()).is_err());
    }
}
