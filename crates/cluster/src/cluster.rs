//! The [`Cluster`] handle: what the HTTP server and the CLI see of the
//! coordination layer.
//!
//! A job goes through admission (a bounded number run, a bounded number
//! wait, the rest are refused as overloaded), decoding within the caller's
//! limits, the MapReduce phases on the workers, and encoding. Its record is
//! kept for `GET /api/jobs/{id}`, and its progress is published on the
//! event bus.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use histo_codec::{DecodeError, Format, Limits, png};
use histo_core::job::{OptionError, Options, Plan};
use histo_core::{Image, strips};
use rayon::prelude::*;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::events::{ConnectionState, Event, EventBus, JobProgress, now};
use crate::record::{self, JobId, JobRecord, JobState, JobStore, TaskRecord};

/// What the caller wants done with an image.
#[derive(Clone, Debug, Default)]
pub struct JobSpec {
    /// Mode and method.
    pub options: Options,
    /// Output format (default: the input's).
    pub format: Option<Format>,
    /// PNG compression settings.
    pub png: png::Settings,
    /// Decoding limits.
    pub limits: Limits,
}

/// A finished job.
#[derive(Clone, Debug)]
pub struct JobOutput {
    /// The job's id.
    pub id: JobId,
    /// The encoded image.
    pub bytes: Vec<u8>,
    /// Its format.
    pub format: Format,
}

/// Why a job did not produce an image. Each kind maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The input was refused or could not be decoded (413/415/422).
    #[error(transparent)]
    Input(#[from] DecodeError),
    /// The options do not make sense (422).
    #[error(transparent)]
    Options(#[from] OptionError),
    /// No worker is registered (503).
    #[error("no workers are available")]
    NoWorkers,
    /// Too many jobs running and waiting (503 with Retry-After).
    #[error("overloaded: {running} jobs running and {waiting} waiting")]
    Overloaded {
        /// Jobs running.
        running: usize,
        /// Jobs waiting.
        waiting: usize,
    },
    /// The job failed on the way (500).
    #[error("job failed: {0}")]
    Failed(String),
}

/// A worker as the cluster sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkerInfo {
    /// Its id.
    pub id: String,
    /// Where it listens (`in-process` for embedded workers).
    pub address: String,
    /// Tasks it runs at once.
    pub slots: usize,
    /// Tasks it is running now, as far as this master knows.
    pub busy: usize,
    /// Its histo version.
    pub version: String,
    /// When it started.
    pub started: String,
}

/// A master as the cluster sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MasterInfo {
    /// Its id.
    pub id: String,
    /// Where its HTTP API listens.
    pub address: String,
    /// Its histo version.
    pub version: String,
    /// When it started.
    pub started: String,
}

/// The cluster at a glance, for `GET /api/cluster`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterSnapshot {
    /// `embedded` or `zookeeper`.
    pub coordinator: String,
    /// The coordinator connection state (`CONNECTED`, `SUSPENDED`, ...).
    pub state: String,
    /// This master's id.
    pub master: String,
    /// The leader's id, if one is known.
    pub leader: Option<String>,
    /// Every master.
    pub masters: Vec<MasterInfo>,
    /// Every worker.
    pub workers: Vec<WorkerInfo>,
    /// Jobs running on this master.
    pub jobs_running: usize,
    /// Jobs waiting on this master.
    pub jobs_waiting: usize,
}

/// Admission limits.
#[derive(Clone, Copy, Debug)]
pub struct Admission {
    /// Jobs run at once.
    pub max_running: usize,
    /// Jobs that may wait for a turn; more are refused.
    pub max_waiting: usize,
}

impl Default for Admission {
    fn default() -> Self {
        Admission { max_running: 4, max_waiting: 64 }
    }
}

/// Jobs kept for lookup.
const JOBS_KEPT: usize = 256;

/// The coordination layer's handle. Cloning shares it.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    id: String,
    started: String,
    events: EventBus,
    jobs: JobStore,
    running: Arc<Semaphore>,
    admission: Admission,
    waiting: AtomicUsize,
    in_flight: AtomicUsize,
    pool: rayon::ThreadPool,
    workers: usize,
}

