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
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which coordinator a connection state is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoordinatorKind {
    Embedded,
    ZooKeeper,
}

/// A component's health, as typed data; the server words it for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// The coordinator's connection changed state.
    Connection { coordinator: CoordinatorKind, state: ConnectionState },
    /// This master won the leader election.
    Leader { id: String },
}

impl Health {
    /// The `component` of the `observability` event: the key under which
    /// the bus keeps the latest health of each.
    pub fn component(&self) -> &'static str {
        match self {
            Health::Connection { coordinator: CoordinatorKind::ZooKeeper, .. } => "zookeeper",
            Health::Connection { coordinator: CoordinatorKind::Embedded, .. } => "coordinator",
            Health::Leader { .. } => "leader",
        }
    }

    /// The `state` of the `observability` event.
    pub fn state(&self) -> &'static str {
        match self {
            Health::Connection { state, .. } => state.name(),
            Health::Leader { .. } => "LEADER",
        }
    }

    /// Whether it is a problem (suspended, lost, read-only).
    pub fn is_trouble(&self) -> bool {
        matches!(self, Health::Connection { state, .. } if !state.is_usable())
    }
}

/// A component's health change, stamped.
#[derive(Clone, Debug, PartialEq)]
pub struct Observability {
    pub health: Health,
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
    /// The id the client gave its request (`X-Histo-Request-Id`), so that a
    /// page can follow its own job before it knows the job's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// When.
    pub ts: String,
}

/// What kind of security event happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityKind {
    /// A missing or wrong credential.
    AuthFailed,
    /// A client blocked after too many failures.
    RateLimited,
    /// An upload refused as bad input.
    RejectedInput,
}

impl fmt::Display for SecurityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecurityKind::AuthFailed => "auth_failed",
            SecurityKind::RateLimited => "rate_limited",
            SecurityKind::RejectedInput => "rejected_input",
        })
    }
}

/// Something a security engineer wants to see.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Security {
    pub kind: SecurityKind,
    /// The client (address), never a credential.
    pub client: String,
    /// What happened.
    pub detail: String,
    pub ts: String,
}

/// One event on the bus. The deployment replay is not one: the server
/// sends it to each client itself.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Observability(Observability),
    JobProgress(JobProgress),
    Security(Security),
}

impl Event {
    /// A health event stamped now.
    pub fn health(health: Health) -> Event {
        Event::Observability(Observability { health, ts: now() })
    }

    /// A coordinator's connection state, stamped now.
    pub fn connection(coordinator: CoordinatorKind, state: ConnectionState) -> Event {
        Event::health(Health::Connection { coordinator, state })
    }

    /// A security event stamped now.
    pub fn security(kind: SecurityKind, client: impl Into<String>, detail: impl Into<String>) -> Event {
        Event::Security(Security { kind, client: client.into(), detail: detail.into(), ts: now() })
    }
}

/// Events a slow subscriber may fall behind by before it misses some.
const BUS_CAPACITY: usize = 1024;

/// The process's event bus. Cloning shares it.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
    health: Arc<Mutex<BTreeMap<&'static str, Observability>>>,
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

    /// Publishes an event to every subscriber (the process's log is one,
    /// set up by the binary; dashboards are others).
    pub fn publish(&self, event: Event) {
        if let Event::Observability(o) = &event {
            self.health.lock().expect("health lock").insert(o.health.component(), o.clone());
        }
        // No subscriber is fine.
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
        bus.publish(Event::connection(CoordinatorKind::ZooKeeper, ConnectionState::Suspended));
        let Event::Observability(got) = rx.recv().await.unwrap() else { panic!("an observability event") };
        assert_eq!((got.health.component(), got.health.state()), ("zookeeper", "SUSPENDED"));
        assert!(got.health.is_trouble());
        bus.publish(Event::connection(CoordinatorKind::ZooKeeper, ConnectionState::Reconnected));
        bus.publish(Event::health(Health::Leader { id: "master-1".into() }));
        let health = bus.health();
        assert_eq!(health.len(), 2, "the latest of each component");
        assert!(health.iter().any(|o| o.health.state() == "RECONNECTED"));
    }
}
