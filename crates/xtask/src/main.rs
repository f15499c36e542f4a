//! histo's development tasks, run as `cargo xtask TASK`.
//!
//! `replay` derives the dashboard's deployment replay from the real
//! deployment code (`deploy/`, `k8s/`) and writes it to
//! `crates/server/src/replay/lines.rs`, which is checked in: the server
//! builds from its own folder, and a test here fails when the file is stale
//! against the deployment code. `replay --check` says whether it is.

mod replay;
mod terraform;
mod yaml;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

/// The generated file, from the repository root.
const LINES_FILE: &str = "crates/server/src/replay/lines.rs";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["replay"] => write_replay(),
        ["replay", "--check"] => check_replay(),
        _ => {
            eprintln!("usage: cargo xtask replay [--check]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn write_replay() -> anyhow::Result<()> {
    let root = root();
    let text = replay::render(&replay::generate(&root)?);
    let path = root.join(LINES_FILE);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {LINES_FILE}");
    Ok(())
}

fn check_replay() -> anyhow::Result<()> {
    let root = root();
    let want = replay::render(&replay::generate(&root)?);
    let have = std::fs::read_to_string(root.join(LINES_FILE)).with_context(|| format!("cannot read {LINES_FILE}"))?;
    anyhow::ensure!(have == want, "{LINES_FILE} is stale against deploy/ and k8s/: run `cargo xtask replay`");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_checked_in_replay_matches_the_deployment_code() {
        if let Err(e) = super::check_replay() {
            panic!("{e:#}");
        }
    }
}
