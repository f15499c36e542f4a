//! Upload bodies on their way to a job: kept in memory while small, written
//! to a file in the spool directory once past [`MEMORY_BYTES`], so that
//! uploads waiting for a job slot cost disk, not memory, and the job reads
//! a PNG, JPEG or TIFF from that file a strip at a time.
//!
//! A spooled file is removed when its upload is done with: answered,
//! refused, or its client gone (the handler is dropped, and the file with
//! it). Files are named after the process and a token drawn at its start,
//! so that the next process on the same directory removes what a process
//! that died left ([`Spool::open`]), and never a live one's files.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use histo_codec::Input;
use tokio::io::AsyncWriteExt;

/// Bytes of a body kept in memory; a larger one goes to a file.
pub const MEMORY_BYTES: usize = 1 << 20;

/// Start of every spooled file's name.
const PREFIX: &str = "upload-";

/// The spool directory, shared by the handlers.
#[derive(Clone, Debug)]
pub struct Spool(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    /// This process's part of each file name: `<pid>-<token>-`.
    owner: String,
    next: AtomicU64,
}

impl Spool {
    /// The default directory: the system's temporary directory, one per
    /// user.
    pub fn default_dir() -> PathBuf {
        let uid = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
        std::env::temp_dir().join(format!("histo-spool-{uid}"))
    }

