//! The embedded coordinator: this process is the whole cluster. Its workers
//! are in-process [`WorkerCore`]s, it is always connected and always leads.

use std::sync::Arc;

use crate::coordinator::Coordinator;
use crate::events::{ConnectionState, now};
use crate::link::WorkerLink;
use crate::member::{MasterInfo, WorkerInfo};
use crate::record::JobRecord;
use crate::scheduler::WorkerSource;
use crate::worker::WorkerCore;

/// A single-process cluster.
pub struct Embedded {
    master: MasterInfo,
    workers: Vec<Arc<WorkerLink>>,
}

/// Tasks an in-process worker runs at once. One per core left cores idle
/// (a quarter of the time under load, measured): a task holds its slot
/// while its strip is decoded and while its result goes back through the
/// async runtime, and those hand-offs wait for a busy CPU. A second task
/// fills those gaps; the threads share the core.
pub const LOCAL_SLOTS: usize = 2;

impl Embedded {
    /// A cluster of `workers` in-process workers with [`LOCAL_SLOTS`] slots
    /// each, holding at most `max_held` bytes of strips between them.
    pub fn new(master_id: &str, workers: usize, max_held: usize) -> Self {
        let workers = workers.max(1);
        let cores = (0..workers)
            .map(|i| Arc::new(WorkerCore::new(format!("embedded-{i}"), LOCAL_SLOTS, max_held / workers)))
            .collect();
        Embedded::with_cores(master_id, cores)
    }

    /// A cluster of these in-process workers.
    pub(crate) fn with_cores(master_id: &str, cores: Vec<Arc<WorkerCore>>) -> Self {
        let started = now();
        let version = env!("CARGO_PKG_VERSION").to_owned();
        let workers = cores
            .into_iter()
            .map(|core| {
                let info = WorkerInfo {
                    id: core.id().to_owned(),
                    address: "in-process".into(),
                    slots: core.slots(),
                    busy: 0,
                    version: version.clone(),
                    started: started.clone(),
                };
                Arc::new(WorkerLink::local(core, info))
            })
            .collect();
        let master = MasterInfo { id: master_id.to_owned(), address: "local".into(), version, started };
        Embedded { master, workers }
    }
}

impl WorkerSource for Embedded {
    fn workers(&self) -> Vec<Arc<WorkerLink>> {
        self.workers.clone()
    }
}

impl Coordinator for Embedded {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    fn state(&self) -> ConnectionState {
        ConnectionState::Connected
    }

    fn masters(&self) -> Vec<MasterInfo> {
        vec![self.master.clone()]
    }

    fn leader(&self) -> Option<String> {
        Some(self.master.id.clone())
    }

    fn record_job(&self, _record: &JobRecord) -> Option<tokio::task::JoinHandle<()>> {
        None
    }
}
