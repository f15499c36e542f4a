//! Prometheus metrics, served as text at `GET /metrics`.
//!
//! Counters and histograms are updated as requests are handled; gauges that
//! describe the cluster (workers, jobs running and waiting, coordinator
//! state, dashboard clients) are read from the [`Cluster`] at scrape time,
//! so they can never drift. Each server has its own registry (several can
//! run in one process, as the tests do). No label ever carries a credential
//! or client input: outcomes, phases and states are fixed words.

use std::sync::atomic::AtomicU64;

use histo_cluster::{Cluster, JobRecord};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label of `histo_jobs_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `ok`, or the error code of the response (e.g. `overloaded`).
    pub outcome: String,
}

/// Label of `histo_job_phase_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabel {
    /// `decode`, `map`, `reduce`, `apply`, `encode` or `total`.
    pub phase: String,
}

/// Labels of `histo_coordinator_state`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CoordinatorLabel {
    /// `embedded` or `zookeeper`.
    pub coordinator: String,
    /// `CONNECTED`, `SUSPENDED`, ...
    pub state: String,
}

/// Every metric of one server.
pub struct Metrics {
    registry: Registry,
    /// Jobs by outcome.
    pub jobs: Family<OutcomeLabel, Counter>,
    /// Time spent in each phase of successful jobs.
    pub phase_seconds: Family<PhaseLabel, Histogram>,
    /// Image bytes received.
    pub bytes_in: Counter,
    /// Image bytes returned.
    pub bytes_out: Counter,
    /// Requests refused for a missing or wrong token.
    pub auth_failures: Counter,
    /// Requests refused because the client was blocked.
    pub rate_limited: Counter,
    /// Connected dashboard (Socket.IO) clients.
    pub socket_clients: Gauge,
    workers: Gauge,
    workers_busy: Gauge,
    jobs_running: Gauge,
    jobs_waiting: Gauge,
    coordinator: Family<CoordinatorLabel, Gauge<f64, AtomicU64>>,
}

fn phase_histogram() -> Histogram {
    // 1 ms to ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let m = Metrics {
            jobs: Family::default(),
            phase_seconds: Family::new_with_constructor(phase_histogram as fn() -> Histogram),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            auth_failures: Counter::default(),
            rate_limited: Counter::default(),
            socket_clients: Gauge::default(),
            workers: Gauge::default(),
            workers_busy: Gauge::default(),
            jobs_running: Gauge::default(),
            jobs_waiting: Gauge::default(),
            coordinator: Family::default(),
            registry: Registry::default(),
        };
        registry.register("histo_jobs", "Jobs finished, by outcome", m.jobs.clone());
        registry.register("histo_job_phase_seconds", "Time spent per job phase", m.phase_seconds.clone());
        registry.register("histo_upload_bytes", "Image bytes received", m.bytes_in.clone());
        registry.register("histo_output_bytes", "Image bytes returned", m.bytes_out.clone());
        registry.register("histo_auth_failures", "Requests with a missing or wrong token", m.auth_failures.clone());
        registry.register(
            "histo_rate_limited_requests",
            "Requests refused from blocked clients",
            m.rate_limited.clone(),
        );
        registry.register("histo_socketio_clients", "Connected dashboard clients", m.socket_clients.clone());
        registry.register("histo_workers", "Workers known to this master", m.workers.clone());
        registry.register("histo_workers_busy", "Workers running a task", m.workers_busy.clone());
        registry.register("histo_jobs_running", "Jobs running on this master", m.jobs_running.clone());
        registry.register("histo_jobs_waiting", "Jobs waiting for a slot on this master", m.jobs_waiting.clone());
        registry.register(
            "histo_coordinator_state",
            "1 for the current coordinator connection state",
            m.coordinator.clone(),
        );
        // Make every outcome visible from the start, so rates work at once.
        for outcome in ["ok", "payload_too_large", "unsupported_media_type", "image_too_large", "undecodable_image"] {
            let _ = m.jobs.get_or_create(&OutcomeLabel { outcome: outcome.into() });
        }
        Metrics { registry, ..m }
    }

    /// Counts a finished job.
    pub fn job_finished(&self, outcome: &str) {
        self.jobs.get_or_create(&OutcomeLabel { outcome: outcome.to_owned() }).inc();
    }

    /// Records the phase timings of a successful job.
    pub fn observe_timings(&self, record: &JobRecord) {
        let t = &record.timings;
        for (phase, ms) in [
            ("decode", t.decode_ms),
            ("map", t.map_ms),
            ("reduce", t.reduce_ms),
            ("apply", t.apply_ms),
            ("encode", t.encode_ms),
            ("total", t.total_ms),
        ] {
            self.phase_seconds.get_or_create(&PhaseLabel { phase: phase.into() }).observe(ms / 1000.0);
        }
    }

    /// The metrics in Prometheus text format, gauges read from `cluster` now.
    pub fn render(&self, cluster: &Cluster) -> String {
        let snapshot = cluster.snapshot();
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.workers.set(count(snapshot.workers.len()));
        self.workers_busy.set(count(snapshot.workers.iter().filter(|w| w.busy > 0).count()));
        self.jobs_running.set(count(snapshot.jobs_running));
        self.jobs_waiting.set(count(snapshot.jobs_waiting));
        self.coordinator.clear();
        self.coordinator
            .get_or_create(&CoordinatorLabel { coordinator: snapshot.coordinator, state: snapshot.state })
            .set(1.0);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}
