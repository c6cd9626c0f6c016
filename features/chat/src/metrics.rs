//! The outbox relay on `/metrics`: `qubital_chat_outbox_backlog` (publications waiting),
//! `qubital_chat_outbox_lag_seconds` (age of the oldest one), `qubital_chat_outbox_published_total`
//! and `qubital_chat_outbox_failures_total`. The gauges are measured by the relay after each
//! pass, so they are live on the replica that leads the relay (and zero elsewhere).

use std::sync::{atomic::AtomicU64, OnceLock};

use prometheus_client::metrics::{counter::Counter, gauge::Gauge};

struct Metrics {
    backlog: Gauge,
    lag_seconds: Gauge<f64, AtomicU64>,
    published: Counter,
    failures: Counter,
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| Metrics {
        backlog: Gauge::default(),
        lag_seconds: Gauge::default(),
        published: Counter::default(),
        failures: Counter::default(),
    })
}

/// Adds the series to the registry (once per process).
pub(crate) fn register() {
    static REGISTERED: OnceLock<()> = OnceLock::new();
    REGISTERED.get_or_init(|| {
        let m = metrics();
        qubital_plugin::metrics::register(
            "chat_outbox_backlog",
            "Outbox publications not yet delivered to Centrifugo",
            m.backlog.clone(),
        );
        qubital_plugin::metrics::register(
            "chat_outbox_lag_seconds",
            "Age of the oldest undelivered outbox publication, seconds (0 when none waits)",
            m.lag_seconds.clone(),
        );
        qubital_plugin::metrics::register(
            "chat_outbox_published",
            "Outbox publications delivered to Centrifugo",
            m.published.clone(),
        );
        qubital_plugin::metrics::register(
            "chat_outbox_failures",
            "Failed attempts to deliver an outbox publication (retried with backoff)",
            m.failures.clone(),
        );
    });
}

pub(crate) fn set_backlog(pending: i64, lag_seconds: f64) {
    metrics().backlog.set(pending);
    metrics().lag_seconds.set(lag_seconds);
}

pub(crate) fn published(count: u64) {
    metrics().published.inc_by(count);
}

pub(crate) fn failed() {
    metrics().failures.inc();
}

/// The last measured backlog (for tests).
pub fn backlog() -> i64 {
    metrics().backlog.get()
}

/// The last measured lag in seconds (for tests).
pub fn lag_seconds() -> f64 {
    metrics().lag_seconds.get()
}
