//! The Socket.IO (v4) event stream at `/socket.io/`.
//!
//! Each client first gets the deployment replay ([`crate::replay`]), paced,
//! then the current state of every component (`observability`), then every
//! event published on the cluster's bus, live. `deployment_log` and
//! `observability` go to everyone; `job_progress` and `security` (client
//! addresses, job details) only to clients that presented the token, in the
//! handshake (`auth: {token}`) or later with an `authenticate` event (its
//! ack says `{ok}`). A wrong token counts as a failed login, like on HTTP.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use histo_cluster::Event;
use histo_cluster::events::now;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use socketioxide::extract::{AckSender, Data, SocketRef, TryData};
use socketioxide::socket::DisconnectReason;
use socketioxide::{SendError, SocketError, SocketIo, layer::SocketIoLayer};
use tokio::sync::{Notify, broadcast};

use crate::auth::{self, Verdict, client_ip};
use crate::{AppState, replay, wording};

/// Largest message a client may send (it only ever sends a token).
const MAX_CLIENT_PAYLOAD: u64 = 4096;

/// What a client sends to authenticate.
#[derive(Debug, Default, Deserialize)]
struct Credentials {
    token: Option<String>,
}

/// Builds the Socket.IO layer and its handle.
pub fn layer(state: AppState) -> (SocketIoLayer, SocketIo) {
    let (layer, io) = SocketIo::builder()
        .max_payload(MAX_CLIENT_PAYLOAD)
        .connect_timeout(std::time::Duration::from_secs(10))
        .build_layer();
    io.ns("/", move |socket: SocketRef, TryData(auth): TryData<Credentials>| {
        let state = state.clone();
        async move { on_connect(state, socket, auth.ok().and_then(|c| c.token)) }
    });
    (layer, io)
}

/// A line of the deployment replay, as sent.
#[derive(Serialize)]
struct DeploymentLog {
    seq: u32,
    phase: &'static str,
    message: &'static str,
    source: &'static str,
    ts: String,
}

/// Whether a client may see an event (the replay it always sees).
fn visible(event: &Event, authenticated: bool) -> bool {
    authenticated || matches!(event, Event::Observability(_))
}

/// Checks a token a socket presented; true if it is right.
fn authenticate(state: &AppState, socket: &SocketRef, token: Option<&str>) -> bool {
    let ip = client_ip(&socket.req_parts().extensions);
    matches!(auth::check(state, ip, token, "Socket.IO"), Verdict::Allowed)
}

fn on_connect(state: AppState, socket: SocketRef, token: Option<String>) {
    let authenticated = Arc::new(AtomicBool::new(false));
    if token.is_some() && authenticate(&state, &socket, token.as_deref()) {
        authenticated.store(true, Ordering::SeqCst);
    }
    {
        let state = state.clone();
        let authenticated = authenticated.clone();
        socket.on("authenticate", move |socket: SocketRef, Data(creds): Data<Credentials>, ack: AckSender| {
            // Once authenticated, a socket stays so: a later wrong token is
            // counted as a failure but does not hide the events it triggers.
            let ok = authenticate(&state, &socket, Some(creds.token.as_deref().unwrap_or("")));
            if ok {
                authenticated.store(true, Ordering::SeqCst);
            }
            let _ = ack.send(&json!({ "ok": ok }));
            async {}
        });
    }
    let gone = Arc::new(Notify::new());
    {
        let gone = gone.clone();
        let metrics = state.clone();
        socket.on_disconnect(move |_: DisconnectReason| {
            metrics.metrics.socket_clients.dec();
            gone.notify_one();
            async {}
        });
    }
    state.metrics.socket_clients.inc();
    // Subscribe now, so nothing published during the replay is missed.
    let events = state.cluster.events().subscribe();
    tokio::spawn(stream(state, socket, authenticated, events, gone));
}

/// Sends `value` as `event`; false once the socket is gone.
fn send(socket: &SocketRef, event: &str, value: &Value) -> bool {
    match socket.emit(event, value) {
        Ok(()) => true,
        Err(SendError::Socket(SocketError::Closed)) => false,
        Err(e) => {
            // A full buffer (a client that does not read) loses events
            // rather than stalling everyone.
            tracing::debug!(sid = %socket.id, "dropped {event}: {e}");
            true
        }
    }
}

async fn stream(
    state: AppState,
    socket: SocketRef,
    authenticated: Arc<AtomicBool>,
    mut events: broadcast::Receiver<Event>,
    gone: Arc<Notify>,
) {
    let interval = replay::interval();
    for (seq, line) in replay::LINES.iter().enumerate() {
        let log =
            DeploymentLog { seq: seq as u32, phase: line.phase, message: line.message, source: line.source, ts: now() };
        let value = serde_json::to_value(&log).expect("plain data");
        if !send(&socket, "deployment_log", &value) {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = gone.notified() => return,
        }
    }
    for health in state.cluster.events().health() {
        if !send(&socket, "observability", &wording::observability(&health)) {
            return;
        }
    }
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = gone.notified() => return,
        };
        match event {
            Ok(event) => {
                if visible(&event, authenticated.load(Ordering::SeqCst)) {
                    let (name, payload) = wording::event(&event);
                    if !send(&socket, name, &payload) {
                        return;
                    }
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::debug!(sid = %socket.id, missed = n, "dashboard client fell behind");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
