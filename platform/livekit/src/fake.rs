//! A local LiveKit server API for tests of any crate (Cargo feature `fake`): the Twirp
//! `livekit.Egress` service (StartRoomCompositeEgress, StopEgress, ListEgress) and
//! `livekit.RoomService` (ListRooms, ListParticipants, UpdateParticipant, RemoveParticipant), over protobuf — what
//! `livekit-api` sends — or JSON bodies. Like LiveKit, it refuses any request whose Bearer token
//! `livekit-api`'s own `TokenVerifier` rejects (key [`API_KEY`], secret [`API_SECRET`]) or that
//! lacks the grant the call needs (`roomRecord`; `roomAdmin` for the room asked about).

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use livekit_api::access_token::{TokenVerifier, VideoGrants};
use livekit_protocol as proto;
use poem::{
    handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    web::{Data, Path},
    EndpointExt, Request, Response, Route, Server,
};
use prost::Message;
use serde_json::json;

/// The API key the fake accepts.
pub const API_KEY: &str = "APIfakelivekit";
/// The API secret the fake accepts.
pub const API_SECRET: &str = "fake-livekit-secret-that-is-long-enough";

#[derive(Default)]
pub struct LiveKitState {
    seq: u32,
    /// Every egress, by id.
    pub egresses: BTreeMap<String, proto::EgressInfo>,
    /// Every accepted start request, in order.
    pub starts: Vec<proto::RoomCompositeEgressRequest>,
    /// Requests refused for their token.
    pub unauthenticated: u32,
    /// Pause before answering a start (widens race windows); `starts_received` counts the
    /// starts as they arrive.
    pub start_delay: Duration,
    pub starts_received: u32,
    /// Pause before answering a stop (a slow LiveKit); `stops_received` counts the stops as
    /// they arrive.
    pub stop_delay: Duration,
    pub stops_received: u32,
    /// The participants of each room the room service knows.
    pub rooms: BTreeMap<String, Vec<proto::ParticipantInfo>>,
    /// Room-service requests refused for their token.
    pub room_unauthenticated: u32,
    /// `(room, identity)` of every accepted RemoveParticipant, in order.
    pub removed: Vec<(String, String)>,
    /// Every accepted UpdateParticipant request, in order.
    pub updated: Vec<proto::UpdateParticipantRequest>,
    /// Answer this many of the next authorised room-service requests with a 500 (LiveKit down).
    pub room_failures: u32,
}

#[derive(Clone)]
pub struct FakeLiveKit {
    pub url: String,
    pub state: Arc<Mutex<LiveKitState>>,
}

fn twirp_error(status: StatusCode, code: &str, msg: &str) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(json!({"code": code, "msg": msg}).to_string())
}

fn decode<M: Message + Default + serde::de::DeserializeOwned>(json_body: bool, body: &[u8]) -> Option<M> {
    if json_body {
        serde_json::from_slice(body).ok()
    } else {
        M::decode(body).ok()
    }
}

fn encode<M: Message + serde::Serialize>(json_body: bool, message: &M) -> Response {
    if json_body {
        Response::builder()
            .content_type("application/json")
            .body(serde_json::to_vec(message).unwrap())
    } else {
        Response::builder()
            .content_type("application/protobuf")
            .body(message.encode_to_vec())
    }
}

/// Whether the request's Bearer token is one LiveKit accepts (`livekit-api`'s own verifier, our
/// key and secret) and its video grant passes `check`.
fn granted(req: &Request, check: impl FnOnce(&VideoGrants) -> bool) -> bool {
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default();
    TokenVerifier::with_api_key(API_KEY, API_SECRET)
        .verify(token)
        .is_ok_and(|claims| check(&claims.video))
}

