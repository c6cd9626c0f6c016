//! The sync job: one singleton job that, every few seconds, syncs each active connection not
//! synced for `CALENDAR_SYNC_INTERVAL_SECS`, each under its own lease (so a run on another
//! replica, or an overlap with a successor leader, skips a connection rather than syncing it
//! twice at once). A connection failing does not stop the others.

use std::time::Duration;

use qubital_plugin::{AppContext, Job, JobContext, ProcessRole};
use uuid::Uuid;

use crate::{settings::CalendarState, store, sync};

pub use sync::Outcome;

/// Connections synced per pass at most (the next pass continues).
const BATCH: i64 = 100;

pub const SYNC: Job =
    qubital_plugin::job!("calendar.sync", ProcessRole::SERVE, Duration::from_secs(10), run).singleton();

async fn run(job: JobContext) -> anyhow::Result<()> {
    let ctx = &job.app;
    if ctx.try_get::<qubital_auth::AuthState>().is_none() {
        return Ok(());
    }
    let every = ctx.get::<CalendarState>().sync_interval.as_secs() as i64;
    for id in store::due_connections(ctx.db(), every, BATCH).await? {
        if job.stopping() {
            break;
        }
        sync_logged(ctx, id).await;
    }
    Ok(())
}

async fn sync_logged(ctx: &AppContext, id: Uuid) -> Option<Outcome> {
    match sync::sync_connection(ctx, id).await {
        Ok(outcome) => {
            tracing::debug!(connection_id = %id, ?outcome, "calendar synced");
            Some(outcome)
        }
        Err(error) => {
            tracing::warn!(connection_id = %id, error = %format!("{error:#}"), "calendar sync failed");
            None
        }
    }
}

/// Syncs one connection now, whatever its last sync (for tests and operators).
pub async fn sync_connection(ctx: &AppContext, id: Uuid) -> anyhow::Result<Outcome> {
    sync::sync_connection(ctx, id).await
}

/// Syncs every active connection now (for tests and operators); the outcomes by connection.
pub async fn sync_all(ctx: &AppContext) -> anyhow::Result<Vec<(Uuid, Outcome)>> {
    let mut outcomes = Vec::new();
    for id in store::due_connections(ctx.db(), 0, i64::MAX).await? {
        outcomes.push((id, sync::sync_connection(ctx, id).await?));
    }
    Ok(outcomes)
}
