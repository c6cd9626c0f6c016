//! The `recordings.usage` job: recomputes the usage gauges (weekly/monthly active users, people
//! in conferences now) from the database. It runs on every API replica (each serves its own
//! `/metrics`); the answer is the same on all of them.

use std::{collections::BTreeMap, time::Duration};

use qubital_plugin::{AppContext, Job, JobContext, ProcessRole};
use qubital_spaces::occupancy;

use crate::metrics::{self, OrgUsage};

pub const USAGE: Job = Job::new(
    "recordings.usage",
    ProcessRole::SERVE,
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
    let active: Vec<(String, i64, i64)> = sqlx::query_as(
        "WITH today AS (SELECT (now() AT TIME ZONE 'UTC')::date AS day)
         SELECT o.public_id,
                count(DISTINCT a.user_id) FILTER (WHERE a.day > today.day - 7),
                count(DISTINCT a.user_id)
         FROM conference_activity_days a JOIN organizations o ON o.id = a.org_id, today
         WHERE a.day > today.day - 30
         GROUP BY o.public_id",
    )
    .fetch_all(app.db())
    .await?;
    let present = occupancy::present_by_organization(app.db()).await?;
    // By public id, so the answer comes out in that order.
    let mut by_org: BTreeMap<String, OrgUsage> = BTreeMap::new();
    for (org, weekly, monthly) in active {
        let usage = by_org.entry(org).or_default();
        usage.weekly_active_users = weekly;
        usage.monthly_active_users = monthly;
    }
    for (org, now) in present {
        by_org.entry(org).or_default().participants_now = now;
    }
    Ok(by_org
        .into_iter()
        .map(|(org_id, usage)| OrgUsage { org_id, ..usage })
        .collect())
}

/// Measures and publishes the gauges.
pub async fn refresh(app: &AppContext) -> anyhow::Result<()> {
    metrics::set_usage(&measure(app).await?);
    Ok(())
}
