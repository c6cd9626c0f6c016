//! Conference usage on `/metrics`. Every series carries `org_id`: the organization's public id
//! (the `organizationId` of the API), which never changes when the organization is renamed.
//! Deliveries that cannot be attributed (unsigned, or about a room no space owns) carry
//! `org_id="unknown"`.
//!
//! Counters move only when an event is processed the first time (after its transaction
//! commits), so a redelivered webhook is not counted twice. The gauges are recomputed from the
//! database by the `recordings.usage` job, the same on every replica.

use std::{
    collections::HashSet,
    sync::{Mutex, OnceLock},
};

use platform_livekit::TrackSource;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
};
use qubital_auth::directory::Organization;

/// `org_id` of series that cannot be attributed to an organization.
pub const UNKNOWN_ORG: &str = "unknown";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OrgLabels {
    pub org_id: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PublicationLabels {
    pub org_id: String,
    /// `camera`, `microphone`, `screen_share`, `screen_share_audio` or `unknown`.
    pub source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    pub org_id: String,
    /// LiveKit's event name.
    pub event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectionLabels {
    pub org_id: String,
    /// `signature` or `malformed`.
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActiveUserLabels {
    pub org_id: String,
    /// `7d` (weekly) or `30d` (monthly).
    pub window: String,
}

struct Metrics {
    joins: Family<OrgLabels, Counter>,
    leaves: Family<OrgLabels, Counter>,
    participant_seconds: Family<OrgLabels, Counter<f64>>,
    publications: Family<PublicationLabels, Counter>,
    recordings_started: Family<OrgLabels, Counter>,
    recordings_failed: Family<OrgLabels, Counter>,
    webhooks_received: Family<WebhookLabels, Counter>,
    webhooks_rejected: Family<RejectionLabels, Counter>,
    active_users: Family<ActiveUserLabels, Gauge>,
    participants_now: Family<OrgLabels, Gauge>,
    /// The gauge series set by the last refresh, so an organization that went quiet is removed.
    gauge_labels: Mutex<(HashSet<ActiveUserLabels>, HashSet<OrgLabels>)>,
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let m = Metrics {
            joins: Family::default(),
            leaves: Family::default(),
            participant_seconds: Family::default(),
            publications: Family::default(),
            recordings_started: Family::default(),
            recordings_failed: Family::default(),
            webhooks_received: Family::default(),
            webhooks_rejected: Family::default(),
            active_users: Family::default(),
            participants_now: Family::default(),
            gauge_labels: Mutex::default(),
        };
        use qubital_plugin::metrics::register;
        register(
            "conference_participant_joins",
            "People who joined a space's conference",
            m.joins.clone(),
        );
        register(
            "conference_participant_leaves",
            "People who left a space's conference",
            m.leaves.clone(),
        );
        register(
            "conference_participant_seconds",
            "Time people spent in conferences, counted when they leave (divide by 60 for participant-minutes)",
            m.participant_seconds.clone(),
        );
        register(
            "conference_track_publications",
            "Tracks published in conferences, by source",
            m.publications.clone(),
        );
        register("recordings_started", "Recordings started", m.recordings_started.clone());
        register(
            "recordings_failed",
            "Recordings that ended failed",
            m.recordings_failed.clone(),
        );
        register(
            "livekit_webhook_events_received",
            "Verified LiveKit webhook deliveries (redeliveries included), by event",
            m.webhooks_received.clone(),
        );
        register(
            "livekit_webhook_events_rejected",
            "LiveKit webhook deliveries refused, by reason",
            m.webhooks_rejected.clone(),
        );
        register(
            "conference_active_users",
            "Distinct users who joined a conference in the last 7 or 30 days (UTC days)",
            m.active_users.clone(),
        );
        register(
            "conference_participants",
            "People in the organization's conferences now",
            m.participants_now.clone(),
        );
        m
    })
}

/// The `org_id` label of organization `org_id` (internal id): its public id, from the identity
/// feature; [`UNKNOWN_ORG`] once it is gone.
pub(crate) async fn org_label(conn: &mut sqlx::PgConnection, org_id: i64) -> Result<String, sqlx::Error> {
    Ok(Organization::by_id(conn, org_id)
        .await?
        .map_or_else(|| UNKNOWN_ORG.to_owned(), |organization| organization.public_id))
}

fn org(org_id: &str) -> OrgLabels {
    OrgLabels {
        org_id: org_id.to_owned(),
    }
}

/// Registers the series, so `/metrics` shows them before the first event.
pub fn register() {
    metrics();
}

pub fn participant_joined(org_id: &str) {
    metrics().joins.get_or_create(&org(org_id)).inc();
}

pub fn participant_left(org_id: &str, seconds_in_conference: f64) {
    let m = metrics();
    m.leaves.get_or_create(&org(org_id)).inc();
    m.participant_seconds
        .get_or_create(&org(org_id))
        .inc_by(seconds_in_conference.max(0.0));
}

pub fn track_published(org_id: &str, source: Option<TrackSource>) {
    metrics()
        .publications
        .get_or_create(&PublicationLabels {
            org_id: org_id.to_owned(),
            source: source.map_or("unknown", TrackSource::as_str).to_owned(),
        })
        .inc();
}

pub fn recording_started(org_id: &str) {
    metrics().recordings_started.get_or_create(&org(org_id)).inc();
}

pub fn recording_failed(org_id: &str) {
    metrics().recordings_failed.get_or_create(&org(org_id)).inc();
}

pub fn webhook_received(org_id: &str, event: &str) {
    metrics()
        .webhooks_received
        .get_or_create(&WebhookLabels {
            org_id: org_id.to_owned(),
            event: event.to_owned(),
        })
        .inc();
}

pub fn webhook_rejected(reason: &str) {
    metrics()
        .webhooks_rejected
        .get_or_create(&RejectionLabels {
            org_id: UNKNOWN_ORG.to_owned(),
            reason: reason.to_owned(),
        })
        .inc();
}

/// One organization's gauges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrgUsage {
    pub org_id: String,
    pub weekly_active_users: i64,
    pub monthly_active_users: i64,
    pub participants_now: i64,
}

/// Replaces the gauges with `usage`; organizations absent from it lose their series.
pub fn set_usage(usage: &[OrgUsage]) {
    let m = metrics();
    let mut previous = m.gauge_labels.lock().expect("usage gauges poisoned");
    let mut active = HashSet::new();
    let mut now = HashSet::new();
    for org_usage in usage {
        for (window, value) in [
            ("7d", org_usage.weekly_active_users),
            ("30d", org_usage.monthly_active_users),
        ] {
            let labels = ActiveUserLabels {
                org_id: org_usage.org_id.clone(),
                window: window.to_owned(),
            };
            m.active_users.get_or_create(&labels).set(value);
            active.insert(labels);
        }
        let labels = org(&org_usage.org_id);
        m.participants_now
            .get_or_create(&labels)
            .set(org_usage.participants_now);
        now.insert(labels);
    }
    for gone in previous.0.difference(&active) {
        m.active_users.remove(gone);
    }
    for gone in previous.1.difference(&now) {
        m.participants_now.remove(gone);
    }
    *previous = (active, now);
}
