//! Standard input made readable twice. A job reads its input once to count
//! and again to apply; a pipe can be read once, so standard input past
//! 1 MiB is copied to an unnamed temporary file (in `TMPDIR`), which
//! readers reach through `/proc/self/fd`. The file has no name, so nothing
//! is left behind however the process ends; smaller input stays in memory.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;

use anyhow::{Context, Result, bail};
use histo_codec::{Input, Limits};

/// Standard input up to this size is kept in memory.
const IN_MEMORY: u64 = 1 << 20;

/// Standard input as a job's input; the file behind it, if any, lives as
/// long as this value.
pub struct StdinInput {
    pub input: Input,
    _file: Option<File>,
}

/// Reads `reader` (standard input) within `limits`' byte limit.
pub fn spool(reader: impl Read, limits: &Limits) -> Result<StdinInput> {
    let mut reader = reader.take(limits.max_input_bytes.saturating_add(1));
    let mut head = Vec::new();
    (&mut reader).take(IN_MEMORY + 1).read_to_end(&mut head)?;
    if head.len() as u64 <= IN_MEMORY {
        check(head.len() as u64, limits)?;
        return Ok(StdinInput { input: Input::from(head), _file: None });
    }
    let mut file = tempfile::tempfile().context("cannot create a temporary file for standard input (TMPDIR)")?;
    file.write_all(&head).context("cannot spool standard input (TMPDIR)")?;
    let rest = io::copy(&mut reader, &mut file).context("cannot spool standard input (TMPDIR)")?;
    check(head.len() as u64 + rest, limits)?;
    let input = Input::file(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .context("cannot reopen standard input's temporary file through /proc")?;
    Ok(StdinInput { input, _file: Some(file) })
}

fn check(len: u64, limits: &Limits) -> Result<()> {
    if len > limits.max_input_bytes {
        bail!("it is over the limit of {} bytes (--max-input-bytes)", limits.max_input_bytes);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_input_bytes: u64) -> Limits {
        Limits { max_input_bytes, ..Limits::CLI }
    }

    fn read_all(input: &Input) -> Vec<u8> {
        input.bytes(&Limits::CLI).unwrap().to_vec()
    }

    #[test]
    fn small_input_stays_in_memory_and_large_input_goes_to_a_file_read_twice() {
        let small = spool(&[7u8; 1000][..], &limits(1 << 30)).unwrap();
        assert!(matches!(small.input, Input::Memory(_)));
        let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let large = spool(&bytes[..], &limits(1 << 30)).unwrap();
        assert!(matches!(large.input, Input::File(_)));
        assert_eq!(large.input.len(), bytes.len() as u64);
        assert!(read_all(&large.input) == bytes);
        assert!(read_all(&large.input) == bytes, "read a second time");
    }

    #[test]
    fn input_over_the_limit_is_refused_naming_the_flag() {
        for len in [2_000usize, 3_000_000] {
            let e = spool(&vec![0u8; len][..], &limits(len as u64 - 1)).err().unwrap();
            assert!(e.to_string().contains("--max-input-bytes"), "{e}");
        }
        assert!(spool(&vec![0u8; 3_000_000][..], &limits(3_000_000)).is_ok());
    }
}
