//! eventsync's series on `/metrics` (of the `eventsync` worker, and of the API for webhooks).

use std::sync::OnceLock;

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric},
    metrics::{counter::Counter, family::Family, gauge::Gauge, MetricType},
};

use crate::apply::Outcome;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub event_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SkipLabels {
    pub event_type: String,
    /// `stale`, `skipped` (unknown type or unresolved reference) or `duplicate`.
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    /// `accepted` or `rejected`.
    pub result: String,
}

pub struct Metrics {
    pub applied: Family<EventLabels, Counter>,
    pub skipped: Family<SkipLabels, Counter>,
    pub errors: Family<ErrorLabels, Counter>,
    pub webhooks: Family<WebhookLabels, Counter>,
    /// Unix time of the last applied event (0: none yet).
    pub last_event_unix: Gauge,
    /// Unix time of the last successful poll of the stream.
    pub last_poll_unix: Gauge,
}

pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let m = Metrics {
            applied: Family::default(),
            skipped: Family::default(),
            errors: Family::default(),
            webhooks: Family::default(),
            last_event_unix: Gauge::default(),
            last_poll_unix: Gauge::default(),
        };
        use qubital_plugin::metrics::register;
        register(
            "eventsync_events_applied",
            "WorkOS events applied to the mirror, by type",
            m.applied.clone(),
        );
        register(
            "eventsync_events_skipped",
            "WorkOS events not applied, by type and reason",
            m.skipped.clone(),
        );
        register(
            "eventsync_errors",
            "Errors while following the WorkOS stream",
            m.errors.clone(),
        );
        register(
            "eventsync_webhooks",
            "WorkOS webhook deliveries, accepted or rejected",
            m.webhooks.clone(),
        );
        register(
            "eventsync_last_event_timestamp_seconds",
            "Time of the last applied event",
            m.last_event_unix.clone(),
        );
        register(
            "eventsync_last_poll_timestamp_seconds",
            "Time of the last successful stream poll",
            m.last_poll_unix.clone(),
        );
        qubital_plugin::metrics::register_collector(Box::new(Lag));
        m
    })
}

/// Counts an error of `kind` (`workos`, `rate-limited`) while following the stream.
pub fn count_error(kind: &str) {
    metrics()
        .errors
        .get_or_create(&ErrorLabels {
            kind: kind.to_owned(),
        })
        .inc();
}

/// Counts a webhook delivery, `accepted` or `rejected`.
pub fn count_webhook(result: &str) {
    metrics()
        .webhooks
        .get_or_create(&WebhookLabels {
            result: result.to_owned(),
        })
        .inc();
}

/// Counts one processed event.
pub fn record(event_type: &str, outcome: Option<Outcome>) {
    let m = metrics();
    match outcome {
        Some(Outcome::Applied) => m
            .applied
            .get_or_create(&EventLabels {
                event_type: event_type.to_owned(),
            })
            .inc(),
        other => {
            let reason = other.map(Outcome::as_str).unwrap_or("duplicate").to_owned();
            m.skipped
                .get_or_create(&SkipLabels {
                    event_type: event_type.to_owned(),
                    reason,
                })
                .inc()
        }
    };
}

/// `eventsync_lag_seconds`: now minus the time of the last applied event, computed at scrape.
#[derive(Debug)]
struct Lag;

impl Collector for Lag {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let last = metrics().last_event_unix.get();
        if last == 0 {
            return Ok(());
        }
        let lag = (chrono::Utc::now().timestamp() - last).max(0) as f64;
        let gauge = prometheus_client::metrics::gauge::ConstGauge::new(lag);
        let metric = encoder.encode_descriptor(
            "eventsync_lag_seconds",
            "Now minus the time of the last applied WorkOS event",
            None,
            MetricType::Gauge,
        )?;
        gauge.encode(metric)
    }
}
