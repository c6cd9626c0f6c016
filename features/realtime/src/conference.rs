//! Minting a conference token for one space: the one place that turns a participant and a role
//! into a LiveKit token (`/realtime/conference-token` uses it for members, the guests feature
//! for an admitted guest). And the other end of a role: when a member's role changes, what they
//! may do in the conferences they are connected to changes now ([`apply_role`]), not only with
//! their next token.

use std::{sync::OnceLock, time::Duration};

use chrono::{DateTime, TimeZone, Utc};
use platform_livekit::{LiveKit, LiveKitError, ParticipantToken};
use prometheus_client::{encoding::EncodeLabelSet, metrics::counter::Counter, metrics::family::Family};
use qubital_auth::directory;
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

/// The metadata of a member's participant: `{userId, organizationId, role}` (the user's id, the
/// public id of the organization, the role there). Shown to the other participants; the
/// participant cannot rewrite it.
pub fn member_metadata(user: &directory::Participant, role: Role) -> String {
    serde_json::json!({
        "userId": user.id,
        "organizationId": user.organization_id,
        "role": role,
    })
    .to_string()
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LiveChangeLabels {
    /// `update` (a role changed) or `remove` (a member removed).
    action: &'static str,
}

fn failed_live_changes() -> &'static Family<LiveChangeLabels, Counter> {
    static FAILED: OnceLock<Family<LiveChangeLabels, Counter>> = OnceLock::new();
    FAILED.get_or_init(|| {
        let family = Family::default();
        qubital_plugin::metrics::register(
            "conference_live_changes_failed",
            "Role changes and removals that could not be applied to a live conference connection (the token lifetime bounds them)",
            family.clone(),
        );
        family
    })
}

/// Counts a change of a member (`update`, `remove`) that LiveKit did not take for a connection
/// (logged by the caller): the participant keeps what its token granted until the token expires.
pub fn count_failed_live_change(action: &'static str) {
    failed_live_changes()
        .get_or_create(&LiveChangeLabels { action })
        .inc();
}

/// The LiveKit client, when the conference is configured here.
pub fn livekit(ctx: &AppContext) -> Option<LiveKit> {
    ctx.try_get::<RealtimeState>()
        .map(|state| state.livekit.clone())
        .filter(LiveKit::is_enabled)
}

/// After `user_id`'s role in `org_id` changed to `role` (committed): every connection they hold
/// to a conference of the organization gets that role's grants and metadata now
/// (UpdateParticipant), instead of keeping the old role's until their token expires.
///
/// Best effort, in the background, never inside a transaction: LiveKit being slow or down must
/// not fail or delay the change. A failure is logged and counted
/// (`qubital_conference_live_changes_failed_total{action="update"}`), not retried: the
/// participant's token lifetime (`CONFERENCE_TOKEN_TTL_SECS`, 10 minutes by default) bounds
/// the old grants, and the next token carries the new role. LiveKit's participant permission has
/// no room-admin flag, so a demoted moderator's token keeps `roomAdmin` until it expires (the
/// same bound); what they publish and the role the others see change at once.
pub async fn apply_role(ctx: &AppContext, org_id: i64, user_id: i64, role: Role) {
    let Some(livekit) = livekit(ctx) else {
        return;
    };
    let spaces = match qubital_spaces::occupancy::spaces_occupied_by(ctx.db(), org_id, user_id).await {
        Ok(spaces) => spaces,
        Err(error) => {
            tracing::warn!(%error, user_id, "could not read where a member whose role changed is");
            count_failed_live_change("update");
            return;
        }
    };
    if spaces.is_empty() {
        return;
    }
    let user = directory::participant(ctx.db(), user_id, org_id).await.ok();
    // Without the profile the metadata stays as it is; the permissions change anyway.
    let metadata = user.map(|user| member_metadata(&user, role)).unwrap_or_default();
    let grants = crate::api::conference_grants(role);
    tokio::spawn(async move {
        let identity = user_id.to_string();
        for space in spaces {
            match livekit
                .update_participant(&space.to_string(), &identity, &grants, &metadata)
                .await
            {
                Ok(true) => {
                    tracing::info!(user_id, space_id = %space, role = role.as_str(), "a member's live conference grants follow their new role")
                }
                Ok(false) => {}
                Err(error) => {
                    count_failed_live_change("update");
                    tracing::warn!(%error, user_id, space_id = %space, "could not apply a member's new role to their conference connection")
                }
            }
        }
    });
}
