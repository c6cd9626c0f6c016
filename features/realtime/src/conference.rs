//! Minting a conference token for one space: the one place that turns a participant and a role
//! into a LiveKit token (`/realtime/conference-token` uses it for members, the guests feature
//! for an admitted guest).

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use platform_livekit::{LiveKitError, ParticipantToken};
use qubital_plugin::{auth::Role, AppContext, Problem};

use crate::{api::conference_grants, settings::RealtimeState};

/// Who joins the conference, as the other participants see them.
#[derive(Clone, Copy, Debug)]
pub struct Participant<'a> {
    /// Unique in the room (a user id, or a guest's own prefixed id).
    pub identity: &'a str,
    pub name: &'a str,
    /// JSON shown to the other participants (the participant cannot rewrite it).
    pub metadata: &'a str,
    /// The grants are the role's ([`conference_grants`]).
    pub role: Role,
}

/// A conference token and where to use it.
#[derive(Clone, Debug)]
pub struct ConferenceAccess {
    pub token: String,
    /// The conference server to connect to with `token`.
    pub url: String,
    /// The token's `exp`.
    pub expires_at: DateTime<Utc>,
}

/// A token admitting `participant` to the conference of the space `space_id` (the room is the
/// space's id, and only that room), with the grants of its role, for the configured lifetime
/// (`CONFERENCE_TOKEN_TTL_SECS`) but never past `not_after` (its `exp` is at most `not_after`).
///
/// `503 integration-disabled` when the conference is not configured (or the realtime feature is
/// not linked); `500` when `not_after` is less than a second away (the caller checks expiry
/// first).
pub fn mint(
    ctx: &AppContext,
    space_id: uuid::Uuid,
    participant: Participant<'_>,
    not_after: Option<DateTime<Utc>>,
) -> Result<ConferenceAccess, Problem> {
    let Some(state) = ctx.try_get::<RealtimeState>().filter(|s| s.livekit.is_enabled()) else {
        return Err(Problem::integration_disabled("The conference service"));
    };
    let mut ttl = state.conference_ttl;
    if let Some(not_after) = not_after {
        // Whole seconds, one second short: the token's clock may read the next second.
        let left = not_after.timestamp() - Utc::now().timestamp() - 1;
        if left < 1 {
            return Err(Problem::internal(
                "a conference token was asked for past its limit",
            ));
        }
        ttl = ttl.min(Duration::from_secs(left as u64));
    }
    let room = space_id.to_string();
    let issued = state
        .livekit
        .participant_token(&ParticipantToken {
            room: &room,
            identity: participant.identity,
            name: participant.name,
            metadata: participant.metadata,
            grants: conference_grants(participant.role),
            ttl,
        })
        .map_err(|error| match error {
            LiveKitError::Disabled => Problem::integration_disabled("The conference service"),
            other => Problem::internal(other),
        })?;
    let expires_at = Utc
        .timestamp_opt(issued.expires_at as i64, 0)
        .single()
        .ok_or_else(|| Problem::internal("token expiry out of range"))?;
    if not_after.is_some_and(|limit| expires_at > limit) {
        return Err(Problem::internal("a conference token would outlive its limit"));
    }
    Ok(ConferenceAccess {
        token: issued.jwt,
        url: state.livekit.url().map_err(Problem::internal)?.to_owned(),
        expires_at,
    })
}
