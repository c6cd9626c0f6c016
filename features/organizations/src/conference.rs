//! Removing a member disconnects them from the organization's conferences they are in: where
//! they are is the spaces feature's occupancy; the LiveKit client is provided by the realtime
//! feature (when it is linked and configured). A role change is the realtime feature's
//! (`qubital_realtime::conference::apply_role`), which knows the grants of a role.

use qubital_plugin::AppContext;
use qubital_realtime::conference::{count_failed_live_change, livekit};
use qubital_spaces::occupancy;

/// Disconnects a removed member from the organization's conferences they are in now. Their
/// sessions have ended, so they cannot get a new conference token; this ends the connection they
/// hold. Best effort, in the background: LiveKit being slow or down must not fail or delay the
/// removal (it is logged and counted, `qubital_conference_live_changes_failed_total{action=
/// "remove"}`, not retried: their token lifetime bounds the connection, and they can get no new
/// token). Nothing to do when the conference is not configured.
pub async fn disconnect_from_conferences(ctx: &AppContext, org_id: i64, user_id: i64) {
    let Some(livekit) = livekit(ctx) else {
        return;
    };
    let spaces = match occupancy::spaces_occupied_by(ctx.db(), org_id, user_id).await {
        Ok(spaces) => spaces,
        Err(error) => {
            tracing::warn!(%error, user_id, "could not read where a removed member is");
            count_failed_live_change("remove");
            return;
        }
    };
    if spaces.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let identity = user_id.to_string();
        for space in spaces {
            match livekit.remove_participant(&space.to_string(), &identity).await {
                Ok(true) => {
                    tracing::info!(user_id, space_id = %space, "removed member disconnected from the conference")
                }
                Ok(false) => {}
                Err(error) => {
                    count_failed_live_change("remove");
                    tracing::warn!(%error, user_id, space_id = %space, "could not disconnect a removed member")
                }
            }
        }
    });
}
