//! The [`Cluster`] handle: what the HTTP server and the CLI see of the
//! coordination layer.
//!
//! A job goes through admission (a bounded number run, a bounded number
//! wait, the rest are refused as overloaded), decoding within the caller's
//! limits, the MapReduce phases on the workers, and encoding. Its record is
//! kept for `GET /api/jobs/{id}`, and its progress is published on the
//! event bus.

use std::collections::BTreeMap;
use std::io::{self, Seek, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use histo_codec::png::EncodedStrip;
use histo_codec::stream::{self, Opened};
use histo_codec::{DecodeError, Format, Input, Limits, png};
use histo_core::job::{OptionError, Options, Plan};
use histo_core::strips;
use histo_core::{Depth, Image, Pixels};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::coordinator::Coordinator;
use crate::coordinator::embedded::Embedded;
use crate::coordinator::zk::{Role, ZkConfig, ZkError, ZooKeeper};
use crate::events::{ConnectionState, Event, EventBus, JobProgress, now};
use crate::feed::Feed;
use crate::record::{self, JobId, JobRecord, JobState, JobStore, TaskRecord};
use crate::scheduler::{self, PhaseError, SchedulerConfig};
use crate::task::{ApplyTask, MapTask, OutputKind, PlanSpec, StripOutput};

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

/// A finished job, its image in memory ([`Cluster::run`]).
#[derive(Clone, Debug)]
pub struct JobOutput {
    /// The job's id.
    pub id: JobId,
    /// The encoded image.
    pub bytes: Vec<u8>,
    /// Its format.
    pub format: Format,
}

/// A finished job whose image went to a writer ([`Cluster::run_to`]).
#[derive(Debug)]
pub struct Written<W> {
    /// The job's id.
    pub id: JobId,
    /// The writer, flushed.
    pub out: W,
    /// Bytes written.
    pub len: u64,
    /// The image's format.
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
    events: EventBus,
    jobs: JobStore,
    coordinator: Arc<dyn Coordinator>,
    zookeeper: Option<Arc<ZooKeeper>>,
    scheduler: SchedulerConfig,
    running: Arc<Semaphore>,
    admission: Admission,
    waiting: AtomicUsize,
    /// Job summaries still being written to the coordinator.
    recording: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// A fresh process id with a readable prefix, e.g. `master-3f2a9c1d`.
pub fn new_member_id(kind: &str) -> String {
    format!("{kind}-{}", &JobId::new().as_str()[..8])
}

impl Cluster {
    /// The all-in-one cluster of `histo serve` and local `histo equalize`:
    /// an embedded coordinator and `workers` in-process workers.
    pub fn embedded(workers: usize, admission: Admission, events: EventBus) -> Result<Cluster, RunError> {
        let id = new_member_id("master");
        let coordinator = Arc::new(Embedded::new(&id, workers));
        let state = ConnectionState::Connected;
        events.publish(Event::observability("coordinator", state.name(), state.message("Embedded coordinator")));
        Ok(Cluster::with(id, coordinator, None, admission, events))
    }

    /// A master of a ZooKeeper-coordinated cluster: [`Role::Master`] (a
    /// long-running master: registered, in the leader election) or
    /// [`Role::Client`] (one job's master: finds the workers, nothing more).
    pub async fn zookeeper(
        config: ZkConfig,
        role: Role,
        admission: Admission,
        events: EventBus,
    ) -> Result<Cluster, ZkError> {
        let id = new_member_id(if matches!(role, Role::Client) { "client" } else { "master" });
        let zk = ZooKeeper::start(config, id.clone(), role, events.clone()).await?;
        Ok(Cluster::with(id, zk.clone(), Some(zk), admission, events))
    }

    /// Waits until the coordinator knows at least one worker, for at most
    /// `timeout`; true if it does.
    pub async fn wait_for_workers(&self, timeout: std::time::Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.inner.coordinator.workers().is_empty() {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        true
    }

    fn with(
        id: String,
        coordinator: Arc<dyn Coordinator>,
        zookeeper: Option<Arc<ZooKeeper>>,
        admission: Admission,
        events: EventBus,
    ) -> Cluster {
        let inner = Inner {
            id,
            events,
            jobs: JobStore::new(JOBS_KEPT),
            coordinator,
            zookeeper,
            scheduler: SchedulerConfig::default(),
            running: Arc::new(Semaphore::new(admission.max_running.max(1))),
            admission,
            waiting: AtomicUsize::new(0),
            recording: std::sync::Mutex::default(),
        };
        Cluster { inner: Arc::new(inner) }
    }

    /// Changes the scheduler's tuning (deadlines, backups).
    pub fn with_scheduler(mut self, config: SchedulerConfig) -> Cluster {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.scheduler = config;
        }
        self
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

    /// Whether jobs can run now: the coordinator is usable and knows a worker.
    pub fn is_ready(&self) -> bool {
        self.inner.coordinator.state().is_usable() && !self.inner.coordinator.workers().is_empty()
    }

    /// Whether this master leads the cluster.
    pub fn is_leader(&self) -> bool {
        self.inner.coordinator.leader().as_deref() == Some(self.id())
    }

    /// Leaves the cluster cleanly: finishes writing job summaries (for at
    /// most two seconds) and deletes this master's znodes.
    pub async fn close(&self) {
        let pending: Vec<_> = std::mem::take(&mut *self.inner.recording.lock().expect("recording lock"));
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), futures::future::join_all(pending)).await;
        if let Some(zk) = &self.inner.zookeeper {
            zk.close().await;
        }
    }

    /// The cluster at a glance.
    pub fn snapshot(&self) -> ClusterSnapshot {
        let inner = &self.inner;
        let c = &inner.coordinator;
        let running = inner.admission.max_running.max(1) - inner.running.available_permits();
        ClusterSnapshot {
            coordinator: c.kind().into(),
            state: c.state().name().into(),
            master: inner.id.clone(),
            leader: c.leader(),
            masters: c.masters(),
            workers: c.workers().iter().map(|w| w.info()).collect(),
            jobs_running: running,
            jobs_waiting: inner.waiting.load(Ordering::Relaxed),
        }
    }

    /// Runs one job on `input` (an encoded image: bytes, or a file read as
    /// it is decoded) and returns the output in memory.
    pub async fn run(&self, input: impl Into<Input>, spec: JobSpec) -> Result<JobOutput, RunError> {
        let input = input.into();
        // Outputs are about the size of inputs: most jobs never grow the buffer.
        let capacity = usize::try_from(input.len()).unwrap_or(0);
        let written = self.run_to(input, spec, io::Cursor::new(Vec::with_capacity(capacity))).await?;
        Ok(JobOutput { id: written.id, bytes: written.out.into_inner(), format: written.format })
    }

    /// Runs one job on `input` and writes the output to `out` as it is
    /// made: PNG pieces go out in order as the workers return them, so the
    /// master holds neither the image nor the output file. On an error,
    /// `out` may hold part of an image.
    pub async fn run_to<W>(&self, input: impl Into<Input>, spec: JobSpec, out: W) -> Result<Written<W>, RunError>
    where
        W: Write + Seek + Send + 'static,
    {
        let input = input.into();
        let id = JobId::new();
        let inner = &self.inner;
        inner.jobs.put(JobRecord::new(id.clone(), &inner.id, input.len()));
        // Dropped before the end (the client went away), the job still
        // frees what it holds; see `Abandoned`.
        let abandoned = Abandoned { inner: Some(inner.clone()), id: id.clone() };
        let result = match self.admit().await {
            Ok(permit) => {
                inner.jobs.update(&id, |r| r.state = JobState::Running);
                let start = Instant::now();
                let result = inner.execute(&id, input, &spec, out).await;
                inner.jobs.update(&id, |r| r.timings.total_ms = ms(start));
                drop(permit);
                result
            }
            Err(e) => Err(e),
        };
        abandoned.finished();
        match &result {
            Ok(_) => {
                inner.jobs.update(&id, |r| r.state = JobState::Done);
                inner.progress(&id, "done", 1, 1, "");
            }
            Err(e) => {
                inner.jobs.update(&id, |r| {
                    r.state = JobState::Failed;
                    r.error = Some(e.to_string());
                });
                inner.progress(&id, "failed", 0, 0, "");
            }
        }
        if let Some(handle) = inner.jobs.get(&id).and_then(|r| inner.coordinator.record_job(&r)) {
            let mut recording = inner.recording.lock().expect("recording lock");
            recording.retain(|h| !h.is_finished());
            recording.push(handle);
        }
        result.map(|(out, len, format)| Written { id, out, len, format })
    }

    /// A turn to run: at once, after waiting, or refused when too many wait.
    async fn admit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, RunError> {
        let inner = &self.inner;
        if let Ok(p) = inner.running.clone().try_acquire_owned() {
            return Ok(p);
        }
        let waiting = inner.waiting.fetch_add(1, Ordering::SeqCst);
        // Counted out on every path, including this future being dropped
        // while it waits (a client that gives up): otherwise each such
        // client would take a queue place for good.
        let _counted = Waiting(&inner.waiting);
        if waiting >= inner.admission.max_waiting {
            return Err(RunError::Overloaded { running: inner.admission.max_running, waiting });
        }
        Ok(inner.running.clone().acquire_owned().await.expect("semaphore is never closed"))
    }
}

/// One place in the admission queue, given back when dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A job whose future may be dropped before it ends (the HTTP client
/// disconnected). If it is, the workers are told to drop the strips they
/// hold for it, as they are when a job ends, and the job's record says so;
/// otherwise those strips would stay until the workers' memory bound
/// pushed them out.
struct Abandoned {
    inner: Option<Arc<Inner>>,
    id: JobId,
}

impl Abandoned {
    /// The job ran to its end (success or error): nothing to clean up.
    fn finished(mut self) {
        self.inner = None;
    }
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else { return };
        inner.jobs.update(&self.id, |r| {
            r.state = JobState::Failed;
            r.error = Some("cancelled: the client went away".into());
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let id = self.id.clone();
            runtime.spawn(async move { inner.release(&id).await });
        }
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn failed(e: impl std::fmt::Display) -> RunError {
    RunError::Failed(e.to_string())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, RunError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| failed(format!("task ended: {e}")))
}

impl From<PhaseError> for RunError {
    fn from(e: PhaseError) -> Self {
        match e {
            PhaseError::NoWorkers(_) => RunError::NoWorkers,
            PhaseError::Failed(m) => RunError::Failed(m),
        }
    }
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

    fn task_done(&self, id: &JobId, phase: &str, strip: usize, worker: &str, done: usize, total: usize) {
        let state = if phase == "map" { "mapped" } else { "done" };
        self.jobs.update(id, |r| {
            if let Some(t) = r.tasks.get_mut(strip) {
                t.phase = state.to_owned();
                t.worker = Some(worker.to_owned());
                t.attempts += 1;
            }
        });
        self.progress(id, phase, done as u32, total as u32, worker);
    }

    /// Decode, map, reduce, apply on the workers, encode: strips are
    /// decoded as the map phase sends them, and the output is written as
    /// the apply phase returns it.
    async fn execute<W>(&self, id: &JobId, input: Input, spec: &JobSpec, out: W) -> Result<(W, u64, Format), RunError>
    where
        W: Write + Seek + Send + 'static,
    {
        let t = Instant::now();
        let limits = spec.limits;
        let opened = blocking(move || stream::open(&input, &limits)).await??;
        let (width, height, layout, depth, in_format) = match &opened {
            Opened::Strips(r) => {
                let h = r.header();
                (h.width, h.height, h.layout, h.depth, Format::Png)
            }
            Opened::Whole(image, format) => (image.width(), image.height(), image.layout(), image.depth(), *format),
        };
        let header_ms = ms(t);
        let plan = Plan::new(width, height, layout, depth, spec.options)?;
        let format = spec.format.unwrap_or(in_format);
        let strips = strips::split(height, strips::count_for(height, plan.row_len()));
        self.jobs.update(id, |r| {
            r.width = width;
            r.height = height;
            r.layout = layout.to_string();
            r.bits = if depth == Depth::U8 { 8 } else { 16 };
            r.mode = spec.options.mode.to_string();
            r.method = spec.options.method.name().to_owned();
            r.format = format.to_string();
            r.timings.decode_ms = header_ms;
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
        let plan_spec = PlanSpec { width, height, layout: plan.output_layout(), depth, options: spec.options };
        let feed = {
            let (plan, strips) = (plan.clone(), strips.clone());
            Arc::new(blocking(move || Feed::new(plan, strips, opened)).await?)
        };
        let result = self.phases(id, spec, &plan, plan_spec, &strips, &feed, format, out).await;
        self.release(id).await;
        let decode_ms = header_ms + feed.decoding_time().as_secs_f64() * 1000.0;
        self.jobs.update(id, |r| r.timings.decode_ms = decode_ms);
        match result {
            // A broken input shows as a failed task: the input is the answer.
            Err(e) => Err(feed.take_error().map_or(e, RunError::Input)),
            Ok((out, len)) => Ok((out, len, format)),
        }
    }

    /// Map, reduce, apply and the output, over `feed`'s strips.
    #[allow(clippy::too_many_arguments)]
    async fn phases<W>(
        &self,
        id: &JobId,
        spec: &JobSpec,
        plan: &Plan,
        plan_spec: PlanSpec,
        strips: &[strips::Strip],
        feed: &Arc<Feed>,
        format: Format,
        out: W,
    ) -> Result<(W, u64), RunError>
    where
        W: Write + Seek + Send + 'static,
    {
        // Map: every strip's histograms, summed as they come; each strip is
        // then held by the worker that mapped it.
        let t = Instant::now();
        let total = strips.len();
        let mut before = plan.empty_histograms();
        let mut holders: Vec<Option<String>> = vec![None; total];
        scheduler::run_tasks(
            &self.scheduler,
            self.coordinator.as_ref(),
            total,
            &[],
            |i, worker, _| {
                let (feed, job, strip) = (feed.clone(), id.clone(), strips[i]);
                async move {
                    let (samples, above) = feed.for_map(i).await?;
                    worker.map(&MapTask { job, spec: plan_spec, strip, samples, above }).await
                }
            },
            |i, worker, hist, done, total| {
                before.merge(&hist);
                holders[i] = Some(worker.to_owned());
                feed.mapped(i);
                self.task_done(id, "map", i, worker, done, total);
            },
        )
        .await?;
        let map_ms = ms(t);
        let t = Instant::now();
        let luts = Arc::new(plan.reduce(&before));
        let reduce_ms = ms(t);
        self.progress(id, "reduce", 1, 1, "");

        // Apply: each strip where it is held; PNG pieces are compressed
        // there and written out in order as they arrive.
        let t = Instant::now();
        let output = match format {
            Format::Png => OutputKind::Png { settings: spec.png },
            _ => OutputKind::Raw,
        };
        let after_plan = plan.output_plan();
        let mut after = after_plan.empty_histograms();
        let mut sink = Sink::start(plan, strips, format, spec.png, out);
        let applied = scheduler::run_tasks(
            &self.scheduler,
            self.coordinator.as_ref(),
            total,
            &holders,
            |i, worker, resend| {
                let (feed, job, strip, luts) = (feed.clone(), id.clone(), strips[i], luts.clone());
                async move {
                    let resend = if resend { Some(feed.for_resend(i).await?) } else { None };
                    let last = i + 1 == total;
                    worker.apply(&ApplyTask { job, spec: plan_spec, strip, last, luts, output, resend }).await
                }
            },
            |i, worker, applied, done, total| {
                after.merge(&applied.after);
                sink.push(i, applied.output);
                self.task_done(id, "apply", i, worker, done, total);
            },
        )
        .await;
        let apply_ms = ms(t);
        if let Err(e) = applied {
            sink.abandon().await;
            return Err(e.into());
        }

        let t = Instant::now();
        let (out, len) = sink.finish().await?;
        self.progress(id, "encode", 1, 1, "");
        self.jobs.update(id, |r| {
            r.bytes_out = len;
            r.timings.map_ms = map_ms;
            r.timings.reduce_ms = reduce_ms;
            r.timings.apply_ms = apply_ms;
            r.timings.encode_ms = ms(t);
            r.histograms = Some(record::Histograms {
                planes: plan.plane_names().iter().map(|s| s.to_string()).collect(),
                before: plan.summarize(&before),
                after: after_plan.summarize(&after),
            });
        });
        Ok((out, len))
    }

    /// Tells every worker to drop what this job left there.
    async fn release(&self, id: &JobId) {
        let workers = self.coordinator.workers();
        futures::future::join_all(workers.iter().map(|w| w.release(id))).await;
    }
}

/// Where applied strips go: PNG pieces to a writer thread that lays them
/// out in order as they come; raw samples into the output image, encoded
/// once every strip is in.
enum Sink<W> {
    Png {
        pieces: std::sync::mpsc::Sender<(usize, EncodedStrip)>,
        writer: tokio::task::JoinHandle<Result<(W, u64), RunError>>,
        wrong: bool,
    },
    Raw(Box<RawSink<W>>),
}

/// The raw side of a [`Sink`].
struct RawSink<W> {
    plan: Plan,
    strips: Vec<strips::Strip>,
    format: Format,
    settings: png::Settings,
    pixels: Pixels,
    out: W,
    wrong: bool,
}

impl<W: Write + Seek + Send + 'static> Sink<W> {
    fn start(plan: &Plan, strips: &[strips::Strip], format: Format, settings: png::Settings, out: W) -> Self {
        let samples = plan.height() as usize * plan.row_len();
        if format != Format::Png {
            let pixels = match plan.depth() {
                Depth::U8 => Pixels::U8(vec![0; samples]),
                Depth::U16 => Pixels::U16(vec![0; samples]),
            };
            return Sink::Raw(Box::new(RawSink {
                plan: plan.clone(),
                strips: strips.to_vec(),
                format,
                settings,
                pixels,
                out,
                wrong: false,
            }));
        }
        let header = png::Header {
            width: plan.width(),
            height: plan.height(),
            layout: plan.output_layout(),
            depth: plan.depth(),
        };
        let count = strips.len();
        let (pieces, arriving) = std::sync::mpsc::channel::<(usize, EncodedStrip)>();
        let writer = tokio::task::spawn_blocking(move || {
            let counted = Counted { out: io::BufWriter::with_capacity(1 << 20, out), written: 0 };
            let mut png = png::Writer::start(counted, &header).map_err(write_failed)?;
            let mut early = BTreeMap::new();
            let mut next = 0;
            for (i, piece) in arriving {
                early.insert(i, piece);
                while let Some(piece) = early.remove(&next) {
                    png.push(&piece).map_err(write_failed)?;
                    next += 1;
                }
            }
            if next != count {
                return Err(failed(format!("{} of {count} strips came back", next)));
            }
            let counted = png.finish().map_err(write_failed)?;
            let out = counted.out.into_inner().map_err(|e| write_failed(e.into_error()))?;
            Ok((out, counted.written))
        });
        Sink::Png { pieces, writer, wrong: false }
    }

    /// Takes strip `index`'s output.
    fn push(&mut self, index: usize, output: StripOutput) {
        match (self, output) {
            // A closed channel means the writer failed: finish() reports it.
            (Sink::Png { pieces, .. }, StripOutput::Png(piece)) => drop(pieces.send((index, piece))),
            (Sink::Raw(raw), StripOutput::Raw(strip)) => {
                let RawSink { plan, strips, pixels, wrong, .. } = &mut **raw;
                let Some(range) = strips.get(index).map(|s| s.sample_range(plan.row_len())) else {
                    *wrong = true;
                    return;
                };
                match (pixels, strip) {
                    (Pixels::U8(all), Pixels::U8(s)) if s.len() == range.len() => all[range].copy_from_slice(&s),
                    (Pixels::U16(all), Pixels::U16(s)) if s.len() == range.len() => all[range].copy_from_slice(&s),
                    _ => *wrong = true,
                }
            }
            (Sink::Png { wrong, .. }, _) => *wrong = true,
            (Sink::Raw(raw), _) => raw.wrong = true,
        }
    }

    /// The output, complete: its writer and the bytes written.
    async fn finish(self) -> Result<(W, u64), RunError> {
        match self {
            Sink::Png { pieces, writer, wrong } => {
                drop(pieces);
                let written = writer.await.map_err(|e| failed(format!("writing ended: {e}")))?;
                if wrong {
                    return Err(failed("a worker returned raw samples for a PNG piece"));
                }
                written
            }
            Sink::Raw(raw) => {
                let RawSink { plan, format, settings, pixels, mut out, wrong, .. } = *raw;
                if wrong {
                    return Err(failed("a worker returned a strip of the wrong kind or size"));
                }
                blocking(move || {
                    let image =
                        Image::new(plan.width(), plan.height(), plan.output_layout(), pixels).map_err(failed)?;
                    let start = out.stream_position().map_err(write_failed)?;
                    histo_codec::encode(&image, format, &settings, &mut out).map_err(failed)?;
                    let end = out.stream_position().map_err(write_failed)?;
                    Ok((out, end - start))
                })
                .await?
            }
        }
    }

    /// Stops a sink whose job failed.
    async fn abandon(self) {
        if let Sink::Png { pieces, writer, .. } = self {
            drop(pieces);
            let _ = writer.await;
        }
    }
}

/// A writer that counts what goes through it.
struct Counted<W> {
    out: W,
    written: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn write_failed(e: io::Error) -> RunError {
    failed(format!("cannot write the output: {e}"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use histo_core::Layout;

    use super::*;
    use crate::worker::WorkerCore;

    #[tokio::test]
    async fn a_client_that_gives_up_while_queued_gives_its_place_back() {
        let cluster = Cluster::embedded(1, Admission { max_running: 1, max_waiting: 1 }, EventBus::new()).unwrap();
        let running = cluster.admit().await.unwrap();
        for _ in 0..3 {
            // Waits for the slot, then is dropped, as when its client disconnects.
            assert!(tokio::time::timeout(Duration::from_millis(20), cluster.admit()).await.is_err());
            assert_eq!(cluster.snapshot().jobs_waiting, 0);
        }
        // The one queue place is still there: a caller waits, it is not refused.
        assert!(tokio::time::timeout(Duration::from_millis(20), cluster.admit()).await.is_err());
        drop(running);
        assert!(cluster.admit().await.is_ok());
    }

    #[tokio::test]
    async fn an_abandoned_job_releases_the_strips_its_workers_hold() {
        // Apply waits long after map, so the job is dropped while its strip is held.
        let core = Arc::new(WorkerCore::new("slow", 1, 1 << 30).with_task_delay(Duration::from_millis(300)));
        let coordinator = Arc::new(Embedded::with_cores("master-test", vec![core.clone()]));
        let cluster = Cluster::with("master-test".into(), coordinator, None, Admission::default(), EventBus::new());
        let image =
            Image::new(64, 64, Layout::Gray, Pixels::U8((0..64 * 64).map(|i| (i % 97) as u8).collect())).unwrap();
        let mut png = std::io::Cursor::new(Vec::new());
        histo_codec::encode(&image, Format::Png, &png::Settings::default(), &mut png).unwrap();
        let spec = JobSpec { limits: Limits::CLI, ..Default::default() };

        let job = tokio::spawn({
            let cluster = cluster.clone();
            async move { cluster.run(png.into_inner(), spec).await }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while core.held_bytes() == 0 {
            assert!(Instant::now() < deadline, "map never finished");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        job.abort(); // the client went away during apply's delay
        assert!(job.await.unwrap_err().is_cancelled());
        let deadline = Instant::now() + Duration::from_secs(5);
        while core.held_bytes() != 0 {
            assert!(Instant::now() < deadline, "the strip is still held");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(cluster.snapshot().jobs_running, 0);
    }
}
