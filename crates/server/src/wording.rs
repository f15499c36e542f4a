//! How the dashboard words the cluster's typed events: the JSON payloads of
//! the `observability`, `job_progress` and `security` events of
//! docs/DESIGN.md. The words live here, beside the page that shows them;
//! the cluster publishes only data.

use histo_cluster::events::{ConnectionState, CoordinatorKind, Health, Observability};
use histo_cluster::{Event, EventBus};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

/// A new event bus whose events are logged, in the dashboard's words, so
/// that an operator's log says what the dashboard shows: health at info
/// (trouble at warn), security at warn, progress at debug. Call it from
/// within the runtime, before the bus is handed out.
pub fn logged_bus() -> EventBus {
    let bus = EventBus::new();
    let mut events = bus.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => log(&event),
                Err(RecvError::Lagged(n)) => tracing::debug!(missed = n, "the event log fell behind"),
                Err(RecvError::Closed) => return,
            }
        }
    });
    bus
}

fn log(event: &Event) {
    match event {
        Event::Observability(o) => {
            let (component, state, message) = (o.health.component(), o.health.state(), message(&o.health));
            if o.health.is_trouble() {
                tracing::warn!(component, state, "{message}");
            } else {
                tracing::info!(component, state, "{message}");
            }
        }
        Event::Security(s) => tracing::warn!(kind = %s.kind, client = %s.client, "security: {}", s.detail),
        Event::JobProgress(p) => {
            tracing::debug!(job = %p.job_id, phase = %p.phase, done = p.done, total = p.total, "progress")
        }
    }
}

/// The Socket.IO event name and payload of a bus event.
pub fn event(event: &Event) -> (&'static str, Value) {
    match event {
        Event::Observability(o) => ("observability", observability(o)),
        Event::JobProgress(p) => ("job_progress", serde_json::to_value(p).expect("plain data")),
        Event::Security(s) => ("security", serde_json::to_value(s).expect("plain data")),
    }
}

/// `{component, state, message, ts}`; the message starts with `WARNING` or
/// `ERROR` for the dashboard's amber and red.
pub fn observability(o: &Observability) -> Value {
    json!({
        "component": o.health.component(),
        "state": o.health.state(),
        "message": message(&o.health),
        "ts": o.ts,
    })
}

fn message(health: &Health) -> String {
    match health {
        Health::Leader { id } => format!("Leader election: OK ({id} leads)"),
        Health::Connection { coordinator, state } => {
            let what = match coordinator {
                CoordinatorKind::ZooKeeper => "ZooKeeper",
                CoordinatorKind::Embedded => "Embedded coordinator",
            };
            match state {
                ConnectionState::Connected | ConnectionState::Reconnected => format!("{what} Connection: OK"),
                ConnectionState::Suspended => {
                    format!("WARNING: SUSPENDED ({what} connection lost, session may survive)")
                }
                ConnectionState::Lost => format!("ERROR: LOST ({what} session expired)"),
                ConnectionState::ReadOnly => format!("WARNING: READ_ONLY ({what} server has no quorum)"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use histo_cluster::events::SecurityKind;

    use super::*;

    fn words(event: Event) -> (&'static str, Value) {
        super::event(&event)
    }

    #[test]
    fn connection_states_read_as_the_seed_dashboard_wrote_them() {
        let zk = |state| words(Event::connection(CoordinatorKind::ZooKeeper, state)).1;
        assert_eq!(zk(ConnectionState::Connected)["message"], "ZooKeeper Connection: OK");
        assert_eq!(zk(ConnectionState::Suspended)["state"], "SUSPENDED");
        assert!(zk(ConnectionState::Suspended)["message"].as_str().unwrap().starts_with("WARNING: SUSPENDED"));
        assert!(zk(ConnectionState::Lost)["message"].as_str().unwrap().starts_with("ERROR: LOST"));
        let (name, embedded) = words(Event::connection(CoordinatorKind::Embedded, ConnectionState::Connected));
        assert_eq!(name, "observability");
        assert_eq!(embedded["component"], "coordinator");
        assert_eq!(embedded["message"], "Embedded coordinator Connection: OK");
        let leader = words(Event::health(Health::Leader { id: "master-1".into() })).1;
        assert_eq!((leader["component"].as_str(), leader["state"].as_str()), (Some("leader"), Some("LEADER")));
    }

    #[test]
    fn security_kinds_are_the_contract_words() {
        let (name, value) = words(Event::security(SecurityKind::RateLimited, "10.0.0.9", "blocked"));
        assert_eq!(name, "security");
        assert_eq!(value["kind"], "rate_limited");
        assert_eq!(value["client"], "10.0.0.9");
    }
}
