//! The MapReduce scheduler: runs one phase's tasks (one per strip) on
//! whatever workers the coordinator knows, until every task has a result.
//!
//! It is the same for both coordinators. Per task it:
//! * picks the least-loaded worker with a free slot (for apply, the worker
//!   that holds the strip, if it can take it);
//! * gives each attempt a deadline; a worker that fails or misses one is
//!   left out for the rest of the job and the task runs elsewhere;
//! * requeues a task a busy worker refused, without blame;
//! * when nothing is left to start, backs up a straggler (a task running
//!   much longer than the phase's median) on another worker: the first
//!   result wins;
//! * fails the job when no worker is left, instead of waiting forever.
//!
//! Results do not depend on which worker ran what, so retries and backups
//! never change the output.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::link::WorkerLink;
use crate::task::TaskError;

/// Tuning of the scheduler.
#[derive(Clone, Copy, Debug)]
pub struct SchedulerConfig {
    /// Deadline of one attempt.
    pub task_timeout: Duration,
    /// Failed attempts (not counting busy refusals) before a task fails the job.
    pub max_attempts: u32,
    /// A running task is a straggler past this multiple of the phase's median...
    pub straggler_factor: f64,
    /// ...and past this duration.
    pub straggler_min: Duration,
    /// How long to wait for a worker to appear when none is usable.
    pub worker_grace: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            task_timeout: Duration::from_secs(20),
            max_attempts: 6,
            straggler_factor: 4.0,
            straggler_min: Duration::from_millis(1500),
            worker_grace: Duration::from_secs(2),
        }
    }
}

/// Where the scheduler finds workers; asked again whenever it needs one, so
/// workers that join during a job are used.
pub trait WorkerSource: Send + Sync {
    /// The workers known now.
    fn workers(&self) -> Vec<Arc<WorkerLink>>;
}

/// Why a phase could not finish.
#[derive(Debug, thiserror::Error)]
pub enum PhaseError {
    /// No usable worker.
    #[error("no workers are available{0}")]
    NoWorkers(String),
    /// A task failed too often, or was invalid.
    #[error("{0}")]
    Failed(String),
}

/// One attempt's outcome, tagged with where it ran.
struct Outcome<R> {
    task: usize,
    worker: Arc<WorkerLink>,
    started: Instant,
    result: Result<R, TaskError>,
}

type Attempt<R> = Pin<Box<dyn Future<Output = Outcome<R>> + Send>>;

#[derive(Default)]
struct TaskState {
    running: Vec<String>,
    failures: u32,
    resend: bool,
    backed_up: bool,
    started: Option<Instant>,
}

