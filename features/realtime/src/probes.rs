//! What `qubital check` asks LiveKit: the open rooms (ListRooms), which shows the API key and
//! secret are accepted by the server API.

use platform_livekit::LiveKit;
use qubital_plugin::{AppContext, Probe, Probed};

pub const LIVEKIT: Probe = qubital_plugin::probe!("livekit", list_rooms);

async fn list_rooms(ctx: &AppContext) -> Probed {
    let livekit = ctx.get::<LiveKit>();
    if !livekit.is_enabled() {
        return Probed::Disabled("LIVEKIT_URL, LIVEKIT_API_KEY or LIVEKIT_API_SECRET is unset".into());
    }
    match livekit.count_rooms().await {
        Ok(count) => Probed::Ok(format!("listed rooms ({count} open)")),
        Err(error) => Probed::Failed(error.to_string()),
    }
}
