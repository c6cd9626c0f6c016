//! What participant and room webhooks change: who is in each space's conference now (the spaces
//! feature's occupancy, written through `qubital_spaces::occupancy`) and who was active on which
//! day (`conference_activity_days`, for weekly/monthly active users). Each function runs inside
//! the webhook's transaction, after its event id was recorded, so a redelivery never gets here.

use chrono::{DateTime, Utc};
use platform_livekit::webhook::Participant;
use qubital_spaces::occupancy::{self, ConferenceRoom};
use sqlx::PgConnection;

fn instant(unix_seconds: i64) -> Option<DateTime<Utc>> {
    (unix_seconds > 0)
        .then(|| DateTime::from_timestamp(unix_seconds, 0))
        .flatten()
}

/// The identity is the user id the conference token was minted for; anything else (a token
/// minted elsewhere, a guest) is not a user and is not counted as one.
fn user_of(participant: &Participant) -> Option<i64> {
    participant.identity.parse().ok()
}

/// The participant is in the room from `at`, and active that day. Returns whether the
/// occupancy changed (older news does not change it).
pub async fn joined(
    conn: &mut PgConnection,
    room: &ConferenceRoom,
    participant: &Participant,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let joined_at = instant(participant.joined_at).unwrap_or(at);
    let user = user_of(participant);
    let changed = occupancy::joined(conn, room, &participant.identity, user, joined_at, at).await?;
    if let Some(user_id) = user {
        sqlx::query(
            "INSERT INTO conference_activity_days (org_id, day, user_id)
             SELECT $1, ($2::timestamptz AT TIME ZONE 'UTC')::date, u.id FROM users u WHERE u.id = $3
             ON CONFLICT DO NOTHING",
        )
        .bind(room.org_id)
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
    room: &ConferenceRoom,
    participant: &Participant,
    at: DateTime<Utc>,
) -> Result<f64, sqlx::Error> {
    let stored = occupancy::left(conn, room, &participant.identity, at).await?;
    let joined_at = instant(participant.joined_at).or(stored);
    Ok(joined_at.map_or(0.0, |joined| {
        ((at - joined).num_milliseconds().max(0) as f64) / 1000.0
    }))
}
