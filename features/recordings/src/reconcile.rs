//! The reconcile job: recordings LiveKit has not reported on for a while (a lost or rejected
//! webhook, a crash between stop and its report) are checked against LiveKit's own state.

use std::time::Duration;

use platform_livekit::{egress::EgressError, LiveKit};
use qubital_plugin::{AppContext, Job, JobContext, ProcessRole};

use crate::store;

/// How long a recording may stay `active`/`ending` without news before it is checked.
const QUIET_FOR_SECS: i64 = 120;
/// Recordings checked per run (the oldest news first).
const BATCH: i64 = 50;

/// Singleton: one replica asks LiveKit, every minute.
pub const RECONCILE: Job = Job::new(
    "recordings.reconcile",
    ProcessRole::Serve,
    Duration::from_secs(60),
    |job| Box::pin(run(job)),
)
.singleton();

async fn run(job: JobContext) -> anyhow::Result<()> {
    if job.stop.is_cancelled() {
        return Ok(());
    }
    let fixed = reconcile_once(&job.app).await?;
    if fixed > 0 {
        tracing::info!(fixed, "recordings reconciled with LiveKit");
    }
    Ok(())
}

/// One pass: asks LiveKit about every quiet unfinished recording and writes what it says.
/// Idempotent. Returns how many rows changed.
pub async fn reconcile_once(app: &AppContext) -> anyhow::Result<u64> {
    let livekit = app.get::<LiveKit>();
    if !livekit.is_enabled() {
        return Ok(0);
    }
    let stale: Vec<String> = sqlx::query_scalar(
        "SELECT egress_id FROM recordings
         WHERE status IN ('active', 'ending') AND updated_at < now() - make_interval(secs => $1)
         ORDER BY updated_at LIMIT $2",
    )
    .bind(QUIET_FOR_SECS as f64)
    .bind(BATCH)
    .fetch_all(app.db())
    .await?;
    let mut fixed = 0;
    for egress_id in stale {
        let changed = match livekit.egress(&egress_id).await {
            Ok(Some(egress)) => store::apply_egress(&mut *app.db().acquire().await?, &egress).await?,
            Ok(None) => {
                sqlx::query(
                    "UPDATE recordings SET status = 'failed', ended_at = COALESCE(ended_at, now()),
                         error = COALESCE(error, 'unknown to LiveKit'), updated_at = now()
                     WHERE egress_id = $1 AND status IN ('active', 'ending')",
                )
                .bind(&egress_id)
                .execute(app.db())
                .await?
                .rows_affected()
                    > 0
            }
            Err(EgressError::Disabled) => return Ok(fixed),
            Err(error) => anyhow::bail!("LiveKit could not be asked about {egress_id}: {error}"),
        };
        if changed {
            fixed += 1;
        } else {
            // Still running at LiveKit: note that we asked, so the next run looks at others.
            sqlx::query("UPDATE recordings SET updated_at = now() WHERE egress_id = $1")
                .bind(&egress_id)
                .execute(app.db())
                .await?;
        }
    }
    Ok(fixed)
}
