//! eventsync: keeps organizations, users and memberships in Postgres in step with WorkOS.
//!
//! Two ways in, one way to apply ([`apply`]):
//! - the **stream** ([`follower`]), a singleton job of the `qubital eventsync` process
//!   ([`EVENTSYNC`]) that follows the WorkOS Events API with a cursor stored in the same
//!   transaction as each event's effects, after a first full backfill;
//! - **webhooks** (`webhook`) on the API, a fast path verified by signature and deduplicated
//!   by event id.
//!
//! The mirrored rows are the identity feature's tables, written only through its API
//! (`qubital_auth::store::mirror`, newer wins); eventsync's own tables (`store`) hold the
//! stream's position, the event inbox and the tombstones of deleted objects. `event_inbox` and
//! `workos_tombstones` are kept for 35 days (the host's housekeeping job applies the retention
//! rules declared below).
//!
//! Effects on the rest of the system: a deleted user or removed membership ends that user's
//! sessions (through the identity feature), a renamed organization has its new name everywhere.
//! Decisions are written down in `docs/eventsync.md`.
//!
//! **API boundary.** No other feature calls eventsync. What is public is for its own tests and
//! benchmark: [`EventsyncSettings`], [`follower::follow`] (one run of the stream, on a given pool
//! and client), [`apply::apply_event`] and the [`objects`] it reads.

pub mod apply;
pub mod follower;
mod jobs;
mod metrics;
pub mod objects;
mod settings;
mod store;
mod webhook;

use qubital_plugin::{Api, Feature, Settings, Table};

pub use jobs::EVENTSYNC;
pub use settings::EventsyncSettings;

static MIGRATIONS: qubital_plugin::Migrator = qubital_plugin::sqlx::migrate!("../../migrations/eventsync");

qubital_plugin::inventory::submit! {
    Feature::new("eventsync")
        .apis(&[Api::of::<webhook::WebhookApi>()])
        .migrations(&MIGRATIONS)
        .tables(&TABLES)
        .roles(&[EVENTSYNC])
        .settings(&[Settings::of::<EventsyncSettings>()])
        .jobs(&[jobs::FOLLOW])
        .init(settings::init)
}

const TABLES: [Table; 3] = [
    Table::kept("event_cursors", "one row per followed stream"),
    Table::pruned(
        "event_inbox",
        "received_at < now() - interval '35 days'",
        "WorkOS serves events for 30 days and retries webhooks for 3: an older event id \
         cannot come back by either path (5 days absorb skew and downtime)",
    ),
    Table::pruned(
        "workos_tombstones",
        "deleted_at < now() - interval '35 days'",
        "a tombstone stops a late, older event from resurrecting a deleted object; no event \
         older than WorkOS's 30-day retention can arrive",
    ),
];
