//! Reconciliation: recordings LiveKit has not reported on for a while (a lost or rejected
//! webhook, a crash between stop and its report) are checked against LiveKit's own state, by a
//! singleton job every minute and on demand through an internal endpoint.

use std::time::Duration;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use chrono::Utc;
use platform_livekit::{LiveKit, ServerApiError};
use poem::web::Data;
use poem_openapi::{param::Header, payload::Json, Object, OpenApi, Tags};
use qubital_plugin::{AppContext, Job, JobContext, Problem, ProcessRole};
use qubital_spaces::occupancy;

use crate::{conference, store, RecordingsState};

/// How long a recording may stay `active`/`ending` without news before it is checked.
const QUIET_FOR_SECS: i64 = 120;
/// Recordings checked per run (the oldest news first).
const BATCH: i64 = 50;

/// Singleton: one replica asks LiveKit, every minute.
pub const RECONCILE: Job = Job::new(
    "recordings.reconcile",
    ProcessRole::SERVE,
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
    if job.stop.is_cancelled() {
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
        let answer = match livekit.egress(&egress_id).await {
            Err(ServerApiError::Disabled) => return Ok(fixed),
            Err(error) => anyhow::bail!("LiveKit could not be asked about {egress_id}: {error}"),
            Ok(answer) => answer,
        };
        let mut conn = app.db().acquire().await?;
        let changed = match answer {
            Some(egress) => store::apply_egress(&mut conn, &egress).await?,
            None => store::fail_unknown(&mut conn, &egress_id, "unknown to LiveKit").await?,
        };
        changed.iter().for_each(store::Changed::count);
        if changed.is_some() {
            fixed += 1;
        } else {
            // Still running at LiveKit: note that we asked, so the next run looks at others.
            sqlx::query("UPDATE recordings SET updated_at = now() WHERE egress_id = $1")
                .bind(&egress_id)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(fixed)
}

/// Rooms whose occupancy one pass compares with LiveKit.
const ROOMS_PER_PASS: i64 = 20;

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
    let rooms = occupancy::quiet_rooms(
        app.db(),
        Duration::from_secs(QUIET_FOR_SECS as u64),
        ROOMS_PER_PASS,
    )
    .await?;
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

/// What one reconcile pass did.
#[derive(Object)]
struct Reconciled {
    /// Recordings whose state changed to LiveKit's.
    updated: u64,
}

#[derive(Tags)]
enum InternalTag {
    /// Operations for operators and schedulers, authenticated by a shared bearer token; not
    /// for clients.
    Internal,
}

#[derive(Default)]
pub struct ReconcileApi;

#[OpenApi(tag = "InternalTag::Internal")]
impl ReconcileApi {
    /// Reconcile recordings with LiveKit now.
    ///
    /// Runs one pass of the `recordings.reconcile` job: recordings unfinished and without news
    /// for two minutes take LiveKit's state. Authenticated by `Authorization: Bearer
    /// <RECORDINGS_RECONCILE_TOKEN>` (`401 invalid-token` otherwise); `503
    /// integration-disabled` when no token is configured; `503 integration-unavailable` when
    /// LiveKit cannot be asked.
    #[oai(
        path = "/internal/recordings/reconcile",
        method = "post",
        operation_id = "reconcile-recordings"
    )]
    async fn reconcile(
        &self,
        ctx: Data<&AppContext>,
        #[oai(name = "Authorization")] authorization: Header<Option<String>>,
    ) -> Result<Json<Reconciled>, Problem> {
        let Some(expected) = ctx.get::<RecordingsState>().reconcile_token.as_deref() else {
            return Err(Problem::integration_disabled("recording reconciliation"));
        };
        let given = authorization
            .0
            .as_deref()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or_default();
        // Constant time: the comparison must not tell how much of a guess was right.
        if verify_slices_are_equal(given.as_bytes(), expected.as_bytes()).is_err() {
            tracing::warn!("reconcile request with a wrong token");
            return Err(Problem::new(&qubital_plugin::problem::types::INVALID_TOKEN));
        }
        let updated = reconcile_once(&ctx).await.map_err(|error| {
            tracing::error!(error = %error, "reconcile pass failed");
            crate::api::recording_unavailable()
        })?;
        tracing::info!(updated, "recordings reconciled on request");
        Ok(Json(Reconciled { updated }))
    }
}
