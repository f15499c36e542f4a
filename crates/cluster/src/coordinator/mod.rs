//! Coordinators: who the workers and masters are, who leads, and how the
//! connection to the coordination service is doing.
//!
//! [`embedded::Embedded`] is the single-process default (`histo serve`,
//! local `histo equalize`); [`zk::ZooKeeper`] is the cluster one. The
//! scheduler only asks for [`Coordinator::workers`].

pub mod embedded;
pub mod zk;

use crate::events::ConnectionState;
use crate::member::MasterInfo;
use crate::record::JobRecord;
use crate::scheduler::WorkerSource;

/// What a master needs from its coordinator.
pub trait Coordinator: WorkerSource {
    /// `embedded` or `zookeeper`.
    fn kind(&self) -> &'static str;
    /// The current connection state.
    fn state(&self) -> ConnectionState;
    /// Every master.
    fn masters(&self) -> Vec<MasterInfo>;
    /// The leader's id, if known.
    fn leader(&self) -> Option<String>;
    /// Stores a finished job's summary where other masters can see it, in
    /// the background; the handle lets a closing process wait for it.
    fn record_job(&self, record: &JobRecord) -> Option<tokio::task::JoinHandle<()>>;
}
