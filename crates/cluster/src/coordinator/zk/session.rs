//! One ZooKeeper session's life in Apache Curator's terms: the client's
//! session states in, the [`ConnectionState`]s histo reports out.
//!
//! The rule: a dropped connection is `SUSPENDED` (the session may live, a
//! master goes on with the workers it knew); down for a whole session
//! timeout it counts as `LOST`, as Curator does, and leadership goes; back
//! in time it is `RECONNECTED`; an expired or closed session ends, and the
//! coordinator starts a new one. [`follow`] applies the rule to any stream
//! of states on tokio's clock, so tests drive it with a paused clock and no
//! server.

use std::time::Duration;

use futures::{Stream, StreamExt};
use zookeeper_client::SessionState;

use crate::events::ConnectionState;

/// What one step of a session means to the coordinator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Change {
    /// Report this state.
    Report(ConnectionState),
    /// Down for the session timeout: report `LOST` and give up leadership;
    /// the session may still come back or expire.
    Lost,
}

/// Follows a session until it ends (expired, closed, or `states` ends),
/// telling `on_change` each change. `closing` says whether this process is
/// leaving, when a closed session is no loss.
pub(super) async fn follow(
    session_timeout: Duration,
    states: impl Stream<Item = SessionState>,
    closing: impl Fn() -> bool,
    mut on_change: impl FnMut(Change),
) {
    let mut states = std::pin::pin!(states);
    let mut lost_at: Option<tokio::time::Instant> = None;
    let mut lost = false;
    loop {
        let timer = async {
            match lost_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let state = tokio::select! {
            s = states.next() => s,
            () = timer => {
                lost_at = None;
                lost = true;
                on_change(Change::Lost);
                continue;
            }
        };
        match state {
            None => return,
            Some(SessionState::Disconnected) => {
                on_change(Change::Report(ConnectionState::Suspended));
                lost_at = Some(tokio::time::Instant::now() + session_timeout);
            }
            Some(SessionState::SyncConnected) => {
                lost_at = None;
                on_change(Change::Report(ConnectionState::Reconnected));
            }
            Some(SessionState::ConnectedReadOnly) => on_change(Change::Report(ConnectionState::ReadOnly)),
            Some(SessionState::Expired) => {
                if !lost {
                    on_change(Change::Lost);
                }
                return;
            }
            Some(SessionState::Closed | SessionState::AuthFailed) => {
                if !closing() {
                    on_change(Change::Lost);
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::sync::mpsc;

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(6);

    /// A session whose states the test sends, followed in the background;
    /// the changes it reported so far, and when (since the start).
    struct Session {
        states: mpsc::UnboundedSender<SessionState>,
        changes: Arc<Mutex<Vec<(Duration, Change)>>>,
        follower: tokio::task::JoinHandle<()>,
    }

    impl Session {
        fn start(closing: bool) -> Session {
            let (states, rx) = mpsc::unbounded_channel();
            let changes = Arc::new(Mutex::new(Vec::new()));
            let seen = changes.clone();
            let start = tokio::time::Instant::now();
            let follower = tokio::spawn(async move {
                follow(
                    TIMEOUT,
                    futures::stream::unfold(rx, |mut rx| async { rx.recv().await.map(|s| (s, rx)) }),
                    || closing,
                    |c| seen.lock().unwrap().push((start.elapsed(), c)),
                )
                .await
            });
            Session { states, changes, follower }
        }

        async fn send(&self, state: SessionState) {
            self.states.send(state).unwrap();
            tokio::task::yield_now().await;
        }

        fn changes(&self) -> Vec<Change> {
            self.changes.lock().unwrap().iter().map(|(_, c)| *c).collect()
        }
    }

    use ConnectionState::{ReadOnly, Reconnected, Suspended};
    use SessionState::{Closed, ConnectedReadOnly, Disconnected, Expired, SyncConnected};

    #[tokio::test(start_paused = true)]
    async fn a_short_outage_is_suspended_then_reconnected_and_never_lost() {
        let s = Session::start(false);
        s.send(Disconnected).await;
        tokio::time::sleep(TIMEOUT - Duration::from_millis(1)).await;
        s.send(SyncConnected).await;
        tokio::time::sleep(TIMEOUT * 3).await;
        assert_eq!(s.changes(), [Change::Report(Suspended), Change::Report(Reconnected)]);
    }

    #[tokio::test(start_paused = true)]
    async fn down_for_the_session_timeout_is_lost_at_that_moment() {
        let s = Session::start(false);
        tokio::time::sleep(Duration::from_secs(1)).await;
        s.send(Disconnected).await;
        tokio::time::sleep(TIMEOUT * 2).await;
        let changes = s.changes.lock().unwrap().clone();
        let lost_at = Duration::from_secs(1) + TIMEOUT;
        assert_eq!(changes, [(Duration::from_secs(1), Change::Report(Suspended)), (lost_at, Change::Lost)]);
        // The server then says the session expired: no second LOST, and the
        // follower ends so that a new session can start.
        drop(changes);
        s.send(Expired).await;
        assert_eq!(s.changes().iter().filter(|c| **c == Change::Lost).count(), 1);
        assert!(s.follower.is_finished());
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_session_is_lost_and_ends_the_follower() {
        let s = Session::start(false);
        s.send(ConnectedReadOnly).await;
        s.send(Expired).await;
        assert_eq!(s.changes(), [Change::Report(ReadOnly), Change::Lost]);
        assert!(s.follower.is_finished());
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_closed_by_this_process_is_no_loss() {
        let leaving = Session::start(true);
        leaving.send(Closed).await;
        assert_eq!(leaving.changes(), []);
        assert!(leaving.follower.is_finished());

        let dropped = Session::start(false);
        dropped.send(Closed).await;
        assert_eq!(dropped.changes(), [Change::Lost]);
    }
}
