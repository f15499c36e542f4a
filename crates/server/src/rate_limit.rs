//! Brute-force protection: failed authentication attempts are counted per
//! client, and a client with too many in a window is refused (429) for the
//! rest of it, whatever it sends.
//!
//! A client is an IPv4 address, or an IPv6 /64 (one host usually owns the
//! whole prefix, so counting single v6 addresses would be trivially evaded).
//! The table is bounded: expired entries are swept as it grows.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many failures are tolerated, and for how long they are remembered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Failures allowed in one window; the next request is refused.
    pub max_failures: u32,
    /// The window, counted from a client's first failure.
    pub window: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { max_failures: 10, window: Duration::from_secs(60) }
    }
}

/// What [`FailureLimiter::record_failure`] concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Failures of this client in the current window, this one included.
    pub count: u32,
    /// Whether this failure made the client blocked.
    pub now_blocked: bool,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    since: Instant,
    failures: u32,
}

/// Entries kept before expired ones are swept.
const SWEEP_AT: usize = 4096;
/// Entries kept at most; past it the table is reset (an attacker with this
/// many addresses gets a fresh budget, memory stays bounded).
const MAX_CLIENTS: usize = 65536;

/// Counts failed authentications per client.
#[derive(Debug)]
pub struct FailureLimiter {
    policy: Policy,
    clients: Mutex<HashMap<IpAddr, Entry>>,
}

/// The key a client is counted under.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl FailureLimiter {
    /// A limiter with `policy`.
    pub fn new(policy: Policy) -> Self {
        FailureLimiter { policy, clients: Mutex::default() }
    }

    /// The policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// If `ip` is blocked, how long until it is not.
    pub fn blocked(&self, ip: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let clients = self.clients.lock().expect("rate-limit lock");
        let entry = clients.get(&client_key(ip))?;
        let elapsed = now.duration_since(entry.since);
        (entry.failures >= self.policy.max_failures && elapsed < self.policy.window)
            .then(|| self.policy.window - elapsed)
    }

    /// Counts one failed attempt of `ip`.
    pub fn record_failure(&self, ip: IpAddr) -> Failure {
        let now = Instant::now();
        let window = self.policy.window;
        let mut clients = self.clients.lock().expect("rate-limit lock");
        if clients.len() >= SWEEP_AT {
            clients.retain(|_, e| now.duration_since(e.since) < window);
            if clients.len() >= MAX_CLIENTS {
                tracing::warn!(clients = clients.len(), "auth failure table full; resetting it");
                clients.clear();
            }
        }
        let entry = clients.entry(client_key(ip)).or_insert(Entry { since: now, failures: 0 });
        if now.duration_since(entry.since) >= window {
            *entry = Entry { since: now, failures: 0 };
        }
        entry.failures = entry.failures.saturating_add(1);
        Failure { count: entry.failures, now_blocked: entry.failures == self.policy.max_failures }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_after_max_failures_then_forgets() {
        let limiter = FailureLimiter::new(Policy { max_failures: 3, window: Duration::from_millis(200) });
        let a = ip("10.0.0.1");
        assert!(!limiter.record_failure(a).now_blocked);
        assert!(!limiter.record_failure(a).now_blocked);
        assert!(limiter.blocked(a).is_none());
        assert!(limiter.record_failure(a).now_blocked);
        assert!(limiter.blocked(a).is_some());
        assert!(limiter.blocked(ip("10.0.0.2")).is_none(), "other clients are not affected");
        std::thread::sleep(Duration::from_millis(250));
        assert!(limiter.blocked(a).is_none());
        assert_eq!(limiter.record_failure(a).count, 1, "a new window starts");
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let limiter = FailureLimiter::new(Policy { max_failures: 2, window: Duration::from_secs(60) });
        limiter.record_failure(ip("2001:db8:1:2::1"));
        limiter.record_failure(ip("2001:db8:1:2::ffff"));
        assert!(limiter.blocked(ip("2001:db8:1:2:3::9")).is_some());
        assert!(limiter.blocked(ip("2001:db8:1:3::1")).is_none());
        assert_eq!(client_key(ip("::ffff:10.1.2.3")), ip("10.1.2.3"));
    }
}
