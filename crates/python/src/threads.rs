//! Where the work runs: rayon's global pool (one thread per core), or a
//! pool of the size a call asks for, kept for the next call that asks.

use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

/// More threads than any machine histo runs on has cores.
const MAX_THREADS: usize = 4096;

/// Pools made so far, by size: a call with `threads=1` in a loop must not
/// start a thread each time.
static POOLS: Mutex<Vec<(usize, Arc<ThreadPool>)>> = Mutex::new(Vec::new());

/// Checks a `threads` argument before the work starts.
pub fn check(threads: Option<usize>) -> PyResult<()> {
    match threads {
        Some(n) if !(1..=MAX_THREADS).contains(&n) => {
            Err(PyValueError::new_err(format!("threads must be 1 to {MAX_THREADS}, not {n}")))
        }
        _ => Ok(()),
    }
}

/// Runs a job of `strips` strips on `threads` threads (all cores when
/// `None`). One strip runs on this thread, with no hand-over to a pool
/// (which costs more than a small image's work).
pub fn run<R: Send>(threads: Option<usize>, strips: usize, f: impl FnOnce() -> R + Send) -> R {
    match threads {
        Some(n) if strips > 1 => pool(n).install(f),
        _ => f(),
    }
}

fn pool(threads: usize) -> Arc<ThreadPool> {
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, pool)) = pools.iter().find(|(n, _)| *n == threads) {
        return pool.clone();
    }
    let pool = Arc::new(
        ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("histo-{i}"))
            .build()
            .expect("a thread pool"),
    );
    pools.push((threads, pool.clone()));
    pool
}
