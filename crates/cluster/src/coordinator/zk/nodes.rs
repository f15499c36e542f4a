//! The JSON stored in histo's znodes: what each member writes about
//! itself, the leader's node, and the job summaries under `/jobs`.

use serde::{Deserialize, Serialize};

use crate::record::{JobRecord, JobState, Timings};

#[derive(Serialize, Deserialize)]
pub(super) struct WorkerNode {
    pub(super) address: String,
    pub(super) slots: usize,
    pub(super) version: String,
    pub(super) started: String,
}

#[derive(Serialize, Deserialize)]
pub(super) struct MasterNode {
    pub(super) address: String,
    pub(super) version: String,
    pub(super) started: String,
}

#[derive(Serialize, Deserialize)]
pub(super) struct LeaderNode {
    pub(super) id: String,
}

/// The job summary stored under `/jobs`: the record without its tasks and
/// histograms.
#[derive(Serialize)]
pub(super) struct JobNode<'a> {
    pub(super) id: &'a str,
    pub(super) state: JobState,
    pub(super) master: &'a str,
    pub(super) created: &'a str,
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) mode: &'a str,
    pub(super) method: &'a str,
    pub(super) format: &'a str,
    pub(super) bytes_in: u64,
    pub(super) bytes_out: u64,
    pub(super) timings: &'a Timings,
    pub(super) error: Option<&'a str>,
}

impl<'a> JobNode<'a> {
    pub(super) fn of(record: &'a JobRecord) -> Self {
        JobNode {
            id: record.id.as_str(),
            state: record.state,
            master: &record.master,
            created: &record.created,
            width: record.width,
            height: record.height,
            mode: &record.mode,
            method: &record.method,
            format: &record.format,
            bytes_in: record.bytes_in,
            bytes_out: record.bytes_out,
            timings: &record.timings,
            error: record.error.as_deref(),
        }
    }
}

pub(super) fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
