//! The room service, on `livekit-api`'s `RoomClient`: who is in a room now, and disconnecting
//! someone from it. The client signs a per-request token with the `roomAdmin` grant for that
//! room, as LiveKit's server expects.

use livekit_api::services::room::RoomClient;

use crate::{webhook::Participant, LiveKit, ServerApiError};

impl LiveKit {
    fn room_client(&self) -> Result<RoomClient, ServerApiError> {
        let credentials = self.credentials()?;
        Ok(RoomClient::with_api_key(
            &credentials.api_url,
            &credentials.api_key,
            &credentials.api_secret,
        )
        .with_failover(false)
        .with_request_timeout(crate::REQUEST_TIMEOUT))
    }

    /// How many rooms are open (ListRooms): the harmless call `qubital check` makes.
    pub async fn count_rooms(&self) -> Result<usize, ServerApiError> {
        let rooms = self
            .room_client()?
            .list_rooms(Vec::new())
            .await
            .map_err(ServerApiError::from)?;
        Ok(rooms.len())
    }

    /// The people in `room` now (the recorder, ingress, SIP and agent participants are not
    /// people). A room LiveKit does not know has nobody in it.
    pub async fn people_in_room(&self, room: &str) -> Result<Vec<Participant>, ServerApiError> {
        let participants = match self.room_client()?.list_participants(room).await {
            Ok(participants) => participants,
            Err(error) => match ServerApiError::from(error) {
                ServerApiError::NotFound => return Ok(Vec::new()),
                other => return Err(other),
            },
        };
        Ok(participants.iter().filter_map(Participant::from_info).collect())
    }

    /// Disconnects `identity` from `room` now (RemoveParticipant). `Ok(false)` when it is not
    /// there (or the room is gone): nothing to do.
    pub async fn remove_participant(&self, room: &str, identity: &str) -> Result<bool, ServerApiError> {
        match self.room_client()?.remove_participant(room, identity).await {
            Ok(()) => Ok(true),
            Err(error) => match ServerApiError::from(error) {
                ServerApiError::NotFound => Ok(false),
                other => Err(other),
            },
        }
    }
}
