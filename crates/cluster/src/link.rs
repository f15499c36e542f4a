//! How a master reaches a worker: an in-process call (embedded coordinator)
//! or gRPC (ZooKeeper cluster). The scheduler sees only [`WorkerLink`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

use histo_core::plan::Histograms;

use crate::member::WorkerInfo;
use crate::record::JobId;
use crate::rpc::RemoteWorker;
use crate::task::{Applied, ApplyTask, MapTask, TaskError};
use crate::token::Token;
use crate::worker::WorkerCore;

enum Transport {
    Local(Arc<WorkerCore>),
    Remote(RemoteWorker),
}

/// A worker as a master uses it, with the tasks this master has on it.
pub struct WorkerLink {
    info: WorkerInfo,
    transport: Transport,
    in_flight: AtomicUsize,
    slot_freed: Notify,
}

impl WorkerLink {
    /// A link to an in-process worker.
    pub fn local(core: Arc<WorkerCore>, info: WorkerInfo) -> Self {
        WorkerLink {
            info,
            transport: Transport::Local(core),
            in_flight: AtomicUsize::new(0),
            slot_freed: Notify::new(),
        }
    }

    /// A link to a remote worker, connected on first use, presenting the
    /// cluster's `token` on every call.
    pub fn remote(info: WorkerInfo, token: Option<&Token>) -> Result<Self, TaskError> {
        let client = RemoteWorker::new(&info.address, token)?;
        Ok(WorkerLink {
            info,
            transport: Transport::Remote(client),
            in_flight: AtomicUsize::new(0),
            slot_freed: Notify::new(),
        })
    }

    /// The worker's id.
    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// What the coordinator knows of it, with this master's load on it.
    pub fn info(&self) -> WorkerInfo {
        WorkerInfo { busy: self.in_flight(), ..self.info.clone() }
    }

    /// Tasks it runs at once.
    pub fn slots(&self) -> usize {
        self.info.slots.max(1)
    }

    /// Tasks this master has on it now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Completes when one of this master's tasks on the worker ends (its
    /// slot is free again), for a scheduler waiting for a slot: with several
    /// jobs at once, a slot another job frees is taken at once, not at the
    /// next poll. Enable it before looking at the slots so that a slot freed
    /// in between is not missed.
    pub fn slot_freed(&self) -> tokio::sync::futures::Notified<'_> {
        self.slot_freed.notified()
    }

    /// Counts a task as this master's on the worker until the returned
    /// guard drops. The scheduler reserves when it assigns, so its next
    /// choice already sees the load.
    pub fn reserve(self: &Arc<Self>) -> Reservation {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Reservation(self.clone())
    }

    /// Map on this worker.
    pub async fn map(&self, task: &MapTask) -> Result<Histograms, TaskError> {
        match &self.transport {
            Transport::Local(core) => core.map(task.clone()).await,
            Transport::Remote(r) => r.map(task).await,
        }
    }

    /// Apply on this worker.
    pub async fn apply(&self, task: &ApplyTask) -> Result<Applied, TaskError> {
        match &self.transport {
            Transport::Local(core) => core.apply(task.clone()).await,
            Transport::Remote(r) => r.apply(task).await,
        }
    }

    /// Drops what `job` left on this worker (best effort).
    pub async fn release(&self, job: &JobId) {
        match &self.transport {
            Transport::Local(core) => core.release(job),
            Transport::Remote(r) => r.release(job).await,
        }
    }
}

/// A task counted against a worker's slots; see [`WorkerLink::reserve`].
pub struct Reservation(Arc<WorkerLink>);

impl Drop for Reservation {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.slot_freed.notify_waiters();
    }
}
