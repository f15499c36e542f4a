//! Who is in the cluster: the workers and masters a coordinator knows, as
//! plain data that the coordinators, the scheduler and `GET /api/cluster`
//! share.

use serde::Serialize;

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

/// A fresh process id with a readable prefix, e.g. `master-3f2a9c1d`.
pub fn new_member_id(kind: &str) -> String {
    format!("{kind}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}
