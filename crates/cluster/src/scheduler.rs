//! The MapReduce scheduler: runs one phase's tasks (one per strip) on
//! whatever workers the coordinator knows, until every task has a result.
//!
//! It is the same for both coordinators. Per task it:
//! * picks the least-loaded worker with a free slot; for apply, the worker
//!   that holds the strip, and waits for it while it is usable, so a strip
//!   crosses the network once (it moves when its worker is gone, failed or
//!   stuck);
//! * gives each attempt a deadline; a worker that fails or misses one is
//!   left out for the rest of the job and the task runs elsewhere;
//! * requeues a task a busy worker refused, without blame;
//! * when a worker is left free, backs up a straggler (a task running
//!   much longer than the phase's median) on it: the first result wins;
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
use futures::future::select_all;
use futures::stream::FuturesUnordered;
use tokio::sync::futures::Notified;

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
    /// Attempts under way: the worker and when the attempt started.
    running: Vec<(String, Instant)>,
    /// A result is in.
    done: bool,
    failures: u32,
    resend: bool,
    backed_up: bool,
    started: Option<Instant>,
}

/// Runs `count` tasks. `attempt(task, worker, resend)` starts one attempt;
/// `resend` says the worker may not hold the task's strip. `affinity[task]`
/// names the preferred worker. `done(task, worker, result, finished,
/// count)` receives each task's result as soon as it is in (the first one,
/// if a backup also finishes), so a caller can fold or write results as
/// they come; no task is started until the future it returns is done, so
/// a caller that cannot keep up holds the phase back.
///
/// A task with an affinity waits for its worker (which holds its strip)
/// while that worker is usable, rather than being sent elsewhere with its
/// strip; it moves when the worker is gone, failed, or looks stuck (an
/// attempt on it is a straggler).
pub async fn run_tasks<R, F, Fut, D>(
    config: &SchedulerConfig,
    source: &dyn WorkerSource,
    count: usize,
    affinity: &[Option<String>],
    attempt: F,
    mut done: impl FnMut(usize, &str, R, usize, usize) -> D,
) -> Result<(), PhaseError>
where
    R: Send + 'static,
    F: Fn(usize, Arc<WorkerLink>, bool) -> Fut,
    Fut: Future<Output = Result<R, TaskError>> + Send + 'static,
    D: Future<Output = ()>,
{
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
        // Start what can be started, in order; a task waiting for the
        // worker that holds its strip lets the ones behind it go first.
        let workers: Vec<Arc<WorkerLink>> =
            source.workers().into_iter().filter(|w| !excluded.contains(w.id())).collect();
        // Armed before the slots are looked at, so that a slot freed from
        // now on (by this job or another) ends the waits below.
        let mut slot_freed: Vec<_> = workers.iter().map(|w| Box::pin(w.slot_freed())).collect();
        for freed in &mut slot_freed {
            freed.as_mut().enable();
        }
        let threshold = (!durations.is_empty()).then(|| straggler_threshold(config, &mut durations));
        let now = Instant::now();
        // Workers with an attempt running past the threshold, found once a
        // round: a job has thousands of tasks, and each may ask.
        let stuck: HashSet<String> = threshold.map_or_else(HashSet::new, |t| {
            state
                .iter()
                .flat_map(|s| &s.running)
                .filter(|(_, since)| now.duration_since(*since) > t)
                .map(|(w, _)| w.clone())
                .collect()
        });
        let mut waiting = VecDeque::new();
        // Once every worker is full, the tasks left cannot start this round.
        let room = |workers: &[Arc<WorkerLink>]| workers.iter().any(|w| w.in_flight() < w.slots());
        while room(&workers)
            && let Some(task) = pending.pop_front()
        {
            let preferred = affinity.get(task).and_then(|a| a.as_deref());
            let s = &state[task];
            let owner = preferred.filter(|p| !s.resend && workers.iter().any(|w| w.id() == *p));
            let chosen = match owner {
                Some(p) => pick(&workers, Some(p), &s.running)
                    .filter(|w| w.id() == p)
                    .or_else(|| if stuck.contains(p) { pick(&workers, None, &s.running) } else { None }),
                None => pick(&workers, preferred, &s.running),
            };
            let Some(worker) = chosen else {
                waiting.push_back(task);
                if owner.is_none() {
                    // No worker has a free slot.
                    break;
                }
                continue;
            };
            let s = &mut state[task];
            let resend = s.resend || preferred.is_some_and(|p| p != worker.id());
            s.running.push((worker.id().to_owned(), Instant::now()));
            s.started.get_or_insert_with(Instant::now);
            launch(task, worker, resend, &mut running);
        }
        waiting.extend(pending.drain(..));
        pending = waiting;
        // Back up stragglers on workers left free.
        if let Some(threshold) = threshold {
            for (task, s) in state.iter_mut().enumerate() {
                let slow = s.started.is_some_and(|t| now.duration_since(t) > threshold);
                if !s.done
                    && !s.backed_up
                    && s.running.len() == 1
                    && slow
                    && let Some(worker) = pick(&workers, None, &s.running)
                {
                    tracing::info!(task, from = %s.running[0].0, to = %worker.id(), "backing up a straggler");
                    s.backed_up = true;
                    s.running.push((worker.id().to_owned(), Instant::now()));
                    launch(task, worker, true, &mut running);
                }
            }
        }

        if running.is_empty() && !workers.is_empty() {
            // Every usable worker is full with other jobs: wait for a slot
            // (the timeout covers a worker that joins meanwhile).
            idle_since = None;
            let _ = tokio::time::timeout(Duration::from_millis(100), any_slot_freed(slot_freed)).await;
            continue;
        }
        if running.is_empty() {
            // Nothing runs and no worker is usable.
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

        // Wait for an attempt to end, a slot for a task that waits for one,
        // or a moment to look for stragglers.
        let tick = tokio::time::sleep(Duration::from_millis(100));
        let wants_slot = !pending.is_empty();
        let outcome = tokio::select! {
            o = running.next() => o,
            _ = any_slot_freed(slot_freed), if wants_slot => None,
            _ = tick => None,
        };
        let Some(Outcome { task, worker, started, result }) = outcome else { continue };
        let s = &mut state[task];
        if let Some(i) = s.running.iter().position(|(w, _)| w == worker.id()) {
            s.running.swap_remove(i);
        }
        match result {
            Ok(r) => {
                if !s.done {
                    durations.push(started.elapsed());
                    s.done = true;
                    finished += 1;
                    done(task, worker.id(), r, finished, count).await;
                }
            }
            Err(_) if s.done => {}
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
    Ok(())
}

/// Completes when any of `freed` does; never if there is none.
async fn any_slot_freed(freed: Vec<Pin<Box<Notified<'_>>>>) {
    if freed.is_empty() {
        std::future::pending::<()>().await;
    }
    select_all(freed).await;
}

/// The least-loaded worker with a free slot, the preferred one first, never
/// one already running this task.
fn pick(
    workers: &[Arc<WorkerLink>],
    preferred: Option<&str>,
    running: &[(String, Instant)],
) -> Option<Arc<WorkerLink>> {
    let free = |w: &&Arc<WorkerLink>| w.in_flight() < w.slots() && !running.iter().any(|(r, _)| r == w.id());
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
    let middle = durations.len() / 2;
    let (_, &mut median, _) = durations.select_nth_unstable(middle);
    median.mul_f64(config.straggler_factor).max(config.straggler_min)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::member::WorkerInfo;
    use crate::worker::WorkerCore;

    /// [`run_tasks`], collecting each task's result and worker.
    async fn run_phase<R, F, Fut>(
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
        run_tasks(config, source, count, affinity, attempt, |task, worker, result, finished, count| {
            done(task, worker, finished, count);
            results[task] = Some((result, worker.to_owned()));
            std::future::ready(())
        })
        .await?;
        Ok(results.into_iter().map(|r| r.expect("every task finished")).collect())
    }

    struct Fixed(Vec<Arc<WorkerLink>>);

    impl WorkerSource for Fixed {
        fn workers(&self) -> Vec<Arc<WorkerLink>> {
            self.0.clone()
        }
    }

    fn link(id: &str, slots: usize) -> Arc<WorkerLink> {
        let info = WorkerInfo {
            id: id.into(),
            address: "in-process".into(),
            slots,
            busy: 0,
            version: "test".into(),
            started: "now".into(),
        };
        Arc::new(WorkerLink::local(Arc::new(WorkerCore::new(id, slots, 1 << 20)), info))
    }

    fn quick() -> SchedulerConfig {
        SchedulerConfig {
            task_timeout: Duration::from_secs(5),
            straggler_min: Duration::from_millis(200),
            worker_grace: Duration::from_millis(200),
            ..SchedulerConfig::default()
        }
    }

    #[tokio::test]
    async fn every_task_runs_once_and_load_is_spread() {
        let workers = Fixed(vec![link("a", 2), link("b", 2)]);
        let calls = AtomicUsize::new(0);
        let results = run_phase(
            &quick(),
            &workers,
            20,
            &[],
            |task, _, _| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    Ok(task * 10)
                }
            },
            |_, _, _, _| {},
        )
        .await
        .unwrap();
        assert_eq!(results.iter().map(|(r, _)| *r).collect::<Vec<_>>(), (0..20).map(|t| t * 10).collect::<Vec<_>>());
        assert_eq!(calls.load(Ordering::SeqCst), 20);
        assert!(results.iter().any(|(_, w)| w == "a") && results.iter().any(|(_, w)| w == "b"));
    }

    #[tokio::test]
    async fn a_failing_worker_is_left_out_and_its_tasks_rerun() {
        let workers = Fixed(vec![link("bad", 1), link("good", 1)]);
        let results = run_phase(
            &quick(),
            &workers,
            6,
            &[],
            |task, worker, resend| {
                let bad = worker.id() == "bad";
                async move { if bad { Err(TaskError::Unavailable("gone".into())) } else { Ok((task, resend)) } }
            },
            |_, _, _, _| {},
        )
        .await
        .unwrap();
        assert!(results.iter().all(|(_, w)| w == "good"));
    }

    #[tokio::test]
    async fn a_straggler_gets_a_backup_and_the_first_result_wins() {
        let workers = Fixed(vec![link("slow", 1), link("fast", 4)]);
        let started = Instant::now();
        let results = run_phase(
            &quick(),
            &workers,
            8,
            &[],
            |task, worker, _| {
                let hang = worker.id() == "slow";
                async move {
                    if hang {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    Ok(task)
                }
            },
            |_, _, _, _| {},
        )
        .await
        .unwrap();
        assert!(started.elapsed() < Duration::from_secs(3), "the hung attempt did not hold the phase");
        assert!(results.iter().all(|(_, w)| w == "fast"));
    }

    #[tokio::test]
    async fn no_workers_fails_after_the_grace_period() {
        let err = run_phase(&quick(), &Fixed(vec![]), 3, &[], |t, _, _| async move { Ok(t) }, |_, _, _, _| {})
            .await
            .unwrap_err();
        assert!(matches!(err, PhaseError::NoWorkers(_)));
    }

    #[tokio::test]
    async fn a_job_waits_while_other_jobs_fill_every_slot() {
        let worker = link("w", 1);
        let other_job = worker.reserve();
        let workers = Fixed(vec![worker]);
        let release = async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            drop(other_job);
        };
        let config = quick();
        let phase = run_phase(&config, &workers, 2, &[], |t, _, _| async move { Ok(t) }, |_, _, _, _| {});
        let (results, ()) = tokio::join!(phase, release);
        assert_eq!(results.unwrap().len(), 2, "waited past the grace period instead of failing");
    }

    #[tokio::test]
    async fn tasks_wait_for_the_worker_that_holds_their_strip() {
        let workers = Fixed(vec![link("a", 1), link("b", 1)]);
        // "a" is slower, so a free "b" could take a's tasks: it must not.
        let affinity: Vec<Option<String>> = (0..8).map(|t| Some(if t % 2 == 0 { "a" } else { "b" }.into())).collect();
        let mut seen = Vec::new();
        run_tasks(
            &quick(),
            &workers,
            8,
            &affinity,
            |task, worker, resend| {
                let pause = if worker.id() == "a" { 30 } else { 5 };
                async move {
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    Ok((task, resend))
                }
            },
            |task, worker, result, _, _| {
                seen.push((task, worker.to_owned(), result));
                std::future::ready(())
            },
        )
        .await
        .unwrap();
        assert_eq!(seen.len(), 8);
        for (task, worker, (t, resend)) in seen {
            assert_eq!(t, task);
            assert_eq!(Some(&worker), affinity[task].as_ref(), "task {task} left its worker");
            assert!(!resend, "task {task} was resent");
        }
    }

    #[tokio::test]
    async fn a_stuck_worker_loses_the_tasks_waiting_for_it() {
        let workers = Fixed(vec![link("stuck", 1), link("ok", 1)]);
        let affinity: Vec<Option<String>> =
            ["stuck", "stuck", "stuck", "ok", "ok"].iter().map(|w| Some(w.to_string())).collect();
        let started = Instant::now();
        let results = run_phase(
            &quick(),
            &workers,
            5,
            &affinity,
            |task, worker, resend| {
                let hang = worker.id() == "stuck";
                async move {
                    if hang {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    Ok((task, resend))
                }
            },
            |_, _, _, _| {},
        )
        .await
        .unwrap();
        assert!(started.elapsed() < Duration::from_secs(3), "waited for the stuck worker");
        assert!(results.iter().all(|(_, w)| w == "ok"));
        for (task, ((_, resend), _)) in results.iter().enumerate() {
            assert_eq!(*resend, task < 3, "task {task}: only moved strips are resent");
        }
    }

    #[tokio::test]
    async fn busy_refusals_are_retried_without_blame() {
        let workers = Fixed(vec![link("w", 2)]);
        let refusals = AtomicUsize::new(0);
        let results = run_phase(
            &quick(),
            &workers,
            4,
            &[],
            |task, _, _| {
                let refuse = refusals.fetch_add(1, Ordering::SeqCst) < 3;
                async move { if refuse { Err(TaskError::Busy) } else { Ok(task) } }
            },
            |_, _, _, _| {},
        )
        .await
        .unwrap();
        assert_eq!(results.len(), 4);
    }
}
