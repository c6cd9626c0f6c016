//! Recordings: room-composite recordings of a space's zone through LiveKit Egress, written to
//! object storage, under a monthly per-organization quota; and the conference's usage (the
//! LiveKit webhook it receives also feeds the spaces feature's occupancy). Decisions are
//! written down in `docs/recordings.md`.
//!
//! It reaches other features only through their crates: spaces through
//! `qubital_spaces::{find_in_organization, occupancy}`, organizations and users through
//! `qubital_auth::directory`, and the LiveKit client the realtime feature provides in the app
//! context (`LIVEKIT_*` are registered once, there).
//!
//! # API boundary
//!
//! No other feature calls this one. Public for tests and operators: [`settings`] (the boot
//! rules, [`settings::state`]), [`jobs`] (one reconcile pass or usage measurement on demand)
//! and [`metrics`] (the usage series).

mod api;
mod conference;
mod egress;
pub mod jobs;
pub mod metrics;
pub mod permissions;
mod probes;
pub mod problems;
pub mod settings;
mod store;
mod webhook;

use qubital_plugin::{Api, Feature, Settings, Table};

static MIGRATIONS: qubital_plugin::Migrator = qubital_plugin::sqlx::migrate!("../../migrations/recordings");

qubital_plugin::inventory::submit! {
    Feature::new("recordings")
        .apis(&[
            Api::of::<api::RecordingsApi>(),
            Api::of::<api::RecordingPresenceApi>(),
            Api::of::<api::RecordingDownloadsApi>(),
            Api::of::<webhook::LiveKitWebhookApi>(),
            Api::of::<api::ReconcileApi>(),
        ])
        .migrations(&MIGRATIONS)
        .tables(&[
            Table::kept("recordings", "the organization's archive, deleted with it"),
            Table::kept("recording_participants", "deleted with their recording"),
            Table::pruned(
                "recording_start_leases",
                "lease_until < now() - interval '1 day'",
                "a lease is deleted by the start that took it; one left by a crash is dead once expired",
            ),
            Table::pruned(
                "livekit_webhook_events",
                "received_at < now() - interval '7 days'",
                "LiveKit redelivers within minutes, so an older event id will not come back",
            ),
            Table::pruned(
                "conference_activity_days",
                "day < (now() AT TIME ZONE 'UTC')::date - 35",
                "the longest active-users window is 30 days",
            ),
        ])
        .settings(&[Settings::of::<settings::RecordingsSettings>()])
        .jobs(&[jobs::RECONCILE, jobs::USAGE])
        .probes(&[probes::STORAGE])
        .init(settings::init)
}
