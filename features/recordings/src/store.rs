//! Every SQL statement of the recordings feature: `recordings` and `recording_participants`
//! here, conference usage and webhook deliveries in [`conference`]. Only the feature's own
//! tables: a space, an organization or a user is reached through its feature's API, and is
//! stored here only as the id its foreign key checks. Every function a caller reaches takes the
//! organization id and filters on it.

pub(crate) mod conference;

use std::time::Duration;

use chrono::{DateTime, Utc};
use platform_livekit::egress::{Egress, EgressState};
use qubital_plugin::list::window_total;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct RecordingRow {
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

/// The columns of a [`RecordingRow`] of `recordings r`. The space's id is sent only while the
/// space exists: its deletion sets `room_id` to NULL (the foreign key's `ON DELETE SET NULL`),
/// and `space_id` is the wire id of that same space, kept for the zone key.
const COLUMNS: &str = "r.egress_id, CASE WHEN r.room_id IS NOT NULL THEN r.space_id END AS space_id, \
     r.zone, r.topic, r.status, r.started_by, r.started_at, r.ended_at, r.duration_ms";

/// The recording `egress_id` of organization `org_id`.
pub(crate) async fn find(
    conn: &mut PgConnection,
    org_id: i64,
    egress_id: &str,
) -> Result<Option<RecordingRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM recordings r WHERE r.org_id = $1 AND r.egress_id = $2"
    ))
    .bind(org_id)
    .bind(egress_id)
    .fetch_optional(conn)
    .await
}

/// [`find`], locked (`FOR UPDATE`) until the transaction ends.
pub(crate) async fn lock(
    conn: &mut PgConnection,
    org_id: i64,
    egress_id: &str,
) -> Result<Option<RecordingRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM recordings r WHERE r.org_id = $1 AND r.egress_id = $2 FOR UPDATE"
    ))
    .bind(org_id)
    .bind(egress_id)
    .fetch_optional(conn)
    .await
}

/// The participants of the recording `r` (user ids, ascending), as an array column: how the
/// single read and the list read them.
const PARTICIPANTS_OF_R: &str = "ARRAY(SELECT p.user_id FROM recording_participants p
        WHERE p.recording_id = r.id ORDER BY p.user_id) AS participants";

/// [`find`] with the recording's participants ([`PARTICIPANTS_OF_R`]), in one query.
pub(crate) async fn find_with_participants(
    conn: &mut PgConnection,
    org_id: i64,
    egress_id: &str,
) -> Result<Option<(RecordingRow, Vec<i64>)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        recording: RecordingRow,
        participants: Vec<i64>,
    }
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, {PARTICIPANTS_OF_R} FROM recordings r WHERE r.org_id = $1 AND r.egress_id = $2"
    ))
    .bind(org_id)
    .bind(egress_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| (row.recording, row.participants)))
}

/// Takes the organization's start lease for `secs` seconds, unless another start holds an
/// unexpired one: whether it was taken. (A concurrent claim waits on the row and then sees the
/// lease taken.)
pub(crate) async fn claim_start<'e>(
    db: impl PgExecutor<'e>,
    org_id: i64,
    lease_id: Uuid,
    secs: f64,
) -> Result<bool, sqlx::Error> {
    let taken: Option<i32> = sqlx::query_scalar(
        "INSERT INTO recording_start_leases (org_id, lease_id, lease_until)
         VALUES ($1, $2, now() + make_interval(secs => $3))
         ON CONFLICT (org_id) DO UPDATE SET lease_id = EXCLUDED.lease_id, lease_until = EXCLUDED.lease_until
         WHERE recording_start_leases.lease_until <= now()
         RETURNING 1",
    )
    .bind(org_id)
    .bind(lease_id)
    .bind(secs)
    .fetch_optional(db)
    .await?;
    Ok(taken.is_some())
}

