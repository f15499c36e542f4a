//! Coordination for histo: everything between "an image arrived" and "the
//! equalized image is ready", apart from HTTP.
//!
//! * [`Cluster`] is the handle the HTTP server and the CLI use: run a job,
//!   look one up, describe the cluster, subscribe to [`events`].
//! * [`events`] is the bus every state change is published on (connection
//!   states, job progress, security), which the server streams to dashboards.
//! * [`record`] holds what is known of each job, for `GET /api/jobs/{id}`.
//! * [`scheduler`] runs the MapReduce phases on whatever workers the
//!   [`coordinator`] knows ([`coordinator::embedded`] in-process workers, or
//!   [`coordinator::zk`] ZooKeeper-registered ones reached over [`rpc`]),
//!   through [`link::WorkerLink`]; [`worker`] is a worker's own side.
//! * [`feed`] gives the master a job's strips as they are sent: a PNG is
//!   decoded strip by strip, never held whole.

pub mod cluster;
pub mod coordinator;
mod error;
pub mod events;
pub mod feed;
pub mod link;
pub mod member;
pub mod record;
pub mod rpc;
pub mod scheduler;
pub mod task;
pub mod worker;

pub use cluster::{Admission, Cluster, ClusterSnapshot, JobOutput, JobSpec, Written};
pub use coordinator::zk::{Role, ZkConfig, ZkError, ZooKeeper};
pub use error::RunError;
pub use events::{ConnectionState, Event, EventBus};
pub use member::{MasterInfo, WorkerInfo};
pub use record::{JobId, JobRecord, JobState};
