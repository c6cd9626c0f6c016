//! What participant events change: who is in each space's conference now (the spaces feature's
//! occupancy, written through `qubital_spaces::occupancy`) and who was active on which day
//! (`conference_activity_days`, for weekly/monthly active users). Each function runs inside
//! the caller's transaction: the webhook's, after its event id was recorded, so a redelivery
//! never gets here; or a reconcile pass's.

use chrono::{DateTime, Utc};
use platform_livekit::webhook::Participant;
use qubital_spaces::occupancy::{self, ConferenceRoom};
use sqlx::PgConnection;

use crate::store;

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
    // Recording the day also tells whether the identity names a user who exists, which the
    // occupant's row needs to know (it references the user).
    let user = match user_of(participant) {
        Some(user_id) if store::conference::record_activity(conn, room.org_id, user_id, at).await? => {
            Some(user_id)
        }
        _ => None,
    };
    occupancy::joined(conn, room, &participant.identity, user, joined_at, at).await
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