#[handler]
async fn twirp(
    Path(method): Path<String>,
    req: &Request,
    body: Vec<u8>,
    Data(state): Data<&Arc<Mutex<LiveKitState>>>,
) -> Response {
    if !granted(req, |video| video.room_record) {
        state.lock().unwrap().unauthenticated += 1;
        return twirp_error(StatusCode::UNAUTHORIZED, "unauthenticated", "invalid token");
    }
    let json_body = req
        .content_type()
        .is_some_and(|c| c.starts_with("application/json"));
    match method.as_str() {
        "StartRoomCompositeEgress" => {
            let Some(request) = decode::<proto::RoomCompositeEgressRequest>(json_body, &body) else {
                return twirp_error(StatusCode::BAD_REQUEST, "malformed", "bad body");
            };
            let delay = {
                let mut state = state.lock().unwrap();
                state.starts_received += 1;
                state.start_delay
            };
            tokio::time::sleep(delay).await;
            if request.room_name.is_empty() || request.file_outputs.is_empty() {
                return twirp_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_argument",
                    "room and output required",
                );
            }
            let mut state = state.lock().unwrap();
            state.seq += 1;
            let info = proto::EgressInfo {
                egress_id: format!("EG_fake{:04}", state.seq),
                room_name: request.room_name.clone(),
                status: proto::EgressStatus::EgressStarting as i32,
                started_at: now_ns(),
                ..Default::default()
            };
            state.egresses.insert(info.egress_id.clone(), info.clone());
            state.starts.push(request);
            encode(json_body, &info)
        }
        "StopEgress" => {
            let Some(request) = decode::<proto::StopEgressRequest>(json_body, &body) else {
                return twirp_error(StatusCode::BAD_REQUEST, "malformed", "bad body");
            };
            let delay = {
                let mut state = state.lock().unwrap();
                state.stops_received += 1;
                state.stop_delay
            };
            tokio::time::sleep(delay).await;
            let mut state = state.lock().unwrap();
            let Some(info) = state.egresses.get_mut(&request.egress_id) else {
                return twirp_error(StatusCode::NOT_FOUND, "not_found", "egress not found");
            };
            let status = info.status;
            if status != proto::EgressStatus::EgressStarting as i32
                && status != proto::EgressStatus::EgressActive as i32
            {
                return twirp_error(
                    StatusCode::PRECONDITION_FAILED,
                    "failed_precondition",
                    "egress is not active",
                );
            }
            info.status = proto::EgressStatus::EgressEnding as i32;
            info.updated_at = now_ns();
            let info = info.clone();
            encode(json_body, &info)
        }
        "ListEgress" => {
            let Some(request) = decode::<proto::ListEgressRequest>(json_body, &body) else {
                return twirp_error(StatusCode::BAD_REQUEST, "malformed", "bad body");
            };
            let state = state.lock().unwrap();
            let items = state
                .egresses
                .values()
                .filter(|e| request.egress_id.is_empty() || e.egress_id == request.egress_id)
                .filter(|e| request.room_name.is_empty() || e.room_name == request.room_name)
                .cloned()
                .collect();
            encode(
                json_body,
                &proto::ListEgressResponse {
                    items,
                    ..Default::default()
                },
            )
        }
        _ => twirp_error(StatusCode::NOT_FOUND, "bad_route", "no such method"),
    }
}

