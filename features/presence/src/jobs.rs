//! `presence.expire` (singleton, every 10 s): members whose heartbeats stopped become
//! automatically offline, and the change of their effective status is published (through
//! chat's outbox, in the same transaction). [`expire_once`] is public for tests.

use std::time::Duration;

use qubital_plugin::{AppContext, Job, JobContext, ProcessRole};

use crate::{api::publish_if_changed, settings::PresenceState, store};

pub const EXPIRE: Job = qubital_plugin::job!(
    "presence.expire",
    ProcessRole::SERVE,
    Duration::from_secs(10),
    expire
)
.singleton();

/// Members expired per transaction.
const BATCH: i64 = 500;

async fn expire(job: JobContext) -> anyhow::Result<()> {
    while !job.stopping() {
        if expire_once(&job.app).await? < BATCH as usize {
            break;
        }
    }
    Ok(())
}

/// One batch: turns stale members offline and publishes what changed. Returns how many
/// members were expired.
pub async fn expire_once(app: &AppContext) -> anyhow::Result<usize> {
    let stale = app.get::<PresenceState>().stale_after.as_secs_f64();
    let mut tx = app.db().begin().await?;
    let rows = store::expire_stale(&mut tx, stale, BATCH).await?;
    for row in &rows {
        publish_if_changed(&mut tx, row).await?;
    }
    tx.commit().await?;
    if !rows.is_empty() {
        tracing::debug!(expired = rows.len(), "stale heartbeats turned offline");
    }
    Ok(rows.len())
}
