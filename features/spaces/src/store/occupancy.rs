//! The SQL of `space_occupants`: who is in each space's conference now. The API other
//! features call is [`crate::occupancy`], which re-exports these functions; the reasons for
//! the ordering rules are written there.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// A space as the conference knows it: the room named by its id.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ConferenceRoom {
    /// Internal id of the space (the `rooms` row).
    pub room_pk: i64,
    /// The space's id, which is the conference room's name.
    pub space_id: Uuid,
    /// Internal id of the owning organization.
    pub org_id: i64,
    /// The owning organization's public id.
    pub org_public_id: String,
}

/// The space whose conference room is named `room_name`, if any.
pub async fn room<'e>(
    db: impl PgExecutor<'e>,
    room_name: &str,
) -> Result<Option<ConferenceRoom>, sqlx::Error> {
    let Ok(space_id) = Uuid::parse_str(room_name) else {
        return Ok(None);
    };
    sqlx::query_as(
        "SELECT r.id AS room_pk, r.room_id AS space_id, r.org_id, o.public_id AS org_public_id
         FROM rooms r JOIN organizations o ON o.id = r.org_id WHERE r.room_id = $1",
    )
    .bind(space_id)
    .fetch_optional(db)
    .await
}

/// `identity` is in the room from `joined_at`, as reported at `at`. `user_id` is the user the
/// identity names, if it names one that exists (the column references the identity feature's
/// users, so the caller establishes that first: recordings does, through its own activity row's
/// foreign key). Returns whether the row changed (older news does not).
pub async fn joined(
    conn: &mut PgConnection,
    room: &ConferenceRoom,
    identity: &str,
    user_id: Option<i64>,
    joined_at: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO space_occupants (room_id, identity, user_id, present, joined_at, changed_at)
         VALUES ($1, $2, $3, true, $4, $5)
         ON CONFLICT (room_id, identity) DO UPDATE
             SET present = true, user_id = EXCLUDED.user_id, joined_at = EXCLUDED.joined_at,
                 changed_at = EXCLUDED.changed_at
             WHERE space_occupants.changed_at < EXCLUDED.changed_at",
    )
    .bind(room.room_pk)
    .bind(identity)
    .bind(user_id)
    .bind(joined_at)
    .bind(at)
    .execute(conn)
    .await?
    .rows_affected()
        > 0)
}

/// `identity` left the room at `at`. Returns when it had joined, if the row changed.
pub async fn left(
    conn: &mut PgConnection,
    room: &ConferenceRoom,
    identity: &str,
    at: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE space_occupants SET present = false, changed_at = $3
         WHERE room_id = $1 AND identity = $2 AND changed_at <= $3
         RETURNING joined_at",
    )
    .bind(room.room_pk)
    .bind(identity)
    .bind(at)
    .fetch_optional(conn)
    .await
}

/// The room closed at `at`: nobody is in it any more. Returns how many left.
pub async fn emptied(
    conn: &mut PgConnection,
    room: &ConferenceRoom,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE space_occupants SET present = false, changed_at = $2
         WHERE room_id = $1 AND present AND changed_at <= $2",
    )
    .bind(room.room_pk)
    .bind(at)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Identities present in the room.
pub async fn present(conn: &mut PgConnection, room: &ConferenceRoom) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT identity FROM space_occupants WHERE room_id = $1 AND present ORDER BY identity",
    )
    .bind(room.room_pk)
    .fetch_all(conn)
    .await
}

/// The spaces of organization `org_id` whose conference `user_id` is in now.
pub async fn spaces_occupied_by<'e>(
    db: impl PgExecutor<'e>,
    org_id: i64,
    user_id: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT r.room_id FROM space_occupants p JOIN rooms r ON r.id = p.room_id
         WHERE r.org_id = $1 AND p.user_id = $2 AND p.present ORDER BY r.room_id",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Marks gone, now, everyone present in the room but `still_there`. Returns who was marked.
pub async fn keep_only(
    conn: &mut PgConnection,
    room: &ConferenceRoom,
    still_there: &[&str],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE space_occupants SET present = false, changed_at = now()
         WHERE room_id = $1 AND present AND NOT (identity = ANY($2))
         RETURNING identity",
    )
    .bind(room.room_pk)
    .bind(still_there)
    .fetch_all(conn)
    .await
}

/// Rooms with someone present and no news for `quiet`, the longest quiet first.
pub async fn quiet_rooms<'e>(
    db: impl PgExecutor<'e>,
    quiet: Duration,
    limit: i64,
) -> Result<Vec<ConferenceRoom>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id AS room_pk, r.room_id AS space_id, r.org_id, o.public_id AS org_public_id
         FROM (SELECT room_id, max(changed_at) AS last FROM space_occupants GROUP BY room_id
               HAVING bool_or(present) AND max(changed_at) < now() - make_interval(secs => $1)) q
         JOIN rooms r ON r.id = q.room_id JOIN organizations o ON o.id = r.org_id
         ORDER BY q.last LIMIT $2",
    )
    .bind(quiet.as_secs_f64())
    .bind(limit)
    .fetch_all(db)
    .await
}

/// People present in each organization's conferences now: `(organization public id, count)`
/// for every organization with anyone present.
pub async fn present_by_organization<'e>(db: impl PgExecutor<'e>) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.public_id, count(*) FROM space_occupants p
         JOIN rooms r ON r.id = p.room_id JOIN organizations o ON o.id = r.org_id
         WHERE p.present GROUP BY o.public_id",
    )
    .fetch_all(db)
    .await
}
