//! The `eventsync.housekeeping` job: keeps `event_inbox` bounded by deleting the rows of events
//! received more than [`INBOX_RETENTION_DAYS`] ago, in small batches ([`prune_expired`]).
//! Idempotent; a singleton (one replica is enough).
//!
//! Why deleting them is safe: the inbox only answers "was this event id seen before?". Nothing
//! reads it to order events or to judge staleness (that is `workos_updated_at` on the mirrored
//! rows and `workos_tombstones`), and the stream's position is `event_cursors`. An event older
//! than WorkOS's retention can no longer come back by either path. (Were an expired event to
//! come back anyway, newer-wins and the tombstones would make an upsert `stale`, and a
//! membership delete removes only the membership it names.)

use std::time::Duration;

use qubital_plugin::{prune_expired, AppContext, Job, JobContext, ProcessRole};

/// How long an inbox row is kept after it was received. WorkOS serves events up to 30 days old
/// on the Events API and retries a webhook delivery for at most 3 days, so an event id older
/// than 30 days cannot be delivered again by either path; 5 more days absorb clock skew and a
/// job that was down for a while.
pub const INBOX_RETENTION_DAYS: i32 = 35;

/// Runs in `qubital serve`, not in `qubital eventsync`, although both write the inbox: the API
/// is the process every deployment runs (the webhook writes the inbox even where no follower
/// is deployed, and `serve --dev` runs no follower), so pruning there bounds the table wherever
/// it grows. A singleton, so exactly one API replica prunes; running next to the follower is
/// safe because only rows far older than anything the follower or the webhook can still
/// insert are deleted.
pub const HOUSEKEEPING: Job = Job::new(
    "eventsync.housekeeping",
    ProcessRole::Serve,
    Duration::from_secs(3_600),
    |job| Box::pin(run(job)),
)
.singleton();

async fn run(job: JobContext) -> anyhow::Result<()> {
    let deleted = prune(&job.app, || job.stop.is_cancelled()).await?;
    if deleted > 0 {
        tracing::info!(deleted, "expired event_inbox rows pruned");
    }
    Ok(())
}

/// Deletes every inbox row received more than [`INBOX_RETENTION_DAYS`] ago, batch by batch,
/// until none is left or `stop()` says so. Returns how many rows were deleted.
///
/// By `received_at` (indexed by `event_inbox_received`) rather than the event's own time: an
/// event is received after it occurred, so this never deletes a row earlier than its event's
/// age would allow.
pub async fn prune(app: &AppContext, stop: impl Fn() -> bool) -> Result<u64, sqlx::Error> {
    let expired = format!("received_at < now() - interval '{INBOX_RETENTION_DAYS} days'");
    let deleted = prune_expired(app.db(), "event_inbox", &expired, stop).await?;
    crate::metrics::metrics().inbox_pruned.inc_by(deleted);
    Ok(deleted)
}
