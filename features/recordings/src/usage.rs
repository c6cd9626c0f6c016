//! The `recordings.usage` job: recomputes the usage gauges (weekly/monthly active users, people
//! in conferences now) from the database. It runs on every API replica (each serves its own
//! `/metrics`); the answer is the same on all of them.

use std::time::Duration;

use qubital_plugin::{AppContext, Job, JobContext, ProcessRole};

use crate::metrics::{self, OrgUsage};

pub const USAGE: Job = Job::new(
    "recordings.usage",
    ProcessRole::Serve,
    Duration::from_secs(60),
    |job| Box::pin(run(job)),
);

async fn run(job: JobContext) -> anyhow::Result<()> {
    if job.stop.is_cancelled() {
        return Ok(());
    }
    refresh(&job.app).await
}

/// Per organization with any activity in the last 30 UTC days or anyone in a conference now:
/// distinct users active in the last 7 and 30 days (today included) and people present now.
pub async fn measure(app: &AppContext) -> Result<Vec<OrgUsage>, sqlx::Error> {
    let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "WITH today AS (SELECT (now() AT TIME ZONE 'UTC')::date AS day),
         active AS (
             SELECT a.org_id,
                    count(DISTINCT a.user_id) FILTER (WHERE a.day > today.day - 7) AS weekly,
                    count(DISTINCT a.user_id) AS monthly
             FROM conference_activity_days a, today
             WHERE a.day > today.day - 30
             GROUP BY a.org_id),
         present AS (
             SELECT org_id, count(*) AS now FROM conference_participants WHERE present GROUP BY org_id)
         SELECT o.public_id, COALESCE(active.weekly, 0), COALESCE(active.monthly, 0),
                COALESCE(present.now, 0)
         FROM active FULL JOIN present ON present.org_id = active.org_id
         JOIN organizations o ON o.id = COALESCE(active.org_id, present.org_id)
         ORDER BY o.public_id",
    )
    .fetch_all(app.db())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(org_id, weekly, monthly, now)| OrgUsage {
            org_id,
            weekly_active_users: weekly,
            monthly_active_users: monthly,
            participants_now: now,
        })
        .collect())
}

/// Measures and publishes the gauges.
pub async fn refresh(app: &AppContext) -> anyhow::Result<()> {
    metrics::set_usage(&measure(app).await?);
    Ok(())
}
