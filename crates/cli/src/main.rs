//! `histo`: the one binary. It parses the command line, sets up logging and
//! hands each subcommand to its module; the work itself lives in the
//! library crates (`histo-core` for the math, `histo-codec` for files).

mod equalize;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Histogram equalization, locally or across a cluster.
#[derive(Parser)]
#[command(name = "histo", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Equalize one image file, on all cores of this machine.
    Equalize(equalize::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Equalize(args) => equalize::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("histo: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr; `HISTO_LOG` takes a filter such as `info` or
/// `histo=debug` (default: warnings only).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HISTO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}
