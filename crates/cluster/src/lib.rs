//! Coordination for histo: everything between "an image arrived" and "the
//! equalized image is ready", apart from HTTP.
//!
//! * [`Cluster`] is the handle the HTTP server and the CLI use: run a job,
//!   look one up, describe the cluster, subscribe to [`events`].
//! * [`events`] is the bus every state change is published on (connection
//!   states, job progress, security), which the server streams to dashboards.
//! * [`record`] holds what is known of each job, for `GET /api/jobs/{id}`.

pub mod cluster;
pub mod events;
pub mod record;

pub use cluster::{Cluster, ClusterSnapshot, JobOutput, JobSpec, RunError, WorkerInfo};
pub use events::{ConnectionState, Event, EventBus};
pub use record::{JobId, JobRecord, JobState};
