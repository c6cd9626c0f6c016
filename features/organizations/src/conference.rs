//! Removing a member disconnects them from the organization's conferences they are in: where
//! they are is the spaces feature's occupancy; the LiveKit client is provided by the realtime
//! feature (when it is linked and configured).

use platform_livekit::LiveKit;
use qubital_plugin::AppContext;
use qubital_spaces::occupancy;

/// Disconnects a removed member from the organization's conferences they are in now. Their
/// sessions have ended, so they cannot get a new conference token; this ends the connection they
/// hold. Best effort, in the background: LiveKit being slow or down must not fail or delay the
/// removal (it is logged). Nothing to do when the conference is not configured.
pub async fn disconnect_from_conferences(ctx: &AppContext, org_id: i64, user_id: i64) {
    let Some(livekit) = ctx.try_get::<LiveKit>().filter(|l| l.is_enabled()).cloned() else {
        return;
    };
    let spaces = match occupancy::spaces_occupied_by(ctx.db(), org_id, user_id).await {
        Ok(spaces) => spaces,
        Err(error) => {
            tracing::warn!(%error, user_id, "could not read where a removed member is");
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
                    tracing::warn!(%error, user_id, space_id = %space, "could not disconnect a removed member")
                }
            }
        }
    });
}