/// The Twirp `livekit.RoomService`: ListParticipants, UpdateParticipant and RemoveParticipant
/// want, like LiveKit, a
/// token with the `roomAdmin` grant for the very room asked about; ListRooms the `roomList` grant.
#[handler]
async fn room_service(
    Path(method): Path<String>,
    req: &Request,
    body: Vec<u8>,
    Data(state): Data<&Arc<Mutex<LiveKitState>>>,
) -> Response {
    let json_body = req
        .content_type()
        .is_some_and(|c| c.starts_with("application/json"));
    if method == "ListRooms" {
        if !granted(req, |video| video.room_list) {
            state.lock().unwrap().room_unauthenticated += 1;
            return twirp_error(StatusCode::UNAUTHORIZED, "unauthenticated", "invalid token");
        }
        let state = state.lock().unwrap();
        let mut names: Vec<&String> = state.rooms.keys().collect();
        names.sort();
        let rooms = names
            .into_iter()
            .map(|name| proto::Room {
                name: name.clone(),
                ..Default::default()
            })
            .collect();
        return encode(json_body, &proto::ListRoomsResponse { rooms });
    }
    let room = match method.as_str() {
        "ListParticipants" => decode::<proto::ListParticipantsRequest>(json_body, &body).map(|r| r.room),
        "RemoveParticipant" => decode::<proto::RoomParticipantIdentity>(json_body, &body).map(|r| r.room),
        "UpdateParticipant" => decode::<proto::UpdateParticipantRequest>(json_body, &body).map(|r| r.room),
        _ => return twirp_error(StatusCode::NOT_FOUND, "bad_route", "no such method"),
    };
    let Some(room) = room else {
        return twirp_error(StatusCode::BAD_REQUEST, "malformed", "bad body");
    };
    let authorized = granted(req, |video| video.room_admin && video.room == room);
    let mut state = state.lock().unwrap();
    if !authorized {
        state.room_unauthenticated += 1;
        return twirp_error(StatusCode::UNAUTHORIZED, "unauthenticated", "invalid token");
    }
    if state.room_failures > 0 {
        state.room_failures -= 1;
        return twirp_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "LiveKit is down");
    }
    if method == "UpdateParticipant" {
        let request = decode::<proto::UpdateParticipantRequest>(json_body, &body).unwrap_or_default();
        let Some(participant) = state
            .rooms
            .get_mut(&room)
            .and_then(|people| people.iter_mut().find(|p| p.identity == request.identity))
        else {
            return twirp_error(StatusCode::NOT_FOUND, "not_found", "participant not found");
        };
        // As LiveKit: an empty metadata or name leaves it as it is.
        if !request.metadata.is_empty() {
            participant.metadata = request.metadata.clone();
        }
        if request.permission.is_some() {
            participant.permission = request.permission.clone();
        }
        let info = participant.clone();
        state.updated.push(request);
        return encode(json_body, &info);
    }
    if method == "RemoveParticipant" {
        let identity = decode::<proto::RoomParticipantIdentity>(json_body, &body)
            .map(|r| r.identity)
            .unwrap_or_default();
        state.removed.push((room.clone(), identity.clone()));
        let Some(participants) = state.rooms.get_mut(&room) else {
            return twirp_error(StatusCode::NOT_FOUND, "not_found", "room not found");
        };
        let before = participants.len();
        participants.retain(|p| p.identity != identity);
        if participants.len() == before {
            return twirp_error(StatusCode::NOT_FOUND, "not_found", "participant not found");
        }
        return encode(json_body, &proto::RemoveParticipantResponse::default());
    }
    match state.rooms.get(&room) {
        Some(participants) => encode(
            json_body,
            &proto::ListParticipantsResponse {
                participants: participants.clone(),
            },
        ),
        None => twirp_error(StatusCode::NOT_FOUND, "not_found", "room not found"),
    }
}

pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

impl FakeLiveKit {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(LiveKitState::default()));
        let app = Route::new()
            .at("/twirp/livekit.Egress/:method", poem::post(twirp))
            .at("/twirp/livekit.RoomService/:method", poem::post(room_service))
            .data(state.clone());
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
        let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
        tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
        Self {
            url: format!("ws://{addr}"),
            state,
        }
    }

    /// What LiveKit reports for an egress from now on.
    pub fn set(&self, egress_id: &str, change: impl FnOnce(&mut proto::EgressInfo)) {
        let mut state = self.state.lock().unwrap();
        change(state.egresses.get_mut(egress_id).expect("a known egress"));
    }

    /// The `--livekit-*` arguments of an app talking to this server.
    pub fn args(&self) -> [String; 6] {
        [
            "--livekit-url".into(),
            self.url.clone(),
            "--livekit-api-key".into(),
            API_KEY.into(),
            "--livekit-api-secret".into(),
            API_SECRET.into(),
        ]
    }

    /// Who the room service says is in `room` from now on (`None`: LiveKit has no such room).
    pub fn set_room(&self, room: &str, people: Option<&[(&str, proto::participant_info::Kind)]>) {
        let mut state = self.state.lock().unwrap();
        match people {
            None => {
                state.rooms.remove(room);
            }
            Some(people) => {
                let participants = people
                    .iter()
                    .map(|(identity, kind)| proto::ParticipantInfo {
                        identity: (*identity).into(),
                        kind: *kind as i32,
                        joined_at: now_ns() / 1_000_000_000 - 60,
                        ..Default::default()
                    })
                    .collect();
                state.rooms.insert(room.to_owned(), participants);
            }
        }
    }
}