/// Ends the start lease `lease_id` of the organization (in the transaction that saves the start,
/// or to give it back): whether it was still that lease.
pub(crate) async fn end_start<'e>(
    db: impl PgExecutor<'e>,
    org_id: i64,
    lease_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let ended: Option<i32> = sqlx::query_scalar(
        "DELETE FROM recording_start_leases WHERE org_id = $1 AND lease_id = $2 RETURNING 1",
    )
    .bind(org_id)
    .bind(lease_id)
    .fetch_optional(db)
    .await?;
    Ok(ended.is_some())
}

/// Whether `zone` of the space `space_id` is being recorded.
pub(crate) async fn zone_is_recording(
    conn: &mut PgConnection,
    org_id: i64,
    space_id: Uuid,
    zone: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM recordings
                        WHERE org_id = $1 AND space_id = $2 AND zone = $3 AND status = 'active')",
    )
    .bind(org_id)
    .bind(space_id)
    .bind(zone)
    .fetch_one(conn)
    .await
}

/// Recordings the organization started this calendar month (UTC), whatever became of them.
pub(crate) async fn started_this_month(conn: &mut PgConnection, org_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM recordings
         WHERE org_id = $1 AND started_at >= date_trunc('month', now(), 'UTC')",
    )
    .bind(org_id)
    .fetch_one(conn)
    .await
}

/// A recording LiveKit has started.
pub(crate) struct NewRecording<'a> {
    pub egress_id: &'a str,
    pub org_id: i64,
    /// The space's internal id (`qubital_spaces::SpaceRef::internal_id`); `None` when it was
    /// deleted meanwhile.
    pub room_id: Option<i64>,
    pub space_id: Uuid,
    pub zone: &'a str,
    pub topic: &'a str,
    pub started_by: i64,
    /// The object key the file is uploaded under.
    pub file_key: &'a str,
}

/// Saves a started recording (`active`). Returns its internal id.
pub(crate) async fn insert(conn: &mut PgConnection, new: &NewRecording<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO recordings (egress_id, org_id, room_id, space_id, zone, topic, started_by, file_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING id",
    )
    .bind(new.egress_id)
    .bind(new.org_id)
    .bind(new.room_id)
    .bind(new.space_id)
    .bind(new.zone)
    .bind(new.topic)
    .bind(new.started_by)
    .bind(new.file_key)
    .fetch_one(conn)
    .await
}

/// Adds `users` to the participants of recording `id` (those already in it stay as they are).
/// Returns how many were new.
pub(crate) async fn add_participants(
    conn: &mut PgConnection,
    id: i64,
    users: &[i64],
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO recording_participants (recording_id, user_id)
         SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(users)
    .execute(conn)
    .await?
    .rows_affected())
}

/// The active recording of `zone` of the space `space_id`, `(id, egress id)`, locked
/// (`FOR UPDATE`) until the transaction ends.
pub(crate) async fn lock_active_in_zone(
    conn: &mut PgConnection,
    org_id: i64,
    space_id: Uuid,
    zone: &str,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, egress_id FROM recordings
         WHERE org_id = $1 AND space_id = $2 AND zone = $3 AND status = 'active' FOR UPDATE",
    )
    .bind(org_id)
    .bind(space_id)
    .bind(zone)
    .fetch_optional(conn)
    .await
}

/// What a recording list selects.
pub(crate) struct RecordingFilter {
    pub org_id: i64,
    /// An `ILIKE` pattern of the topic (`qubital_plugin::list::contains_pattern`).
    pub topic_like: Option<String>,
    /// Recordings in which every one of these users took part.
    pub people: Option<Vec<i64>>,
    /// `from` ≤ `started_at` < `to`.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
}

const FILTER: &str = "r.org_id = $1
     AND ($2::text IS NULL OR r.topic ILIKE $2)
     AND ($3::bigint[] IS NULL OR cardinality($3) = (
            SELECT count(*) FROM recording_participants p
            WHERE p.recording_id = r.id AND p.user_id = ANY($3)))
     AND ($4::timestamptz IS NULL OR r.started_at >= $4)
     AND ($5::timestamptz IS NULL OR r.started_at < $5)";