    /// Opens `dir` (created private to this user if missing; refused if it
    /// is a link or another user's) and removes the files that processes no
    /// longer running left in it.
    pub fn open(dir: &Path) -> io::Result<Spool> {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        let meta = fs::symlink_metadata(dir)?;
        let own_uid = fs::metadata("/proc/self").map(|m| m.uid())?;
        if !meta.is_dir() || meta.uid() != own_uid {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("spool directory {} is not a directory of this user", dir.display()),
            ));
        }
        let mut token = [0u8; 8];
        getrandom::fill(&mut token).map_err(io::Error::other)?;
        let owner = format!("{}-{:016x}-", std::process::id(), u64::from_le_bytes(token));
        let spool = Spool(Arc::new(Inner { dir: dir.to_owned(), owner, next: AtomicU64::new(0) }));
        let removed = spool.sweep()?;
        if removed > 0 {
            tracing::info!(dir = %dir.display(), removed, "removed uploads left by a process that stopped");
        }
        Ok(spool)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.0.dir
    }

    /// Removes the spooled files of processes that are not running: the
    /// number removed.
    fn sweep(&self) -> io::Result<usize> {
        let own_pid = std::process::id().to_string();
        let mut removed = 0;
        for entry in fs::read_dir(&self.0.dir)? {
            let name = entry?.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else { continue };
            let Some((pid, _)) = rest.split_once('-') else { continue };
            // Our own pid with another token is a process that died before
            // this one took its pid (a container's pid 1).
            let stale = !rest.starts_with(&self.0.owner) && (pid == own_pid || !Path::new("/proc").join(pid).exists());
            if stale && fs::remove_file(self.0.dir.join(&name)).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// A new, empty body.
    pub fn body(&self) -> Body {
        Body { spool: self.clone(), memory: Vec::new(), file: None, len: 0 }
    }

    /// A new spooled file to write an answer to: the file, and what
    /// removes it.
    pub fn create(&self) -> io::Result<(fs::File, SpoolFile)> {
        let n = self.0.next.fetch_add(1, Ordering::Relaxed);
        let path = self.0.dir.join(format!("{PREFIX}{}{n}", self.0.owner));
        let file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
        Ok((file, SpoolFile { path }))
    }
}

/// A body being received.
#[derive(Debug)]
pub struct Body {
    spool: Spool,
    memory: Vec<u8>,
    file: Option<(tokio::fs::File, SpoolFile)>,
    len: u64,
}

impl Body {
    /// Bytes received so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was received.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `chunk`, moving the body to a file once it is past
    /// [`MEMORY_BYTES`].
    pub async fn push(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.len += chunk.len() as u64;
        if self.file.is_none() && self.memory.len() + chunk.len() > MEMORY_BYTES {
            let (file, spooled) = self.spool.create()?;
            let mut file = tokio::fs::File::from_std(file);
            file.write_all(&std::mem::take(&mut self.memory)).await?;
            self.file = Some((file, spooled));
        }
        match &mut self.file {
            Some((file, _)) => file.write_all(chunk).await,
            None => {
                self.memory.extend_from_slice(chunk);
                Ok(())
            }
        }
    }

    /// The whole body.
    pub async fn finish(self) -> io::Result<Spooled> {
        match self.file {
            None => Ok(Spooled::Memory(Bytes::from(self.memory))),
            Some((mut file, spooled)) => {
                file.flush().await?;
                Ok(Spooled::File(spooled))
            }
        }
    }
}

/// A body received whole.
#[derive(Debug)]
pub enum Spooled {
    /// Small: in memory.
    Memory(Bytes),
    /// Large: a file, removed when this is dropped.
    File(SpoolFile),
}

impl Spooled {
    /// The body as a job's input; a file must outlive the job.
    pub fn input(&self) -> io::Result<Input> {
        match self {
            Spooled::Memory(bytes) => Ok(Input::from(bytes.clone())),
            Spooled::File(file) => Input::file(&file.path),
        }
    }
}

/// A spooled file, removed when dropped.
#[derive(Debug)]
pub struct SpoolFile {
    path: PathBuf,
}

impl SpoolFile {
    /// The file's bytes as a response body, streamed from disk: the file
    /// is opened, then removed, and its data go once the body is sent or
    /// dropped.
    pub async fn into_body(self) -> io::Result<axum::body::Body> {
        let file = tokio::fs::File::open(&self.path).await?;
        drop(self);
        Ok(axum::body::Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024)))
    }
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_file(&self.path)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove a spooled upload");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    async fn received(spool: &Spool, chunks: &[&[u8]]) -> Spooled {
        let mut body = spool.body();
        for chunk in chunks {
            body.push(chunk).await.unwrap();
        }
        assert_eq!(body.len(), chunks.iter().map(|c| c.len() as u64).sum::<u64>());
        body.finish().await.unwrap()
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn a_small_body_stays_in_memory_and_a_large_one_goes_to_a_file_removed_after() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let small = received(&spool, &[b"abc", b"def"]).await;
        assert!(matches!(&small, Spooled::Memory(b) if b.as_ref() == b"abcdef"));
        assert!(files(dir.path()).is_empty());

        let big: Vec<u8> = (0..MEMORY_BYTES + 5000).map(|i| (i % 251) as u8).collect();
        let (head, tail) = big.split_at(MEMORY_BYTES - 10);
        let large = received(&spool, &[head, tail]).await;
        assert!(matches!(large, Spooled::File(_)));
        assert_eq!(files(dir.path()).len(), 1);
        let input = large.input().unwrap();
        assert_eq!(input.len(), big.len() as u64);
        let mut back = Vec::new();
        fs::File::open(dir.path().join(&files(dir.path())[0])).unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back, big);
        drop(large);
        assert!(files(dir.path()).is_empty(), "removed once done with");
    }

    #[tokio::test]
    async fn a_body_dropped_half_way_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let mut body = spool.body();
        body.push(&vec![7; MEMORY_BYTES + 1]).await.unwrap();
        assert_eq!(files(dir.path()).len(), 1);
        drop(body);
        assert!(files(dir.path()).is_empty());
    }

    #[test]
    fn opening_removes_what_stopped_processes_left_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let own = std::process::id();
        // No pid reaches 2³² − 1 (Linux stops at 2²²).
        let left = [format!("upload-{}-00ab-3", u32::MAX), format!("upload-{own}-00ab-0")];
        let kept = ["notes.txt".to_string(), "upload-1-00ab-0".to_string()];
        for name in left.iter().chain(&kept) {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        Spool::open(dir.path()).unwrap();
        assert_eq!(files(dir.path()), kept, "pid 1 runs; the others do not (or not with their token)");
    }

    #[test]
    fn a_link_or_a_file_is_not_a_spool() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::create_dir(&target).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(Spool::open(&link).unwrap_err().kind(), io::ErrorKind::PermissionDenied);
        let file = dir.path().join("file");
        fs::write(&file, b"").unwrap();
        assert!(Spool::open(&file).is_err());
    }
}
