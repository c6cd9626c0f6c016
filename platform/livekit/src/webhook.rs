//! Webhook deliveries: verified with `livekit-api`'s `WebhookReceiver` (the `Authorization` JWT
//! signed with the API secret, `iss` = the API key, whose `sha256` claim is the body's) and
//! decoded into the few events the backend follows. The protobuf shapes stay in this crate.

use livekit_api::{access_token::TokenVerifier, webhooks::WebhookReceiver};
use livekit_protocol as proto;

use crate::{egress::Egress, LiveKit, TrackSource};

/// Why a webhook delivery was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookRejected {
    #[error("LiveKit is not configured")]
    Disabled,
    /// Missing, wrong or tampered signature.
    #[error("invalid webhook signature: {0}")]
    Signature(String),
    /// Signed, but not a webhook event (or one without an id or a name).
    #[error("malformed webhook body: {0}")]
    Malformed(String),
}

/// A verified delivery.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// LiveKit's event id: a redelivery carries the same one.
    pub id: String,
    /// LiveKit's event name (`participant_joined`, `egress_ended`…), for logs and metrics.
    pub name: String,
    /// Unix seconds at which LiveKit emitted it (0 when absent).
    pub created_at: i64,
    pub event: ConferenceEvent,
}

/// Who a participant event is about. Only people count: the recorder, ingress, SIP and agent
/// participants LiveKit also reports are not users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    /// The identity the token was minted for (the backend's user id).
    pub identity: String,
    /// Unix seconds at which the participant joined (0 when absent).
    pub joined_at: i64,
}

/// The events the backend follows.
#[derive(Clone, Debug, PartialEq)]
pub enum ConferenceEvent {
    /// `egress_started`, `egress_updated`, `egress_ended`.
    Egress(Egress),
    ParticipantJoined {
        room: String,
        participant: Participant,
    },
    ParticipantLeft {
        room: String,
        participant: Participant,
    },
    /// `track_published`; `source` is `None` when LiveKit reports an unknown source.
    TrackPublished {
        room: String,
        participant: Participant,
        source: Option<TrackSource>,
    },
    /// `room_finished`: everyone is gone.
    RoomFinished {
        room: String,
    },
    /// Anything else (room started, track unpublished, ingress…), or a followed event without
    /// the part it is about, or about a participant that is not a person.
    Other,
}

impl ConferenceEvent {
    /// The LiveKit room the event is about, if any.
    pub fn room(&self) -> Option<&str> {
        match self {
            ConferenceEvent::Egress(egress) => Some(egress.room.as_str()).filter(|r| !r.is_empty()),
            ConferenceEvent::ParticipantJoined { room, .. }
            | ConferenceEvent::ParticipantLeft { room, .. }
            | ConferenceEvent::TrackPublished { room, .. }
            | ConferenceEvent::RoomFinished { room } => Some(room),
            ConferenceEvent::Other => None,
        }
    }
}

fn room_name(event: &proto::WebhookEvent) -> Option<String> {
    event
        .room
        .as_ref()
        .map(|room| room.name.clone())
        .filter(|name| !name.is_empty())
}

fn person(event: &proto::WebhookEvent) -> Option<Participant> {
    event.participant.as_ref().and_then(Participant::from_info)
}

impl Participant {
    /// The participant, if it is a person with an identity.
    pub(crate) fn from_info(participant: &proto::ParticipantInfo) -> Option<Participant> {
        let standard = participant.kind == proto::participant_info::Kind::Standard as i32;
        (standard && !participant.identity.is_empty()).then(|| Participant {
            identity: participant.identity.clone(),
            joined_at: if participant.joined_at > 0 {
                participant.joined_at
            } else {
                participant.joined_at_ms / 1000
            },
        })
    }
}

fn track_source(source: i32) -> Option<TrackSource> {
    match proto::TrackSource::try_from(source).ok()? {
        proto::TrackSource::Camera => Some(TrackSource::Camera),
        proto::TrackSource::Microphone => Some(TrackSource::Microphone),
        proto::TrackSource::ScreenShare => Some(TrackSource::ScreenShare),
        proto::TrackSource::ScreenShareAudio => Some(TrackSource::ScreenShareAudio),
        proto::TrackSource::Unknown => None,
    }
}

