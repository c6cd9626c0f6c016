//! eventsync: keeps organizations, users and memberships in Postgres in step with WorkOS.
//!
//! Two ways in, one way to apply ([`apply`]):
//! - the **stream** ([`follower`]), a singleton job of the `qubital eventsync` process that
//!   follows the WorkOS Events API with a cursor stored in the same transaction as each event's
//!   effects, after a first full backfill;
//! - **webhooks** ([`webhook`]) on the API, a fast path verified by signature and deduplicated
//!   by event id.
//!
//! `event_inbox` and `workos_tombstones` are kept for 35 days (the host's housekeeping job
//! applies the retention rules declared below).
//!
//! Effects on the rest of the system: a deleted user or removed membership ends that user's
//! sessions (through the identity feature), a renamed organization has its new name everywhere.

pub mod apply;
pub mod follower;
pub mod metrics;
pub mod objects;
mod webhook;

use std::time::Duration;

use qubital_plugin::{Api, Boot, Feature, Job, ProcessRole, SecretString, Settings, Table};

static MIGRATIONS: qubital_plugin::Migrator = qubital_plugin::sqlx::migrate!("../../migrations/eventsync");

qubital_plugin::inventory::submit! {
    Feature::new("eventsync")
        .apis(&[Api::of::<webhook::WebhookApi>()])
        .migrations(&MIGRATIONS)
        .tables(&[
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
        ])
        .roles(&[EVENTSYNC])
        .settings(&[Settings::of::<EventsyncSettings>()])
        .jobs(&[FOLLOW])
        .init(init)
}

/// `qubital eventsync`: the WorkOS follower process, with its own ops listener.
pub const EVENTSYNC: ProcessRole = ProcessRole::worker(
    "eventsync",
    "Follow the WorkOS event stream and mirror it into Postgres.",
    "EVENTSYNC_PORT",
    8081,
);

/// Follows the WorkOS stream; `every` is the pause between drained polls.
const FOLLOW: Job = qubital_plugin::job!(
    "eventsync.follow",
    EVENTSYNC,
    Duration::from_secs(5),
    follower::run
)
.singleton();

#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "eventsync")]
pub struct EventsyncSettings {
    /// Events asked for per page of the WorkOS stream (1-100).
    #[arg(long = "eventsync-page-size", env = "EVENTSYNC_PAGE_SIZE", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub page_size: u32,

    /// Secret of the WorkOS webhook endpoint. Required in production; unset in development
    /// disables `/webhooks/workos` (503).
    #[arg(
        long = "workos-webhook-secret",
        env = "WORKOS_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    pub webhook_secret: Option<SecretString>,

    /// Largest accepted age (and clock skew) of a webhook signature, in seconds.
    #[arg(
        long = "workos-webhook-tolerance-secs",
        env = "WORKOS_WEBHOOK_TOLERANCE_SECS",
        default_value_t = 300
    )]
    pub webhook_tolerance_secs: u64,
}

impl EventsyncSettings {
    pub fn webhook_tolerance(&self) -> Duration {
        Duration::from_secs(self.webhook_tolerance_secs)
    }
}

/// Smallest accepted webhook secret, in bytes (WorkOS generates longer ones).
const MIN_WEBHOOK_SECRET_BYTES: usize = 16;

fn init(boot: &mut Boot) -> anyhow::Result<()> {
    let settings = boot.get::<EventsyncSettings>().expect("registered above");
    // The webhook is an API operation: only `serve` needs its secret.
    if boot.serves_api() {
        boot.environment.required_secret(
            "WORKOS_WEBHOOK_SECRET",
            &settings.webhook_secret,
            MIN_WEBHOOK_SECRET_BYTES,
            "/webhooks/workos answers 503",
        )?;
    }
    metrics::metrics();
    Ok(())
}
