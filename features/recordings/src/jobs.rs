//! The recordings feature's jobs and their runs:
//!
//! - `recordings.reconcile` (singleton, every minute): recordings and conference occupancy
//!   LiveKit has not reported on for a while (a lost or rejected webhook, a crash between stop
//!   and its report) are checked against LiveKit's own state. The internal endpoint runs the
//!   same pass on demand.
//! - `recordings.usage` (every API replica, every minute): the usage gauges, recomputed from
//!   the database; each replica serves its own `/metrics`, and all give the same answer.
//!
//! The passes are public so that tests run one directly.

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use chrono::Utc;
use platform_livekit::{LiveKit, ServerApiError};
use qubital_plugin::{AppContext, Job, JobContext, ProcessRole};
use qubital_spaces::occupancy;

use crate::{
    conference, egress,
    metrics::{self, OrgUsage},
    store,
};

/// Singleton: one replica asks LiveKit, every minute.
pub const RECONCILE: Job = qubital_plugin::job!(
    "recordings.reconcile",
    ProcessRole::SERVE,
    Duration::from_secs(60),
    reconcile
)
.singleton();

/// On every API replica: each serves its own `/metrics`.
pub const USAGE: Job = qubital_plugin::job!(
    "recordings.usage",
    ProcessRole::SERVE,
    Duration::from_secs(60),
    usage
);

/// How long a recording or a room may go without news before LiveKit is asked about it.
const QUIET_FOR: Duration = Duration::from_secs(120);
/// Recordings checked per pass (the oldest news first).
const RECORDINGS_PER_PASS: i64 = 50;
/// Rooms whose occupancy one pass compares with LiveKit.
const ROOMS_PER_PASS: i64 = 20;

async fn reconcile(job: JobContext) -> anyhow::Result<()> {
    if job.stopping() {
        return Ok(());
    }
    let fixed = reconcile_once(&job.app).await?;
    if fixed > 0 {
        tracing::info!(fixed, "recordings reconciled with LiveKit");
    }
    if job.stopping() {
        return Ok(());
    }
    let corrected = reconcile_occupancy_once(&job.app).await?;
    if corrected > 0 {
        tracing::info!(corrected, "conference occupancy reconciled with LiveKit");
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
    let stale = store::quiet_unfinished(app.db(), QUIET_FOR, RECORDINGS_PER_PASS).await?;
    let mut fixed = 0;
    for egress_id in stale {
        let answer = match livekit.egress(&egress_id).await {
            Err(ServerApiError::Disabled) => return Ok(fixed),
            Err(error) => anyhow::bail!("LiveKit could not be asked about {egress_id}: {error}"),
            Ok(answer) => answer,
        };
        let mut conn = app.db().acquire().await?;
        let changed = match answer {
            Some(egress) => egress::apply(&mut conn, &egress).await?,
            None => egress::fail_unknown(&mut conn, &egress_id, "unknown to LiveKit").await?,
        };
        changed.iter().for_each(egress::Changed::count);
        if changed.is_some() {
            fixed += 1;
        } else {
            // Still running at LiveKit: note that we asked, so the next run looks at others.
            store::touch(&mut *conn, &egress_id).await?;
        }
    }
    Ok(fixed)
}

/// One pass over conference occupancy (a lost `participant_left` would leave someone "in" a
/// conference forever): rooms with someone present and no participant news for two minutes
/// are compared with LiveKit's room service. People LiveKit no longer lists are marked gone;
/// people it lists that were never seen joining are marked present (and active today). No
/// usage counter moves: only events are counted. Idempotent. Returns how many rows changed.
///
/// A leave that arrives while a room is being compared may be overwritten by the comparison;
/// the next pass (LiveKit no longer lists that person) corrects it.
pub async fn reconcile_occupancy_once(app: &AppContext) -> anyhow::Result<u64> {
    let livekit = app.get::<LiveKit>();
    if !livekit.is_enabled() {
        return Ok(0);
    }
    let rooms = occupancy::quiet_rooms(app.db(), QUIET_FOR, ROOMS_PER_PASS).await?;
    let mut changed = 0;
    for room in rooms {
        let people = match livekit.people_in_room(&room.space_id.to_string()).await {
            Ok(people) => people,
            Err(ServerApiError::Disabled) => return Ok(changed),
            Err(error) => anyhow::bail!("LiveKit could not be asked who is in {}: {error}", room.space_id),
        };
        let listed: Vec<&str> = people.iter().map(|p| p.identity.as_str()).collect();
        let mut tx = app.db().begin().await?;
        changed += occupancy::keep_only(&mut tx, &room, &listed).await?.len() as u64;
        let known = occupancy::present(&mut tx, &room).await?;
        for person in people.iter().filter(|p| !known.contains(&p.identity)) {
            if conference::joined(&mut tx, &room, person, Utc::now()).await? {
                changed += 1;
            }
        }
        tx.commit().await?;
    }
    Ok(changed)
}

async fn usage(job: JobContext) -> anyhow::Result<()> {
    if job.stopping() {
        return Ok(());
    }
    refresh_usage(&job.app).await
}

/// Measures and publishes the usage gauges.
pub async fn refresh_usage(app: &AppContext) -> anyhow::Result<()> {
    metrics::set_usage(&measure_usage(app).await?);
    Ok(())
}

/// Per organization with any activity in the last 30 UTC days or anyone in a conference now:
/// distinct users active in the last 7 and 30 days (today included) and people present now,
/// labelled by the organization's public id, in that order.
pub async fn measure_usage(app: &AppContext) -> Result<Vec<OrgUsage>, sqlx::Error> {
    let mut conn = app.db().acquire().await?;
    let active = store::conference::active_users(&mut conn).await?;
    // Activity is kept by internal id; the labels are public ids, asked of the identity
    // feature in one query.
    let org_ids: Vec<i64> = active.iter().map(|(org, _, _)| *org).collect();
    let public_ids: HashMap<i64, String> =
        qubital_auth::directory::organization_public_ids(&mut conn, &org_ids)
            .await?
            .into_iter()
            .collect();
    let present = occupancy::present_by_organization(&mut *conn).await?;
    let mut by_org: BTreeMap<String, OrgUsage> = BTreeMap::new();
    for (org, weekly, monthly) in active {
        let Some(org) = public_ids.get(&org) else {
            continue; // deleted since: its activity goes with it
        };
        let usage = by_org.entry(org.clone()).or_default();
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
