//! The room service, on `livekit-api`'s `RoomClient`: who is in a room now, changing what a
//! connected participant may do, and disconnecting someone from it. The client signs a per-request token with the `roomAdmin` grant for that
//! room, as LiveKit's server expects.

use livekit_api::services::room::{RoomClient, UpdateParticipantOptions};
use livekit_protocol as proto;

use crate::{webhook::Participant, LiveKit, ParticipantGrants, ServerApiError, TrackSource};

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

    /// Changes what `identity`, connected to `room` now, may do (UpdateParticipant): its publish
    /// and subscribe permissions become `grants`', and its metadata `metadata` (`""` leaves the
    /// metadata as it is). `Ok(false)` when it is not there (or the room is gone).
    ///
    /// LiveKit's participant permission has no room-admin flag: a `room_admin` grant of a token
    /// already issued lasts until the token expires, whatever this says.
    pub async fn update_participant(
        &self,
        room: &str,
        identity: &str,
        grants: &ParticipantGrants,
        metadata: &str,
    ) -> Result<bool, ServerApiError> {
        let options = UpdateParticipantOptions {
            metadata: metadata.to_owned(),
            permission: Some(permission(grants)),
            ..UpdateParticipantOptions::default()
        };
        match self
            .room_client()?
            .update_participant(room, identity, options)
            .await
        {
            Ok(_) => Ok(true),
            Err(error) => match ServerApiError::from(error) {
                ServerApiError::NotFound => Ok(false),
                other => Err(other),
            },
        }
    }
}

/// LiveKit's participant permission for `grants` (the same publish rule as a token's).
pub fn permission(grants: &ParticipantGrants) -> proto::ParticipantPermission {
    let source = |s: &TrackSource| match s {
        TrackSource::Camera => proto::TrackSource::Camera,
        TrackSource::Microphone => proto::TrackSource::Microphone,
        TrackSource::ScreenShare => proto::TrackSource::ScreenShare,
        TrackSource::ScreenShareAudio => proto::TrackSource::ScreenShareAudio,
    } as i32;
    proto::ParticipantPermission {
        can_subscribe: grants.can_subscribe,
        can_publish: grants.can_publish_sources.as_ref().is_none_or(|s| !s.is_empty()),
        can_publish_data: grants.can_publish_data,
        can_publish_sources: grants.can_publish_sources.iter().flatten().map(source).collect(),
        can_update_metadata: grants.can_update_own_metadata,
        ..proto::ParticipantPermission::default()
    }
}
