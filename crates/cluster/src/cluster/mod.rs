//! The [`Cluster`] handle: what the HTTP server and the CLI see of the
//! coordination layer.
//!
//! A job goes through admission (a bounded number run, a bounded number
//! wait, the rest are refused as overloaded), decoding within the caller's
//! limits, the MapReduce phases on the workers, and encoding. Its record is
//! kept for `GET /api/jobs/{id}`, and its progress is published on the
//! event bus.
//!
//! Its parts: [`admission`] (turns to run), [`job`] (a job's life and
//! record), [`mask`] (a masked job's mask), [`reference`] (what a matching
//! job follows), [`pipeline`] (map → reduce → apply) and [`sink`] (the
//! output).

mod admission;
mod count;
mod job;
mod mask;
mod pipeline;
mod reference;
mod sink;

use std::io::{self, Seek, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use histo_codec::{EncodeSettings, Format, Input, Limits};
use histo_core::options::{MaskApply, Options};
use histo_core::plan::Histograms;
use serde::Serialize;
use tokio::sync::Semaphore;

pub use admission::Admission;
pub use count::Counted;
use job::Abandoned;
pub use mask::Mask;
pub use reference::Reference;

use crate::coordinator::Coordinator;
use crate::coordinator::embedded::Embedded;
use crate::coordinator::zk::{Role, ZkConfig, ZkError, ZooKeeper};
use crate::error::{RunError, failed_by};
use crate::events::{ConnectionState, CoordinatorKind, Event, EventBus, Phase};
use crate::member::{MasterInfo, WorkerInfo, new_member_id};
use crate::record::{JobId, JobRecord, JobState, JobStore};
use crate::scheduler::SchedulerConfig;
use crate::worker::DEFAULT_HELD_BYTES;

/// What the caller wants done with an image.
#[derive(Clone, Debug, Default)]
pub struct JobSpec {
    /// Mode and method.
    pub options: Options,
    /// Output format (default: the input's).
    pub format: Option<Format>,
    /// How the output is written (PNG, TIFF and JPEG settings).
    pub encode: EncodeSettings,
    /// Decoding limits.
    pub limits: Limits,
    /// The client's id for the request, carried by the job's events.
    pub request_id: Option<String>,
    /// Match this reference's histograms instead of equalizing.
    pub reference: Option<Reference>,
    /// Count only the pixels inside this mask.
    pub mask: Option<Mask>,
    /// Rows per strip, at most (default: strips of about a million
    /// samples). Smaller strips mean more tasks, each holding less.
    pub strip_rows: Option<u32>,
    /// A batch's shared counts: the job applies their table instead of
    /// counting its own image (the counts come from [`Cluster::count`]
    /// over every image of the batch, summed).
    pub shared: Option<Arc<Histograms>>,
}

impl JobSpec {
    /// A masked job's rule, or none.
    pub fn mask_apply(&self) -> Option<MaskApply> {
        self.mask.as_ref().map(|m| m.apply)
    }
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

impl Cluster {
    /// The all-in-one cluster of `histo serve` and local `histo equalize`:
    /// an embedded coordinator and `workers` in-process workers, each
    /// holding up to [`DEFAULT_HELD_BYTES`] of strips between map and apply.
    pub fn embedded(workers: usize, admission: Admission, events: EventBus) -> Result<Cluster, RunError> {
        Cluster::embedded_holding(workers, workers.max(1) * DEFAULT_HELD_BYTES, admission, events)
    }

    /// [`Cluster::embedded`] whose workers hold at most `max_held` bytes of
    /// strips between them; past it, the oldest are dropped and decoded
    /// again from the input for their apply.
    pub fn embedded_holding(
        workers: usize,
        max_held: usize,
        admission: Admission,
        events: EventBus,
    ) -> Result<Cluster, RunError> {
        let id = new_member_id("master");
        let coordinator = Arc::new(Embedded::new(&id, workers, max_held));
        events.publish(Event::connection(CoordinatorKind::Embedded, ConnectionState::Connected));
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

    /// Whether this master can take work: its coordinator is usable. No
    /// worker is a degraded state, not unreadiness: the master keeps
    /// serving its dashboard through the outages it exists to show.
    pub fn is_ready(&self) -> bool {
        self.inner.coordinator.state().is_usable()
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
        let (input_len, request_id) = (input.len(), spec.request_id.clone());
        let job = |inner: Arc<Inner>, id: JobId| async move { inner.execute(&id, input, &spec, out).await };
        let (id, result) = self.tracked(input_len, request_id, job).await;
        result.map(|(out, len, format)| Written { id, out, len, format })
    }

    /// Counts `input` under `spec`'s options and mask on the workers,
    /// applying nothing: one image of a batch with a shared table. Its
    /// record and events are those of a job that ends after the map phase.
    pub async fn count(&self, input: impl Into<Input>, spec: JobSpec) -> Result<Counted, RunError> {
        let input = input.into();
        let (input_len, request_id) = (input.len(), spec.request_id.clone());
        let job = |inner: Arc<Inner>, id: JobId| async move { inner.execute_count(&id, input, &spec).await };
        self.tracked(input_len, request_id, job).await.1
    }

    /// Runs `job` as the job of an input of `input_len` bytes: its record,
    /// admission, progress events and recording, and its clean-up if it is
    /// dropped.
    async fn tracked<T, F, Fut>(
        &self,
        input_len: u64,
        request_id: Option<String>,
        job: F,
    ) -> (JobId, Result<T, RunError>)
    where
        F: FnOnce(Arc<Inner>, JobId) -> Fut,
        Fut: Future<Output = Result<T, RunError>>,
    {
        let id = JobId::new();
        let inner = &self.inner;
        let record = JobRecord { request_id, ..JobRecord::new(id.clone(), &inner.id, input_len) };
        inner.jobs.put(record);
        // Dropped before the end (the client went away), the job still
        // frees what it holds; see `Abandoned`.
        let abandoned = Abandoned::new(inner.clone(), id.clone());
        let result = match self.admit().await {
            Ok(permit) => {
                inner.jobs.update(&id, |r| r.state = JobState::Running);
                let start = Instant::now();
                let result = job(inner.clone(), id.clone()).await;
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
                inner.progress(&id, Phase::Done, 1, 1, "");
            }
            Err(e) => {
                inner.jobs.update(&id, |r| {
                    r.state = JobState::Failed;
                    r.error = Some(e.to_string());
                });
                inner.progress(&id, Phase::Failed, 0, 0, "");
            }
        }
        if let Some(handle) = inner.jobs.get(&id).and_then(|r| inner.coordinator.record_job(&r)) {
            let mut recording = inner.recording.lock().expect("recording lock");
            recording.retain(|h| !h.is_finished());
            recording.push(handle);
        }
        (id, result)
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, RunError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| failed_by("a blocking task ended", e))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use histo_core::{Image, Layout, Pixels};

    use super::*;
    use crate::link::WorkerLink;
    use crate::scheduler::WorkerSource;
    use crate::worker::WorkerCore;

    /// A coordinator whose connection state the test sets, over in-process
    /// workers: what a ZooKeeper master keeps (its known workers) while
    /// its session is suspended or lost.
    struct Switchable {
        workers: Embedded,
        state: Mutex<ConnectionState>,
    }

    impl WorkerSource for Switchable {
        fn workers(&self) -> Vec<Arc<WorkerLink>> {
            self.workers.workers()
        }
    }

    impl Coordinator for Switchable {
        fn kind(&self) -> &'static str {
            "switchable"
        }
        fn state(&self) -> ConnectionState {
            *self.state.lock().unwrap()
        }
        fn masters(&self) -> Vec<MasterInfo> {
            self.workers.masters()
        }
        fn leader(&self) -> Option<String> {
            None
        }
        fn record_job(&self, _: &JobRecord) -> Option<tokio::task::JoinHandle<()>> {
            None
        }
    }

    fn png_of(width: u32, height: u32) -> Vec<u8> {
        let samples = (0..width * height).map(|i| (60 + (i * 7 + i / width * 3) % 80) as u8).collect();
        let image = Image::new(width, height, Layout::Gray, Pixels::U8(samples)).unwrap();
        let mut png = io::Cursor::new(Vec::new());
        histo_codec::encode(&image, Format::Png, &EncodeSettings::default(), &mut png).unwrap();
        png.into_inner()
    }

    #[tokio::test]
    async fn a_session_lost_mid_job_leaves_the_job_to_finish_on_the_known_workers() {
        let input = png_of(1024, 3072); // three strips
        let spec = JobSpec { limits: Limits::CLI, ..Default::default() };
        let expected = Cluster::embedded(2, Admission::default(), EventBus::new())
            .unwrap()
            .run(input.clone(), spec.clone())
            .await
            .unwrap()
            .bytes;

        let cores = (0..2)
            .map(|i| Arc::new(WorkerCore::new(format!("w{i}"), 1, 1 << 30).with_task_delay(Duration::from_millis(50))))
            .collect();
        let coordinator = Arc::new(Switchable {
            workers: Embedded::with_cores("master-test", cores),
            state: Mutex::new(ConnectionState::Connected),
        });
        let cluster =
            Cluster::with("master-test".into(), coordinator.clone(), None, Admission::default(), EventBus::new());
        assert!(cluster.is_ready());
        let job = tokio::spawn({
            let cluster = cluster.clone();
            async move { cluster.run(input, spec).await }
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        *coordinator.state.lock().unwrap() = ConnectionState::Suspended;
        tokio::time::sleep(Duration::from_millis(30)).await;
        *coordinator.state.lock().unwrap() = ConnectionState::Lost;
        assert!(!cluster.is_ready(), "no new work is taken while the session is lost");
        assert!(!job.is_finished(), "the job outlives the session");
        let output = job.await.unwrap().expect("the job finishes on the workers it knew");
        assert_eq!(output.bytes, expected, "the same bytes as with a healthy session");
        assert_eq!(cluster.snapshot().state, "LOST");
    }
}