/// Runs `count` tasks. `attempt(task, worker, resend)` starts one attempt;
/// `resend` says the worker may not hold the task's strip. `affinity[task]`
/// names the preferred worker. `done(task, worker, finished, count)` is
/// called once per task. Returns each task's result and worker.
pub async fn run_phase<R, F, Fut>(
    config: &SchedulerConfig,
    source: &dyn WorkerSource,
    count: usize,
    affinity: &[Option<String>],
    attempt: F,
    mut done: impl FnMut(usize, &str, usize, usize),
) -> Result<Vec<(R, String)>, PhaseError>
where
    R: Send + 'static,
    F: Fn(usize, Arc<WorkerLink>, bool) -> Fut,
    Fut: Future<Output = Result<R, TaskError>> + Send + 'static,
{
    let mut results: Vec<Option<(R, String)>> = (0..count).map(|_| None).collect();
    let mut state: Vec<TaskState> = (0..count).map(|_| TaskState::default()).collect();
    let mut pending: VecDeque<usize> = (0..count).collect();
    let mut running: FuturesUnordered<Attempt<R>> = FuturesUnordered::new();
    let mut excluded: HashSet<String> = HashSet::new();
    let mut durations: Vec<Duration> = Vec::new();
    let mut finished = 0;
    let mut idle_since: Option<Instant> = None;

    let launch = |task: usize, worker: Arc<WorkerLink>, resend: bool, running: &mut FuturesUnordered<Attempt<R>>| {
        let fut = attempt(task, worker.clone(), resend);
        let timeout = config.task_timeout;
        let reservation = worker.reserve();
        running.push(Box::pin(async move {
            let _reservation = reservation;
            let started = Instant::now();
            let result = match tokio::time::timeout(timeout, fut).await {
                Ok(r) => r,
                Err(_) => Err(TaskError::Unavailable(format!("no answer within {timeout:?}"))),
            };
            Outcome { task, worker, started, result }
        }));
    };

    while finished < count {
        // Start what can be started.
        let workers: Vec<Arc<WorkerLink>> =
            source.workers().into_iter().filter(|w| !excluded.contains(w.id())).collect();
        while let Some(&task) = pending.front() {
            let preferred = affinity.get(task).and_then(|a| a.as_deref());
            let Some(worker) = pick(&workers, preferred, &state[task].running) else { break };
            pending.pop_front();
            let s = &mut state[task];
            let resend = s.resend || preferred.is_some_and(|p| p != worker.id());
            s.running.push(worker.id().to_owned());
            s.started.get_or_insert_with(Instant::now);
            launch(task, worker, resend, &mut running);
        }
        // Back up stragglers once nothing else waits.
        if pending.is_empty() && !durations.is_empty() {
            let threshold = straggler_threshold(config, &mut durations);
            for (task, s) in state.iter_mut().enumerate() {
                let slow = s.started.is_some_and(|t| t.elapsed() > threshold);
                if results[task].is_none()
                    && !s.backed_up
                    && s.running.len() == 1
                    && slow
                    && let Some(worker) = pick(&workers, None, &s.running)
                {
                    tracing::info!(task, from = %s.running[0], to = %worker.id(), "backing up a straggler");
                    s.backed_up = true;
                    s.running.push(worker.id().to_owned());
                    launch(task, worker, true, &mut running);
                }
            }
        }

        if running.is_empty() {
            // Nothing runs and nothing could start: no usable worker.
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= config.worker_grace {
                let why = if excluded.is_empty() {
                    String::new()
                } else {
                    format!(" ({} failed during this job)", excluded.len())
                };
                return Err(PhaseError::NoWorkers(why));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        idle_since = None;

        // Wait for an attempt to end, or a moment to look for stragglers.
        let tick = tokio::time::sleep(Duration::from_millis(100));
        let outcome = tokio::select! {
            o = running.next() => o,
            _ = tick => None,
        };
        let Some(Outcome { task, worker, started, result }) = outcome else { continue };
        let s = &mut state[task];
        if let Some(i) = s.running.iter().position(|w| w == worker.id()) {
            s.running.swap_remove(i);
        }
        match result {
            Ok(r) => {
                if results[task].is_none() {
                    durations.push(started.elapsed());
                    results[task] = Some((r, worker.id().to_owned()));
                    finished += 1;
                    done(task, worker.id(), finished, count);
                }
            }
            Err(_) if results[task].is_some() => {}
            Err(TaskError::Invalid(why)) => {
                return Err(PhaseError::Failed(format!("task {task} is invalid on {}: {why}", worker.id())));
            }
            Err(TaskError::Busy) => {
                if s.running.is_empty() {
                    pending.push_back(task);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(TaskError::Missing) => {
                s.resend = true;
                if s.running.is_empty() {
                    pending.push_front(task);
                }
            }
            Err(TaskError::Unavailable(why)) => {
                tracing::warn!(task, worker = %worker.id(), %why, "task failed; leaving the worker out of this job");
                excluded.insert(worker.id().to_owned());
                s.failures += 1;
                s.resend = true;
                if s.failures >= config.max_attempts {
                    return Err(PhaseError::Failed(format!("task {task} failed {} times; last: {why}", s.failures)));
                }
                if s.running.is_empty() {
                    pending.push_front(task);
                }
            }
        }
    }
    Ok(results.into_iter().map(|r| r.expect("every task finished")).collect())
}

/// The least-loaded worker with a free slot, the preferred one first, never
/// one already running this task.
fn pick(workers: &[Arc<WorkerLink>], preferred: Option<&str>, running: &[String]) -> Option<Arc<WorkerLink>> {
    let free = |w: &&Arc<WorkerLink>| w.in_flight() < w.slots() && !running.iter().any(|r| r == w.id());
    if let Some(p) = preferred
        && let Some(w) = workers.iter().filter(free).find(|w| w.id() == p)
    {
        return Some(w.clone());
    }
    workers
        .iter()
        .filter(free)
        .min_by(|a, b| {
            let load = |w: &Arc<WorkerLink>| w.in_flight() as f64 / w.slots() as f64;
            load(a).total_cmp(&load(b))
        })
        .cloned()
}

fn straggler_threshold(config: &SchedulerConfig, durations: &mut [Duration]) -> Duration {
    durations.sort_unstable();
    let median = durations[durations.len() / 2];
    median.mul_f64(config.straggler_factor).max(config.straggler_min)
}
