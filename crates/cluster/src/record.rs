//! What is known of each job: its state, shape, per-task progress, timings
//! and histograms, kept for a bounded number of recent jobs.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;

use serde::Serialize;

/// A job's identifier: 32 hex digits, random.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct JobId(String);

impl JobId {
    /// A fresh random id.
    pub fn new() -> Self {
        JobId(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Parses an id as received from a client; None unless it has the shape
    /// of an id (so a lookup never echoes arbitrary input).
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| JobId(s.to_ascii_lowercase()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for JobId {
    fn default() -> Self {
        JobId::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for a slot.
    Queued,
    /// Being worked on.
    Running,
    /// Finished; the output was returned.
    Done,
    /// Failed; see `error`.
    Failed,
}

/// Where one strip's task is: waiting, its histogram counted (the strip
/// held by a worker), or applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskPhase {
    Pending,
    Mapped,
    Done,
}

/// One strip's task.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskRecord {
    /// Strip index.
    pub strip: usize,
    /// First row.
    pub y0: u32,
    /// Rows.
    pub rows: u32,
    pub phase: TaskPhase,
    /// The worker that holds it.
    pub worker: Option<String>,
    /// Attempts so far (more than one after a retry or a backup task).
    pub attempts: u32,
}

/// Milliseconds spent in each phase.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Timings {
    /// Decoding the upload.
    pub decode_ms: f64,
    /// Counting histograms.
    pub map_ms: f64,
    /// Summing them into tables.
    pub reduce_ms: f64,
    /// Mapping strips through the tables.
    pub apply_ms: f64,
    /// Encoding the output.
    pub encode_ms: f64,
    /// Everything.
    pub total_ms: f64,
}

/// 256-bin histograms of the equalized planes, before and after, for plots
/// (16-bit planes are folded into 256 bins).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Histograms {
    /// Plane names: `gray`, `luma`, or `r`, `g`, `b`.
    pub planes: Vec<String>,
    /// Before, one 256-bin histogram per plane.
    pub before: Vec<Vec<u64>>,
    /// After.
    pub after: Vec<Vec<u64>>,
}

/// Everything known of one job.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobRecord {
    /// The id.
    pub id: JobId,
    /// The state.
    pub state: JobState,
    /// The master that ran it.
    pub master: String,
    /// When it arrived.
    pub created: String,
    /// Image width (0 until decoded).
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// Input layout, e.g. `rgb`.
    pub layout: String,
    /// Bits per sample.
    pub bits: u8,
    /// Mode asked for.
    pub mode: String,
    /// Method.
    pub method: String,
    /// Output format.
    pub format: String,
    /// Upload size.
    pub bytes_in: u64,
    /// Output size.
    pub bytes_out: u64,
    /// Per-strip tasks.
    pub tasks: Vec<TaskRecord>,
    /// Phase timings.
    pub timings: Timings,
    /// Histograms before and after.
    pub histograms: Option<Histograms>,
    /// Why it failed.
    pub error: Option<String>,
    /// The id its client gave the request, carried by its progress events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl JobRecord {
    /// A new record for a job that just arrived.
    pub fn new(id: JobId, master: &str, bytes_in: u64) -> Self {
        JobRecord {
            id,
            state: JobState::Queued,
            master: master.to_owned(),
            created: crate::events::now(),
            width: 0,
            height: 0,
            layout: String::new(),
            bits: 0,
            mode: String::new(),
            method: String::new(),
            format: String::new(),
            bytes_in,
            bytes_out: 0,
            tasks: Vec::new(),
            timings: Timings::default(),
            histograms: None,
            error: None,
            request_id: None,
        }
    }
}

/// The most recent jobs, oldest dropped first.
pub struct JobStore {
    capacity: usize,
    inner: Mutex<(VecDeque<JobId>, HashMap<JobId, JobRecord>)>,
}

impl JobStore {
    /// A store keeping at most `capacity` jobs.
    pub fn new(capacity: usize) -> Self {
        JobStore { capacity: capacity.max(1), inner: Mutex::default() }
    }

    /// Adds or replaces a record.
    pub fn put(&self, record: JobRecord) {
        let mut guard = self.inner.lock().expect("job store lock");
        let (order, map) = &mut *guard;
        if map.insert(record.id.clone(), record.clone()).is_none() {
            order.push_back(record.id);
            while order.len() > self.capacity {
                if let Some(old) = order.pop_front() {
                    map.remove(&old);
                }
            }
        }
    }

    /// Changes a record in place, if it is still kept.
    pub fn update(&self, id: &JobId, f: impl FnOnce(&mut JobRecord)) {
        if let Some(r) = self.inner.lock().expect("job store lock").1.get_mut(id) {
            f(r);
        }
    }

    /// Reads a record in place, if it is still kept.
    pub fn read<T>(&self, id: &JobId, f: impl FnOnce(&JobRecord) -> T) -> Option<T> {
        self.inner.lock().expect("job store lock").1.get(id).map(f)
    }

    /// A copy of a record.
    pub fn get(&self, id: &JobId) -> Option<JobRecord> {
        self.inner.lock().expect("job store lock").1.get(id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_keeps_only_the_latest() {
        let store = JobStore::new(2);
        let ids: Vec<JobId> = (0..3).map(|_| JobId::new()).collect();
        for id in &ids {
            store.put(JobRecord::new(id.clone(), "m", 1));
        }
        assert!(store.get(&ids[0]).is_none());
        assert!(store.get(&ids[2]).is_some());
    }

    #[test]
    fn ids_parse_only_when_well_formed() {
        let id = JobId::new();
        assert_eq!(JobId::parse(id.as_str()), Some(id));
        assert_eq!(JobId::parse("../etc/passwd"), None);
        assert_eq!(JobId::parse(""), None);
    }
}
