//! The `recordings.housekeeping` job: deletes what has outlived its use, in small batches
//! ([`prune_expired`]). Idempotent; a singleton (one replica is enough).
//!
//! - `livekit_webhook_events` after 7 days: LiveKit redelivers within minutes, so an event id
//!   older than that will not come back.
//! - `conference_activity_days` after 35 days: the longest active-users window is 30 days.

use std::time::Duration;

use qubital_plugin::{prune_expired, AppContext, Job, JobContext, ProcessRole};

pub const HOUSEKEEPING: Job = Job::new(
    "recordings.housekeeping",
    ProcessRole::Serve,
    Duration::from_secs(3_600),
    |job| Box::pin(run(job)),
)
.singleton();

/// What is pruned: a table, the condition of an expired row, in SQL.
const RULES: &[(&str, &str)] = &[
    (
        "livekit_webhook_events",
        "received_at < now() - interval '7 days'",
    ),
    (
        "conference_activity_days",
        "day < (now() AT TIME ZONE 'UTC')::date - 35",
    ),
];

async fn run(job: JobContext) -> anyhow::Result<()> {
    let deleted = prune(&job.app, || job.stop.is_cancelled()).await?;
    if deleted > 0 {
        tracing::info!(deleted, "expired conference rows pruned");
    }
    Ok(())
}

/// Deletes every expired row, batch by batch, until none is left or `stop()` says so.
/// Returns how many rows were deleted.
pub async fn prune(app: &AppContext, stop: impl Fn() -> bool) -> Result<u64, sqlx::Error> {
    let mut deleted = 0;
    for (table, expired) in RULES {
        deleted += prune_expired(app.db(), table, expired, &stop).await?;
    }
    Ok(deleted)
}