impl Cluster {
    /// The all-in-one cluster of `histo serve`: an embedded coordinator and
    /// `workers` in-process workers.
    pub fn embedded(workers: usize, admission: Admission, events: EventBus) -> Result<Cluster, RunError> {
        let workers = workers.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("histo-worker-{i}"))
            .build()
            .map_err(|e| RunError::Failed(format!("cannot start workers: {e}")))?;
        let inner = Inner {
            id: format!("master-{}", &JobId::new().as_str()[..8]),
            started: now(),
            events,
            jobs: JobStore::new(JOBS_KEPT),
            running: Arc::new(Semaphore::new(admission.max_running.max(1))),
            admission,
            waiting: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            pool,
            workers,
        };
        let cluster = Cluster { inner: Arc::new(inner) };
        let state = ConnectionState::Connected;
        cluster.inner.events.publish(Event::observability(
            "coordinator",
            state.name(),
            state.message("Embedded coordinator"),
        ));
        Ok(cluster)
    }

    /// This master's id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The event bus.
    pub fn events(&self) -> &EventBus {
        &self.inner.events
    }

    /// A job's record, while it is kept.
    pub fn job(&self, id: &JobId) -> Option<JobRecord> {
        self.inner.jobs.get(id)
    }

    /// Whether jobs can run now (coordinator usable, a worker present).
    pub fn is_ready(&self) -> bool {
        self.inner.workers > 0
    }

    /// The cluster at a glance.
    pub fn snapshot(&self) -> ClusterSnapshot {
        let inner = &self.inner;
        let running = inner.admission.max_running.max(1) - inner.running.available_permits();
        let version = env!("CARGO_PKG_VERSION").to_owned();
        let busy = inner.in_flight.load(Ordering::Relaxed);
        ClusterSnapshot {
            coordinator: "embedded".into(),
            state: ConnectionState::Connected.name().into(),
            master: inner.id.clone(),
            leader: Some(inner.id.clone()),
            masters: vec![MasterInfo {
                id: inner.id.clone(),
                address: "local".into(),
                version: version.clone(),
                started: inner.started.clone(),
            }],
            workers: (0..inner.workers)
                .map(|i| WorkerInfo {
                    id: format!("embedded-{i}"),
                    address: "in-process".into(),
                    slots: 1,
                    busy: usize::from(busy > i),
                    version: version.clone(),
                    started: inner.started.clone(),
                })
                .collect(),
            jobs_running: running,
            jobs_waiting: inner.waiting.load(Ordering::Relaxed),
        }
    }

    /// Runs one job on `input` (an encoded image).
    pub async fn run(&self, input: Vec<u8>, spec: JobSpec) -> Result<JobOutput, RunError> {
        let id = JobId::new();
        let inner = self.inner.clone();
        inner.jobs.put(JobRecord::new(id.clone(), &inner.id, input.len() as u64));
        let permit = match inner.running.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let waiting = inner.waiting.fetch_add(1, Ordering::SeqCst);
                if waiting >= inner.admission.max_waiting {
                    inner.waiting.fetch_sub(1, Ordering::SeqCst);
                    let err = RunError::Overloaded { running: inner.admission.max_running, waiting };
                    self.fail(&id, &err);
                    return Err(err);
                }
                let permit = inner.running.clone().acquire_owned().await.expect("semaphore is never closed");
                inner.waiting.fetch_sub(1, Ordering::SeqCst);
                permit
            }
        };
        inner.jobs.update(&id, |r| r.state = JobState::Running);
        let job = id.clone();
        let result = tokio::task::spawn_blocking(move || inner.execute(&job, &input, &spec))
            .await
            .unwrap_or_else(|e| Err(RunError::Failed(format!("job task ended: {e}"))));
        drop(permit);
        match result {
            Ok((bytes, format)) => {
                self.inner.jobs.update(&id, |r| r.state = JobState::Done);
                self.progress(&id, "done", 1, 1, "");
                Ok(JobOutput { id, bytes, format })
            }
            Err(e) => {
                self.fail(&id, &e);
                Err(e)
            }
        }
    }

    fn fail(&self, id: &JobId, err: &RunError) {
        self.inner.jobs.update(id, |r| {
            r.state = JobState::Failed;
            r.error = Some(err.to_string());
        });
        self.progress(id, "failed", 0, 0, "");
    }

    fn progress(&self, id: &JobId, phase: &str, done: u32, total: u32, worker: &str) {
        self.inner.progress(id, phase, done, total, worker);
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

impl Inner {
    fn progress(&self, id: &JobId, phase: &str, done: u32, total: u32, worker: &str) {
        self.events.publish(Event::JobProgress(JobProgress {
            job_id: id.to_string(),
            phase: phase.to_owned(),
            done,
            total,
            worker: worker.to_owned(),
            ts: now(),
        }));
    }

    /// Decode, map, reduce, apply, encode, on the in-process workers.
    fn execute(&self, id: &JobId, input: &[u8], spec: &JobSpec) -> Result<(Vec<u8>, Format), RunError> {
        let start = Instant::now();
        let t = Instant::now();
        let (image, in_format) = histo_codec::decode(input, &spec.limits)?;
        let decode_ms = ms(t);
        let plan = Plan::new(image.width(), image.height(), image.layout(), image.depth(), spec.options)?;
        let format = spec.format.unwrap_or(in_format);
        let row_len = plan.row_len();
        let strips = strips::split(image.height(), strips::count_for(image.height(), row_len, self.workers));
        let total = strips.len() as u32;
        self.jobs.update(id, |r| {
            r.width = image.width();
            r.height = image.height();
            r.layout = image.layout().to_string();
            r.bits = if image.depth() == histo_core::Depth::U8 { 8 } else { 16 };
            r.mode = spec.options.mode.to_string();
            r.method = spec.options.method.name().to_owned();
            r.format = format.to_string();
            r.timings.decode_ms = decode_ms;
            r.tasks = strips
                .iter()
                .map(|s| TaskRecord {
                    strip: s.index,
                    y0: s.y0,
                    rows: s.rows,
                    phase: "pending".into(),
                    worker: None,
                    attempts: 0,
                })
                .collect();
        });
        self.progress(id, "decode", 1, 1, "");

        let (width, height, _, pixels) = image.into_parts();
        let pixels = if plan.converts_to_gray() { plan.convert_to_gray(pixels.slice(0..pixels.len())) } else { pixels };
        let done = AtomicUsize::new(0);
        let t = Instant::now();
        let before = self.pool.install(|| {
            strips
                .par_iter()
                .map(|s| {
                    let h = plan
                        .map(*s, pixels.slice(s.sample_range(row_len)))
                        .map_err(|e| RunError::Failed(e.to_string()));
                    let worker = format!("embedded-{}", rayon::current_thread_index().unwrap_or(0));
                    self.task_done(id, s.index, "mapped", &worker, "map", &done, total);
                    h
                })
                .try_reduce(
                    || plan.empty_histograms(),
                    |mut a, b| {
                        a.merge(&b);
                        Ok(a)
                    },
                )
        })?;
        let map_ms = ms(t);
        let t = Instant::now();
        let luts = plan.reduce(&before);
        let reduce_ms = ms(t);
        self.progress(id, "reduce", 1, 1, "");

        let mut pixels = pixels;
        let done = AtomicUsize::new(0);
        let t = Instant::now();
        self.pool.install(|| {
            let apply = |s: strips::Strip, samples: histo_core::job::SamplesMut<'_>| {
                let r = plan.apply(s, samples, &luts).map_err(|e| RunError::Failed(e.to_string()));
                let worker = format!("embedded-{}", rayon::current_thread_index().unwrap_or(0));
                self.task_done(id, s.index, "done", &worker, "apply", &done, total);
                r
            };
            match &mut pixels {
                histo_core::Pixels::U8(d) => histo_core::local::for_each_strip_mut(d, &strips, row_len, |s, d| {
                    apply(s, histo_core::job::SamplesMut::U8(d))
                }),
                histo_core::Pixels::U16(d) => histo_core::local::for_each_strip_mut(d, &strips, row_len, |s, d| {
                    apply(s, histo_core::job::SamplesMut::U16(d))
                }),
            }
        })?;
        let apply_ms = ms(t);
        let output =
            Image::new(width, height, plan.output_layout(), pixels).map_err(|e| RunError::Failed(e.to_string()))?;

        let after_plan = plan.output_plan();
        let after = self.pool.install(|| {
            strips
                .par_iter()
                .map(|s| after_plan.map(*s, output.pixels().slice(s.sample_range(row_len))).expect("output fits"))
                .reduce(
                    || after_plan.empty_histograms(),
                    |mut a, b| {
                        a.merge(&b);
                        a
                    },
                )
        });
        let t = Instant::now();
        let mut bytes = std::io::Cursor::new(Vec::new());
        self.pool
            .install(|| histo_codec::encode(&output, format, &spec.png, &mut bytes))
            .map_err(|e| RunError::Failed(e.to_string()))?;
        let bytes = bytes.into_inner();
        let encode_ms = ms(t);
        self.progress(id, "encode", 1, 1, "");
        self.jobs.update(id, |r| {
            r.bytes_out = bytes.len() as u64;
            r.timings.map_ms = map_ms;
            r.timings.reduce_ms = reduce_ms;
            r.timings.apply_ms = apply_ms;
            r.timings.encode_ms = encode_ms;
            r.timings.total_ms = ms(start);
            r.histograms = Some(record::Histograms {
                planes: plan.plane_names().iter().map(|s| s.to_string()).collect(),
                before: plan.summarize(&before),
                after: after_plan.summarize(&after),
            });
        });
        Ok((bytes, format))
    }

    #[allow(clippy::too_many_arguments)]
    fn task_done(
        &self,
        id: &JobId,
        strip: usize,
        state: &str,
        worker: &str,
        phase: &str,
        done: &AtomicUsize,
        total: u32,
    ) {
        let n = done.fetch_add(1, Ordering::SeqCst) + 1;
        self.jobs.update(id, |r| {
            if let Some(t) = r.tasks.get_mut(strip) {
                t.phase = state.to_owned();
                t.worker = Some(worker.to_owned());
                t.attempts = t.attempts.max(1);
            }
        });
        self.progress(id, phase, n as u32, total, worker);
    }
}
