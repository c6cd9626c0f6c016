//! Queries on `recordings` and `recording_participants`. Every function a caller reaches takes
//! the organization id and filters on it.

use chrono::{DateTime, Utc};
use platform_livekit::egress::{Egress, EgressState};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RecordingRow {
    pub id: i64,
    pub egress_id: String,
    /// `None` once the space is deleted.
    pub space_id: Option<Uuid>,
    pub zone: String,
    pub topic: String,
    pub status: String,
    pub started_by: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
}

pub const COLUMNS: &str = "r.id, r.egress_id, rm.room_id AS space_id, r.zone, r.topic, r.status, \
     r.started_by, r.started_at, r.ended_at, r.duration_ms";

/// The recording `egress_id` of organization `org_id` (optionally locked for update).
pub async fn find(
    conn: &mut PgConnection,
    org_id: i64,
    egress_id: &str,
    for_update: bool,
) -> Result<Option<RecordingRow>, sqlx::Error> {
    let lock = if for_update { " FOR UPDATE OF r" } else { "" };
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM recordings r LEFT JOIN rooms rm ON rm.id = r.room_id
         WHERE r.org_id = $1 AND r.egress_id = $2{lock}"
    ))
    .bind(org_id)
    .bind(egress_id)
    .fetch_optional(conn)
    .await
}

/// Participants (user ids) of each recording, in id order.
pub async fn participants(conn: &mut PgConnection, ids: &[i64]) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT recording_id, user_id FROM recording_participants
         WHERE recording_id = ANY($1) ORDER BY recording_id, user_id",
    )
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// The row status an egress state maps to.
pub fn status_of(state: EgressState) -> &'static str {
    match state {
        EgressState::Starting | EgressState::Active => "active",
        EgressState::Ending => "ending",
        // A recording cut at LiveKit's time limit still has its file.
        EgressState::Complete | EgressState::LimitReached => "completed",
        EgressState::Failed | EgressState::Aborted => "failed",
    }
}

fn at(ns: Option<i64>) -> Option<DateTime<Utc>> {
    ns.map(DateTime::from_timestamp_nanos)
}

/// A recording row that changed.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Changed {
    /// The owning organization's public id (the metrics' `org_id`).
    pub org_public_id: String,
    /// The row's status now.
    pub status: String,
}

/// Writes what LiveKit says about an egress onto its row. A finished row (`completed`,
/// `failed`) never changes again, and an `ending` row never goes back to `active`, so late,
/// reordered or repeated reports change nothing. Returns the row when it changed.
pub async fn apply_egress(conn: &mut PgConnection, egress: &Egress) -> Result<Option<Changed>, sqlx::Error> {
    let status = status_of(egress.state);
    sqlx::query_as(
        "UPDATE recordings SET
             status = $2,
             ended_at = COALESCE($3, ended_at, CASE WHEN $2 IN ('completed', 'failed') THEN now() END),
             duration_ms = COALESCE($4, duration_ms),
             file_location = COALESCE($5, file_location),
             error = COALESCE($6, error),
             updated_at = now()
         WHERE egress_id = $1
           AND status NOT IN ('completed', 'failed')
           AND NOT (status = 'ending' AND $2 = 'active')
           AND (status, ended_at, duration_ms, file_location, error)
               IS DISTINCT FROM ($2, COALESCE($3, ended_at), COALESCE($4, duration_ms),
                                 COALESCE($5, file_location), COALESCE($6, error))
         RETURNING status, (SELECT public_id FROM organizations o WHERE o.id = recordings.org_id)
                   AS org_public_id",
    )
    .bind(&egress.id)
    .bind(status)
    .bind(at(egress.ended_at_ns).filter(|_| egress.state.is_final()))
    .bind(egress.duration_ns.map(|ns| ns / 1_000_000))
    .bind(&egress.location)
    .bind(&egress.error)
    .fetch_optional(conn)
    .await
}

/// Marks an unfinished recording `failed` because LiveKit does not know its egress. Returns
/// the row when it changed.
pub async fn fail_unknown(
    conn: &mut PgConnection,
    egress_id: &str,
    error: &str,
) -> Result<Option<Changed>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE recordings SET status = 'failed', ended_at = COALESCE(ended_at, now()),
             error = COALESCE(error, $2), updated_at = now()
         WHERE egress_id = $1 AND status IN ('active', 'ending')
         RETURNING status, (SELECT public_id FROM organizations o WHERE o.id = recordings.org_id)
                   AS org_public_id",
    )
    .bind(egress_id)
    .bind(error)
    .fetch_optional(conn)
    .await
}

impl Changed {
    /// Counts the change if it made the recording fail (call after it is committed).
    pub fn count(&self) {
        if self.status == "failed" {
            crate::metrics::recording_failed(&self.org_public_id);
        }
    }
}
