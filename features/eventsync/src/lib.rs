//! eventsync: keeps organizations, users and memberships in Postgres in step with WorkOS.
//!
//! Two ways in, one way to apply ([`apply`]):
//! - the **stream** ([`follower`]), a singleton job of the `qubital eventsync` process that
//!   follows the WorkOS Events API with a cursor stored in the same transaction as each event's
//!   effects, after a first full backfill;
//! - **webhooks** ([`webhook`]) on the API, a fast path verified by signature and deduplicated
//!   by event id.
//!
//! `event_inbox` is kept for 35 days by a singleton of the API ([`housekeeping`]).
//!
//! Effects on the rest of the system: a deleted user or removed membership ends that user's
//! sessions (through the identity feature), a renamed organization has its new name everywhere.

pub mod apply;
pub mod follower;
pub mod housekeeping;
pub mod metrics;
pub mod objects;
mod webhook;

use std::time::Duration;

use futures::FutureExt;
use qubital_plugin::{Api, Boot, Feature, Job, ProcessRole, Settings};

static MIGRATIONS: qubital_plugin::Migrator = qubital_plugin::sqlx::migrate!("../../migrations/eventsync");

qubital_plugin::inventory::submit! {
    Feature::new("eventsync")
        .apis(&[Api::of::<webhook::WebhookApi>()])
        .migrations(&MIGRATIONS)
        .settings(&[Settings::of::<EventsyncSettings>()])
        .jobs(&[FOLLOW, housekeeping::HOUSEKEEPING])
        .init(init)
}

/// Follows the WorkOS stream; `every` is the pause between drained polls.
const FOLLOW: Job = Job::new(
    "eventsync.follow",
    ProcessRole::Eventsync,
    Duration::from_secs(5),
    |ctx| follower::run(ctx).boxed(),
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
    pub webhook_secret: Option<String>,

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

fn init(boot: &mut Boot) -> anyhow::Result<()> {
    let settings = boot
        .get::<EventsyncSettings>()
        .expect("settings are registered")
        .clone();
    // The webhook is an API operation: only `serve` needs its secret.
    if settings.webhook_secret.is_none() && boot.serves_api() {
        if boot.environment.is_development() {
            tracing::warn!("WORKOS_WEBHOOK_SECRET is not set: /webhooks/workos answers 503");
        } else {
            anyhow::bail!("WORKOS_WEBHOOK_SECRET is required in production");
        }
    }
    metrics::metrics();
    Ok(())
}
