//! Presence: who is online, away, busy or offline in an organization. Decisions are written
//! down in `docs/chat-and-presence.md`.
//!
//! The effective status of a member is their manual status (set by them, persisted) or else
//! the automatic one: online while heartbeats keep coming (Centrifugo's open-source server has
//! no disconnect webhook), offline once they stop — a singleton job ([`jobs`]) turns stale
//! heartbeats offline. Every change of the effective status is published on
//! `status:<organizationId>:<userId>` through chat's transactional outbox
//! (`qubital_chat::outbox::enqueue`), in the same transaction as the change.
//!
//! # API boundary
//!
//! [`effective_status_sql`]: the effective status of members, read in a member list's own
//! query. The manual status reaches `User.manualStatus` through the identity feature's
//! `ManualStatusSql`, registered below (the identity feature cannot depend on this one).

mod api;
pub mod jobs;
pub mod settings;
mod store;

use qubital_plugin::{Api, Feature, Settings, Table};

pub use api::effective_status_sql;
pub use qubital_auth::directory::PresenceStatus;

static MIGRATIONS: qubital_plugin::Migrator = qubital_plugin::sqlx::migrate!("../../migrations/presence");

qubital_plugin::inventory::submit! {
    Feature::new("presence")
        .apis(&[Api::of::<api::PresenceApi>()])
        .migrations(&MIGRATIONS)
        .tables(&[Table::kept(
            "user_presence",
            "one row per member and organization, deleted with either",
        )])
        .settings(&[Settings::of::<settings::PresenceSettings>()])
        .jobs(&[jobs::EXPIRE])
        .init(settings::init)
}

// Evaluated inside the identity feature's one query for `User` ($1 the user, $2 the
// organization).
qubital_plugin::inventory::submit! {
    qubital_auth::directory::ManualStatusSql(
        "(SELECT p.manual_status FROM user_presence p WHERE p.org_id = $2 AND p.user_id = $1)"
    )
}