impl From<proto::WebhookEvent> for ConferenceEvent {
    fn from(event: proto::WebhookEvent) -> Self {
        let about = |event: &proto::WebhookEvent| Some((room_name(event)?, person(event)?));
        match event.event.as_str() {
            "egress_started" | "egress_updated" | "egress_ended" => match event.egress_info {
                Some(info) => ConferenceEvent::Egress(info.into()),
                None => ConferenceEvent::Other,
            },
            "participant_joined" => match about(&event) {
                Some((room, participant)) => ConferenceEvent::ParticipantJoined { room, participant },
                None => ConferenceEvent::Other,
            },
            "participant_left" => match about(&event) {
                Some((room, participant)) => ConferenceEvent::ParticipantLeft { room, participant },
                None => ConferenceEvent::Other,
            },
            "track_published" => match (about(&event), event.track.as_ref()) {
                (Some((room, participant)), Some(track)) => ConferenceEvent::TrackPublished {
                    room,
                    participant,
                    source: track_source(track.source),
                },
                _ => ConferenceEvent::Other,
            },
            "room_finished" => match room_name(&event) {
                Some(room) => ConferenceEvent::RoomFinished { room },
                None => ConferenceEvent::Other,
            },
            _ => ConferenceEvent::Other,
        }
    }
}

impl LiveKit {
    /// Verifies a webhook delivery and decodes its event.
    pub fn verify_webhook(&self, body: &str, authorization: &str) -> Result<Delivery, WebhookRejected> {
        let credentials = self.credentials().map_err(|_| WebhookRejected::Disabled)?;
        let token = authorization
            .strip_prefix("Bearer ")
            .unwrap_or(authorization)
            .trim();
        let event = WebhookReceiver::new(TokenVerifier::with_api_key(
            &credentials.api_key,
            &credentials.api_secret,
        ))
        .receive(body, token)
        .map_err(|error| match error {
            livekit_api::webhooks::WebhookError::InvalidData(error) => {
                WebhookRejected::Malformed(error.to_string())
            }
            other => WebhookRejected::Signature(other.to_string()),
        })?;
        if event.id.is_empty() || event.event.is_empty() {
            return Err(WebhookRejected::Malformed(
                "an event needs an id and a name".into(),
            ));
        }
        Ok(Delivery {
            id: event.id.clone(),
            name: event.event.clone(),
            created_at: event.created_at,
            event: event.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn participant(kind: proto::participant_info::Kind) -> proto::ParticipantInfo {
        proto::ParticipantInfo {
            identity: "42".into(),
            joined_at: 1_700_000_000,
            kind: kind as i32,
            ..Default::default()
        }
    }

    fn event(name: &str) -> proto::WebhookEvent {
        proto::WebhookEvent {
            id: "EV_1".into(),
            event: name.into(),
            room: Some(proto::Room {
                name: "space".into(),
                ..Default::default()
            }),
            participant: Some(participant(proto::participant_info::Kind::Standard)),
            track: Some(proto::TrackInfo {
                source: proto::TrackSource::ScreenShare as i32,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn participant_events_name_the_room_and_the_person() {
        let expected = Participant {
            identity: "42".into(),
            joined_at: 1_700_000_000,
        };
        assert_eq!(
            ConferenceEvent::from(event("participant_joined")),
            ConferenceEvent::ParticipantJoined {
                room: "space".into(),
                participant: expected.clone()
            }
        );
        assert_eq!(
            ConferenceEvent::from(event("track_published")),
            ConferenceEvent::TrackPublished {
                room: "space".into(),
                participant: expected,
                source: Some(TrackSource::ScreenShare)
            }
        );
    }

    #[test]
    fn the_recorder_and_other_non_people_are_not_participants() {
        let mut joined = event("participant_joined");
        joined.participant = Some(participant(proto::participant_info::Kind::Egress));
        assert_eq!(ConferenceEvent::from(joined), ConferenceEvent::Other);
        let mut no_room = event("participant_left");
        no_room.room = None;
        assert_eq!(ConferenceEvent::from(no_room), ConferenceEvent::Other);
        assert_eq!(
            ConferenceEvent::from(event("room_started")),
            ConferenceEvent::Other
        );
    }

    #[test]
    fn joined_at_falls_back_to_milliseconds() {
        let mut joined = event("participant_joined");
        joined.participant = Some(proto::ParticipantInfo {
            identity: "7".into(),
            joined_at_ms: 1_700_000_123_456,
            ..Default::default()
        });
        match ConferenceEvent::from(joined) {
            ConferenceEvent::ParticipantJoined { participant, .. } => {
                assert_eq!(participant.joined_at, 1_700_000_123)
            }
            other => panic!("{other:?}"),
        }
    }
}
