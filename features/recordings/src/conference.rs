//! What participant and room webhooks change in the database: who is in each space's
//! conference now (`conference_participants`) and who was active on which day
//! (`conference_activity_days`, for weekly/monthly active users). Each function runs inside the
//! webhook's transaction, after its event id was recorded, so a redelivery never gets here.

use chrono::{DateTime, Utc};
use platform_livekit::webhook::Participant;
use sqlx::PgConnection;
use uuid::Uuid;

/// The space a LiveKit room belongs to (the room is named by the space's id).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RoomOwner {
    pub org_id: i64,
    /// The organization's public id: the `org_id` label of the metrics.
    pub org_public_id: String,
}

/// The organization whose space is the room `room_name`, if any.
pub async fn room_owner(conn: &mut PgConnection, room_name: &str) -> Result<Option<RoomOwner>, sqlx::Error> {
    let Ok(space_id) = Uuid::parse_str(room_name) else {
        return Ok(None);
    };
    sqlx::query_as(
        "SELECT r.org_id, o.public_id AS org_public_id
         FROM rooms r JOIN organizations o ON o.id = r.org_id WHERE r.room_id = $1",
    )
    .bind(space_id)
    .fetch_optional(conn)
    .await
}

fn instant(unix_seconds: i64) -> Option<DateTime<Utc>> {
    (unix_seconds > 0)
        .then(|| DateTime::from_timestamp(unix_seconds, 0))
        .flatten()
}

/// The participant is in the room from `at`. Older news than the row's changes nothing; at the
/// same second a leave wins (it happened after the join). Counts the user as active that day.
/// Returns whether the row changed.
pub async fn joined(
    conn: &mut PgConnection,
    owner: &RoomOwner,
    room_name: &str,
    participant: &Participant,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let joined_at = instant(participant.joined_at).unwrap_or(at);
    let changed = sqlx::query(
        "INSERT INTO conference_participants (room_name, identity, org_id, present, joined_at, changed_at)
         VALUES ($1, $2, $3, true, $4, $5)
         ON CONFLICT (room_name, identity) DO UPDATE
             SET present = true, org_id = EXCLUDED.org_id, joined_at = EXCLUDED.joined_at,
                 changed_at = EXCLUDED.changed_at
             WHERE conference_participants.changed_at < EXCLUDED.changed_at",
    )
    .bind(room_name)
    .bind(&participant.identity)
    .bind(owner.org_id)
    .bind(joined_at)
    .bind(at)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        > 0;
    // The identity is the user id the conference token was minted for; anything else (a token
    // minted elsewhere) is not a user and is not counted as one.
    if let Ok(user_id) = participant.identity.parse::<i64>() {
        sqlx::query(
            "INSERT INTO conference_activity_days (org_id, day, user_id)
             SELECT $1, ($2::timestamptz AT TIME ZONE 'UTC')::date, u.id FROM users u WHERE u.id = $3
             ON CONFLICT DO NOTHING",
        )
        .bind(owner.org_id)
        .bind(at)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(changed)
}

/// The participant left the room at `at`. Returns the seconds they spent in it: from LiveKit's
/// `joined_at` when it reports one, else from the stored join; zero when neither is known.
pub async fn left(
    conn: &mut PgConnection,
    room_name: &str,
    participant: &Participant,
    at: DateTime<Utc>,
) -> Result<f64, sqlx::Error> {
    let stored: Option<DateTime<Utc>> = sqlx::query_scalar(
        "UPDATE conference_participants SET present = false, changed_at = $3
         WHERE room_name = $1 AND identity = $2 AND changed_at <= $3
         RETURNING joined_at",
    )
    .bind(room_name)
    .bind(&participant.identity)
    .bind(at)
    .fetch_optional(&mut *conn)
    .await?;
    let joined_at = instant(participant.joined_at).or(stored);
    Ok(joined_at.map_or(0.0, |joined| {
        ((at - joined).num_milliseconds().max(0) as f64) / 1000.0
    }))
}

/// The room closed at `at`: nobody is in it any more.
pub async fn room_finished(
    conn: &mut PgConnection,
    room_name: &str,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE conference_participants SET present = false, changed_at = $2
         WHERE room_name = $1 AND present AND changed_at <= $2",
    )
    .bind(room_name)
    .bind(at)
    .execute(conn)
    .await?
    .rows_affected())
}
