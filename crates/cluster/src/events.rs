//! The event bus: every state change of the process, published once and
//! delivered to every subscriber (dashboards, logs, tests).
//!
//! Event names and payloads are the contract of docs/DESIGN.md (`deployment_log`,
//! `observability`, `job_progress`, `security`). The bus also remembers the
//! latest `observability` event of each component, so that a subscriber who
//! arrives late learns the current state at once.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::Serialize;
use tokio::sync::broadcast;

/// Current time as RFC 3339 with milliseconds, the `ts` of every event.
pub fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// A coordinator connection state, in Apache Curator's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConnectionState {
    /// Connected (first time).
    Connected,
    /// Connection lost; the session may still be alive.
    Suspended,
    /// Connected again within the same session.
    Reconnected,
    /// The session expired: ephemeral nodes and leadership are gone.
    Lost,
    /// Connected to a server that only serves reads.
    ReadOnly,
}

impl ConnectionState {
    /// The state's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            ConnectionState::Connected => "CONNECTED",
            ConnectionState::Suspended => "SUSPENDED",
            ConnectionState::Reconnected => "RECONNECTED",
            ConnectionState::Lost => "LOST",
            ConnectionState::ReadOnly => "READ_ONLY",
        }
    }

    /// Whether the coordinator can be used for writes in this state.
    pub fn is_usable(self) -> bool {
        matches!(self, ConnectionState::Connected | ConnectionState::Reconnected)
    }

    /// The dashboard line for this state of `what` (e.g. "ZooKeeper").
    pub fn message(self, what: &str) -> String {
        match self {
            ConnectionState::Connected | ConnectionState::Reconnected => format!("{what} Connection: OK"),
            ConnectionState::Suspended => format!("WARNING: SUSPENDED ({what} connection lost, session may survive)"),
            ConnectionState::Lost => format!("ERROR: LOST ({what} session expired)"),
            ConnectionState::ReadOnly => format!("WARNING: READ_ONLY ({what} server has no quorum)"),
        }
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A line of the deployment replay.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeploymentLog {
    /// Position in the replay, from 0.
    pub seq: u32,
    /// `terraform`, `tinkerbell`, `ansible`, `kubernetes` or `argocd`.
    pub phase: String,
    /// What happens.
    pub message: String,
    /// The file in `deploy/` or `k8s/` it comes from.
    pub source: String,
    /// When it was sent.
    pub ts: String,
}

/// A component's health.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Observability {
    /// e.g. `zookeeper`, `coordinator`, `worker`.
    pub component: String,
    /// e.g. `CONNECTED`, `SUSPENDED`.
    pub state: String,
    /// e.g. `ZooKeeper Connection: OK`.
    pub message: String,
    /// When.
    pub ts: String,
}

/// A step of a job, as `job_progress` names it: the master's `decode`,
/// the workers' `map`, the master's `reduce`, the workers' `apply`, the
/// master's `encode`, then `done` or `failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Decode,
    Map,
    Reduce,
    Apply,
    Encode,
    Done,
    Failed,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Phase::Decode => "decode",
            Phase::Map => "map",
            Phase::Reduce => "reduce",
            Phase::Apply => "apply",
            Phase::Encode => "encode",
            Phase::Done => "done",
            Phase::Failed => "failed",
        };
        f.write_str(name)
    }
}

/// Progress of one phase of a job.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobProgress {
    /// The job.
    pub job_id: String,
    pub phase: Phase,
    /// Tasks of the phase done so far.
    pub done: u32,
    /// Tasks in the phase.
    pub total: u32,
    /// The worker that finished the last task (empty for master phases).
    pub worker: String,
    /// When.
    pub ts: String,
}

/// Something a security engineer wants to see.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Security {
    /// `auth_failed`, `rate_limited`, `rejected_input`, ...
    pub kind: String,
    /// The client (address), never a credential.
    pub client: String,
    /// What happened.
    pub detail: String,
    /// When.
    pub ts: String,
}

/// One event on the bus.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A deployment replay line.
    DeploymentLog(DeploymentLog),
    /// A health change.
    Observability(Observability),
    /// Job progress.
    JobProgress(JobProgress),
    /// A security event.
    Security(Security),
}

impl Event {
    /// The Socket.IO event name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::DeploymentLog(_) => "deployment_log",
            Event::Observability(_) => "observability",
            Event::JobProgress(_) => "job_progress",
            Event::Security(_) => "security",
        }
    }

    /// The payload as JSON.
    pub fn payload(&self) -> serde_json::Value {
        let value = match self {
            Event::DeploymentLog(e) => serde_json::to_value(e),
            Event::Observability(e) => serde_json::to_value(e),
            Event::JobProgress(e) => serde_json::to_value(e),
            Event::Security(e) => serde_json::to_value(e),
        };
        value.expect("event payloads are plain data")
    }

    /// A health event stamped now.
    pub fn observability(component: &str, state: &str, message: impl Into<String>) -> Event {
        Event::Observability(Observability {
            component: component.to_owned(),
            state: state.to_owned(),
            message: message.into(),
            ts: now(),
        })
    }

    /// A security event stamped now.
    pub fn security(kind: &str, client: impl Into<String>, detail: impl Into<String>) -> Event {
        Event::Security(Security { kind: kind.to_owned(), client: client.into(), detail: detail.into(), ts: now() })
    }
}

/// Events a slow subscriber may fall behind by before it misses some.
const BUS_CAPACITY: usize = 1024;

/// The process's event bus. Cloning shares it.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
    health: Arc<Mutex<BTreeMap<String, Observability>>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new()
    }
}

impl EventBus {
    /// A new, empty bus.
    pub fn new() -> Self {
        EventBus { tx: broadcast::channel(BUS_CAPACITY).0, health: Arc::default() }
    }

    /// Publishes an event to every subscriber, and logs it.
    pub fn publish(&self, event: Event) {
        match &event {
            Event::Observability(o) => {
                // The dashboard's colours, as log levels.
                if o.message.starts_with("WARNING") || o.message.starts_with("ERROR") {
                    tracing::warn!(component = %o.component, state = %o.state, "{}", o.message);
                } else {
                    tracing::info!(component = %o.component, state = %o.state, "{}", o.message);
                }
                self.health.lock().expect("health lock").insert(o.component.clone(), o.clone());
            }
            Event::Security(s) => tracing::warn!(kind = %s.kind, client = %s.client, "security: {}", s.detail),
            Event::JobProgress(p) => {
                tracing::debug!(job = %p.job_id, phase = %p.phase, done = p.done, total = p.total, "progress")
            }
            Event::DeploymentLog(_) => {}
        }
        // No subscriber is fine: the event is still logged.
        let _ = self.tx.send(event);
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// The latest health event of each component.
    pub fn health(&self) -> Vec<Observability> {
        self.health.lock().expect("health lock").values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_get_events_and_late_ones_get_the_state() {
        let bus = EventBus::new();
        let mut rx = bus.subscribe();
        bus.publish(Event::observability("zookeeper", "SUSPENDED", ConnectionState::Suspended.message("ZooKeeper")));
        let got = rx.recv().await.unwrap();
        assert_eq!(got.name(), "observability");
        assert_eq!(got.payload()["message"], "WARNING: SUSPENDED (ZooKeeper connection lost, session may survive)");
        bus.publish(Event::observability(
            "zookeeper",
            "RECONNECTED",
            ConnectionState::Reconnected.message("ZooKeeper"),
        ));
        let health = bus.health();
        assert_eq!(health.len(), 1);
        assert_eq!(health[0].message, "ZooKeeper Connection: OK");
    }
}
