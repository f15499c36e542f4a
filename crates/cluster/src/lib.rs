//! Coordination for histo: everything between "an image arrived" and "the
//! equalized image is ready", apart from HTTP.
//!
//! What other crates use: [`Cluster`], the handle the HTTP server and the
//! CLI run jobs through; [`events`], the bus every state change is
//! published on (typed data; the server words it); [`member`], who is in
//! the cluster; [`worker`] and [`rpc`], a worker's own side.
//!
//! Inside: `cluster/` is a job's life (admission, pipeline, output sink);
//! `scheduler` runs the MapReduce phases on whatever workers the
//! `coordinator` knows (`embedded` in-process workers, or `zk`
//! ZooKeeper-registered ones reached over [`rpc`]) through `link`;
//! `feed` gives the master a job's strips as they are sent (a PNG is
//! decoded strip by strip, never held whole); `record` keeps what is known
//! of each job, for `GET /api/jobs/{id}`.

mod cluster;
mod coordinator;
mod error;
pub mod events;
mod feed;
mod link;
pub mod member;
mod record;
pub mod rpc;
mod rpc_auth;
mod scheduler;
mod task;
pub mod token;
pub mod worker;

pub use cluster::{Admission, Cluster, ClusterSnapshot, Counted, JobOutput, JobSpec, Mask, Reference, Written};
pub use coordinator::zk::{Role, ZkConfig, ZkError, ZooKeeper};
pub use error::RunError;
pub use events::{ConnectionState, Event, EventBus};
pub use member::{MasterInfo, WorkerInfo};
pub use record::{Histograms, JobId, JobRecord, JobState, TaskPhase, TaskRecord, Timings};
pub use scheduler::SchedulerConfig;
