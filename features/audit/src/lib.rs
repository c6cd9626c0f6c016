//! Audit logs: who changed what, when, from where. Decisions are written down in
//! `docs/audit-logs.md`.
//!
//! # API boundary
//!
//! Every administrative change calls [`record`] with the connection of its own transaction, so
//! the change and its trail commit together:
//!
//! ```ignore
//! let mut tx = ctx.db().begin().await?;
//! // ... the change ...
//! qubital_audit::record(&mut tx, AuditEvent::by(&caller, Action::SpaceCreated, req)
//!     .target(Target::new("space", id).named(&name))).await?;
//! tx.commit().await?;
//! ```
//!
//! The feature that owns organizations provides [`WorkosOrganizations`] at boot (how the relay
//! learns an organization's WorkOS id). [`jobs::relay_once`] is public for tests.

mod api;
mod event;
pub mod jobs;
pub mod permissions;
mod store;

use qubital_plugin::{Api, Feature, Table};

pub use event::{record, Action, Actor, AuditEvent, RequestContext, Target};
pub use jobs::{WorkosOrganizationOf, WorkosOrganizations};

static MIGRATIONS: qubital_plugin::Migrator = qubital_plugin::sqlx::migrate!("../../migrations/audit");

qubital_plugin::inventory::submit! {
    Feature::new("audit")
        .apis(&[Api::of::<api::AuditLogsApi>()])
        .migrations(&MIGRATIONS)
        .tables(&[Table::pruned(
            "audit_events",
            "relay_state <> 'pending' AND occurred_at < now() - interval '400 days'",
            "the trail is kept a year (and a month's margin); WorkOS keeps its own copy",
        )])
        .jobs(&[jobs::RELAY])
}
