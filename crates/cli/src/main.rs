//! `histo`: the one binary. It parses the command line, sets up logging and
//! hands each subcommand to its module; the work itself lives in the
//! library crates (`histo-core` for the math, `histo-codec` for files,
//! `histo-cluster` for coordination).

mod batch;
mod encode_args;
mod equalize;
mod healthcheck;
mod io_paths;
mod mask_args;
mod master;
mod match_args;
mod serve;
mod shared_table;
mod shutdown;
mod stdin_spool;
mod submit;
mod targets;
mod token_args;
mod worker;
mod zk_args;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// Jobs allocate and free buffers of many megabytes on many threads. Under
// sustained load glibc's per-thread arenas let the resident size creep up
// (226 to 315 MB in two minutes); mimalloc's stays level (docs/RELIABILITY.md).
// Its v3 (the crate's default) gives back strips freed on other threads,
// which v2 kept: a streamed 64 MP job peaked at 78 MB instead of 189 MB
// (docs/BENCHMARKS.md, "Big images against libvips"). v3 keeps freed pages
// 1 s before giving them back; the container image and the lab set
// MIMALLOC_PURGE_DELAY=100 (docs/RELIABILITY.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Histogram equalization, locally or across a cluster.
#[derive(Parser)]
#[command(name = "histo", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Equalize an image file, or a batch of them: on all cores of this
    /// machine, or with --zk on a cluster's workers.
    Equalize(equalize::Args),
    /// Run a cluster master: registers in ZooKeeper, joins the leader
    /// election and runs jobs on the registered workers.
    Master(master::Args),
    /// Serve the API and dashboard with an embedded coordinator and N
    /// in-process workers (no ZooKeeper needed).
    Serve(serve::Args),
    /// Send one image to a running master and write the result; retries on
    /// the next master when one is down or overloaded.
    Submit(submit::Args),
    /// Exit 0 if a histo server answers its health URL with 200, else 1.
    Healthcheck(healthcheck::Args),
    /// Run a cluster worker: serves map and apply tasks over gRPC and
    /// registers in ZooKeeper.
    Worker(worker::Args),
}

/// Exit code for input or options that cannot be equalized, as for usage
/// errors: the same command will fail again.
const EXIT_BAD_INPUT: u8 = 2;
/// Exit code when a job failed because no worker was available.
const EXIT_NO_WORKERS: u8 = 3;

/// The exit code for an error: by its kind, wherever in the chain it is.
fn exit_code(e: &anyhow::Error) -> u8 {
    use histo_cluster::RunError;
    if e.chain().any(|c| c.is::<targets::UsageError>()) {
        return EXIT_BAD_INPUT;
    }
    let kind = e.chain().find_map(|c| c.downcast_ref::<RunError>());
    match kind {
        Some(RunError::NoWorkers) => EXIT_NO_WORKERS,
        Some(RunError::Input(_) | RunError::Options(_)) => EXIT_BAD_INPUT,
        _ => 1,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("histo: error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Equalize(args) => equalize::run(args).await,
            Command::Master(args) => master::run(args).await,
            Command::Worker(args) => worker::run(args).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Submit(args) => submit::run(args).await,
            Command::Healthcheck(args) => healthcheck::run(args).await,
        }
    });
    // Background tasks (ZooKeeper sessions, servers) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("histo: error: {e:#}");
            ExitCode::from(exit_code(&e))
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
