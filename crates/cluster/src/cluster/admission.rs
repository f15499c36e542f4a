//! Admission: a bounded number of jobs run at once, a bounded number wait
//! their turn, and the rest are refused as overloaded (a 503 with
//! Retry-After at the HTTP layer).

use std::sync::atomic::{AtomicUsize, Ordering};

use super::Cluster;
use crate::error::RunError;

/// Admission limits.
#[derive(Clone, Copy, Debug)]
pub struct Admission {
    /// Jobs run at once.
    pub max_running: usize,
    /// Jobs that may wait for a turn; more are refused.
    pub max_waiting: usize,
}

impl Default for Admission {
    fn default() -> Self {
        Admission { max_running: 4, max_waiting: 64 }
    }
}

impl Cluster {
    /// A turn to run: at once, after waiting, or refused when too many wait.
    pub(super) async fn admit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, RunError> {
        let inner = &self.inner;
        if let Ok(p) = inner.running.clone().try_acquire_owned() {
            return Ok(p);
        }
        let waiting = inner.waiting.fetch_add(1, Ordering::SeqCst);
        // Counted out on every path, including this future being dropped
        // while it waits (a client that gives up): otherwise each such
        // client would take a queue place for good.
        let _counted = Waiting(&inner.waiting);
        if waiting >= inner.admission.max_waiting {
            return Err(RunError::Overloaded { running: inner.admission.max_running, waiting });
        }
        Ok(inner.running.clone().acquire_owned().await.expect("semaphore is never closed"))
    }
}

/// One place in the admission queue, given back when dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::events::EventBus;

    #[tokio::test]
    async fn a_client_that_gives_up_while_queued_gives_its_place_back() {
        let cluster = Cluster::embedded(1, Admission { max_running: 1, max_waiting: 1 }, EventBus::new()).unwrap();
        let running = cluster.admit().await.unwrap();
        for _ in 0..3 {
            // Waits for the slot, then is dropped, as when its client disconnects.
            assert!(tokio::time::timeout(Duration::from_millis(20), cluster.admit()).await.is_err());
            assert_eq!(cluster.snapshot().jobs_waiting, 0);
        }
        // The one queue place is still there: a caller waits, it is not refused.
        assert!(tokio::time::timeout(Duration::from_millis(20), cluster.admit()).await.is_err());
        drop(running);
        assert!(cluster.admit().await.is_ok());
    }
}