/// A page of the recordings matching `filter`, newest first, each with its participants (user
/// ids, ascending), and how many match in all — one query on the common path (a second only
/// for a page past the end).
pub(crate) async fn list(
    conn: &mut PgConnection,
    filter: &RecordingFilter,
) -> Result<(Vec<(RecordingRow, Vec<i64>)>, i64), sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        recording: RecordingRow,
        participants: Vec<i64>,
        total: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, {PARTICIPANTS_OF_R},
                count(*) OVER () AS total
         FROM recordings r
         WHERE {FILTER} ORDER BY r.started_at DESC, r.id DESC LIMIT $6 OFFSET $7"
    ))
    .bind(filter.org_id)
    .bind(&filter.topic_like)
    .bind(&filter.people)
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.limit)
    .bind(filter.offset)
    .fetch_all(&mut *conn)
    .await?;
    let total = window_total(rows.first().map(|r| r.total), filter.offset, || async {
        let count_sql = format!("SELECT count(*) FROM recordings r WHERE {FILTER}");
        sqlx::query_scalar(&count_sql)
            .bind(filter.org_id)
            .bind(&filter.topic_like)
            .bind(&filter.people)
            .bind(filter.from)
            .bind(filter.to)
            .fetch_one(&mut *conn)
            .await
    })
    .await?;
    Ok((
        rows.into_iter()
            .map(|row| (row.recording, row.participants))
            .collect(),
        total,
    ))
}

/// The status of the recording `egress_id` of `org_id` and the key of its file, if it has one.
pub(crate) async fn file<'e>(
    db: impl PgExecutor<'e>,
    org_id: i64,
    egress_id: &str,
) -> Result<Option<(String, Option<String>)>, sqlx::Error> {
    sqlx::query_as("SELECT status, file_key FROM recordings WHERE org_id = $1 AND egress_id = $2")
        .bind(org_id)
        .bind(egress_id)
        .fetch_optional(db)
        .await
}

/// Recordings still `active` or `ending` with no news for `quiet`, the longest quiet first.
pub(crate) async fn quiet_unfinished<'e>(
    db: impl PgExecutor<'e>,
    quiet: Duration,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT egress_id FROM recordings
         WHERE status IN ('active', 'ending') AND updated_at < now() - make_interval(secs => $1)
         ORDER BY updated_at LIMIT $2",
    )
    .bind(quiet.as_secs_f64())
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Notes that LiveKit was asked about `egress_id` (so the next reconcile pass looks at others).
pub(crate) async fn touch<'e>(db: impl PgExecutor<'e>, egress_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE recordings SET updated_at = now() WHERE egress_id = $1")
        .bind(egress_id)
        .execute(db)
        .await?;
    Ok(())
}

/// The row status an egress state maps to.
pub(crate) fn status_of(state: EgressState) -> &'static str {
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
pub(crate) struct ChangedRow {
    /// The owning organization (internal id).
    pub org_id: i64,
    /// The row's status now.
    pub status: String,
}

/// Writes what LiveKit says about an egress onto its row. A finished row (`completed`,
/// `failed`) never changes again, and an `ending` row never goes back to `active`, so late,
/// reordered or repeated reports change nothing. Returns the row when it changed.
pub(crate) async fn apply_egress(
    conn: &mut PgConnection,
    egress: &Egress,
) -> Result<Option<ChangedRow>, sqlx::Error> {
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
         RETURNING org_id, status",
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
pub(crate) async fn fail_unknown(
    conn: &mut PgConnection,
    egress_id: &str,
    error: &str,
) -> Result<Option<ChangedRow>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE recordings SET status = 'failed', ended_at = COALESCE(ended_at, now()),
             error = COALESCE(error, $2), updated_at = now()
         WHERE egress_id = $1 AND status IN ('active', 'ending')
         RETURNING org_id, status",
    )
    .bind(egress_id)
    .bind(error)
    .fetch_optional(conn)
    .await
}
