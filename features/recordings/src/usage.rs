//! The `recordings.usage` job: recomputes the usage gauges (weekly/monthly active users, people
//! in conferences now) from the database. It runs on every API replica (each serves its own
//! `/metrics`); the answer is the same on all of them.

use std::{collections::BTreeMap, time::Duration};

use qubital_plugin::{AppContext, Job, JobContext, ProcessRole};
use qubital_spaces::occupancy;

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
    let active: Vec<(i64, i64, i64)> = sqlx::query_as(
        "WITH today AS (SELECT (now() AT TIME ZONE 'UTC')::date AS day)
         SELECT a.org_id,
                count(DISTINCT a.user_id) FILTER (WHERE a.day > today.day - 7),
                count(DISTINCT a.user_id)
         FROM conference_activity_days a, today
         WHERE a.day > today.day - 30
         GROUP BY a.org_id",
    )
    .fetch_all(app.db())
    .await?;
    let present = occupancy::present_by_organization(app.db()).await?;
    let mut by_org: BTreeMap<i64, OrgUsage> = BTreeMap::new();
    for (org, weekly, monthly) in active {
        let usage = by_org.entry(org).or_default();
        usage.weekly_active_users = weekly;
        usage.monthly_active_users = monthly;
    }
    for (org, now) in present {
        by_org.entry(org).or_default().participants_now = now;
    }
    let ids: Vec<i64> = by_org.keys().copied().collect();
    let public_ids: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, public_id FROM organizations WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(app.db())
            .await?;
    let mut usage: Vec<OrgUsage> = public_ids
        .into_iter()
        .filter_map(|(id, public_id)| {
            by_org.remove(&id).map(|usage| OrgUsage {
                org_id: public_id,
                ..usage
            })
        })
        .collect();
    usage.sort_by(|a, b| a.org_id.cmp(&b.org_id));
    Ok(usage)
}

/// Measures and publishes the gauges.
pub async fn refresh(app: &AppContext) -> anyhow::Result<()> {
    metrics::set_usage(&measure(app).await?);
    Ok(())
}
