//! A local LiveKit server API for the recordings tests: the Twirp `livekit.Egress` service
//! (start room-composite, stop, list) over protobuf or JSON bodies, which refuses any request
//! whose Bearer token `livekit-api`'s own verifier rejects or that lacks the `roomRecord` grant,
//! as LiveKit does. Plus signed-in clients.

#![allow(dead_code, unused_imports)] // each test binary uses part of it

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::Engine;
use platform_livekit::{
    livekit_api::access_token::{AccessToken, TokenVerifier, VideoGrants},
    livekit_protocol as proto,
};
use platform_storage::fake::LocalS3;
use poem::{
    handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    web::{Data, Path},
    EndpointExt, Request, Response, Route, Server,
};
use prost::Message;
pub use qubital_auth::test_support::{self, problem_type, read};
use qubital_testkit::{TestApp, TestAppBuilder};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const LIVEKIT_KEY: &str = "APIrecordings";
pub const LIVEKIT_SECRET: &str = "recordings-test-secret-that-is-long-enough";

#[derive(Default)]
pub struct Egresses {
    seq: u32,
    /// Every egress, by id.
    pub egresses: BTreeMap<String, proto::EgressInfo>,
    /// Every accepted start request, in order.
    pub starts: Vec<proto::RoomCompositeEgressRequest>,
    /// Requests refused for their token.
    pub unauthenticated: u32,
    /// Pause before answering a start (widens race windows).
    pub start_delay: Duration,
    /// The participants of each room the room service knows.
    pub rooms: BTreeMap<String, Vec<proto::ParticipantInfo>>,
    /// Room-service requests refused for their token.
    pub room_unauthenticated: u32,
}

#[derive(Clone)]
pub struct FakeLiveKit {
    pub url: String,
    pub state: Arc<Mutex<Egresses>>,
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
    TokenVerifier::with_api_key(LIVEKIT_KEY, LIVEKIT_SECRET)
        .verify(token)
        .is_ok_and(|claims| check(&claims.video))
}

#[handler]
async fn twirp(
    Path(method): Path<String>,
    req: &Request,
    body: Vec<u8>,
    Data(state): Data<&Arc<Mutex<Egresses>>>,
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
            let delay = state.lock().unwrap().start_delay;
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

/// The Twirp `livekit.RoomService` (ListParticipants): like LiveKit, it wants a token with the
/// `roomAdmin` grant for the very room asked about.
#[handler]
async fn room_service(
    Path(method): Path<String>,
    req: &Request,
    body: Vec<u8>,
    Data(state): Data<&Arc<Mutex<Egresses>>>,
) -> Response {
    let json_body = req
        .content_type()
        .is_some_and(|c| c.starts_with("application/json"));
    if method != "ListParticipants" {
        return twirp_error(StatusCode::NOT_FOUND, "bad_route", "no such method");
    }
    let Some(request) = decode::<proto::ListParticipantsRequest>(json_body, &body) else {
        return twirp_error(StatusCode::BAD_REQUEST, "malformed", "bad body");
    };
    let authorized = granted(req, |video| video.room_admin && video.room == request.room);
    let mut state = state.lock().unwrap();
    if !authorized {
        state.room_unauthenticated += 1;
        return twirp_error(StatusCode::UNAUTHORIZED, "unauthenticated", "invalid token");
    }
    match state.rooms.get(&request.room) {
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
        let state = Arc::new(Mutex::new(Egresses::default()));
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

    /// An app talking to this server, with a bucket configured.
    pub fn app(&self) -> TestAppBuilder {
        self.app_with_secret(LIVEKIT_SECRET)
    }

    /// An app talking to this server whose bucket is `s3` (the bucket `recordings`).
    pub fn app_with_bucket(&self, s3: &LocalS3) -> TestAppBuilder {
        let bucket = s3.bucket_config("recordings");
        TestApp::builder()
            .arg("--livekit-url")
            .arg(self.url.clone())
            .arg("--livekit-api-key")
            .arg(LIVEKIT_KEY)
            .arg("--livekit-api-secret")
            .arg(LIVEKIT_SECRET)
            .arg("--recordings-s3-bucket")
            .arg(bucket.bucket)
            .arg("--recordings-s3-endpoint")
            .arg(s3.endpoint())
            .arg("--recordings-s3-region")
            .arg(bucket.region)
            .arg("--recordings-s3-access-key-id")
            .arg(bucket.access_key_id)
            .arg("--recordings-s3-secret-access-key")
            .arg(bucket.secret_access_key)
    }

    pub fn app_with_secret(&self, secret: &str) -> TestAppBuilder {
        TestApp::builder()
            .arg("--livekit-url")
            .arg(self.url.clone())
            .arg("--livekit-api-key")
            .arg(LIVEKIT_KEY)
            .arg("--livekit-api-secret")
            .arg(secret)
            .arg("--recordings-s3-bucket")
            .arg("recordings-bucket")
            .arg("--recordings-s3-endpoint")
            .arg("https://account.r2.example")
            .arg("--recordings-s3-access-key-id")
            .arg("AKIDRECORDINGS")
            .arg("--recordings-s3-secret-access-key")
            .arg("recordings-s3-secret")
    }
}

/// The `Authorization` LiveKit sends: a JWT signed with the API secret, `iss` = the API key,
/// `sha256` = base64 of the body's SHA-256.
pub fn sign(body: &str, key: &str, secret: &str) -> String {
    platform_livekit::install_jwt_crypto_provider();
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body.as_bytes()));
    AccessToken::with_api_key(key, secret)
        .with_sha256(&hash)
        .to_jwt()
        .unwrap()
}

/// Posts a webhook delivery as LiveKit does.
pub async fn deliver(app: &TestApp, body: &str, authorization: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(app.url("/webhooks/livekit"))
        .header("content-type", "application/webhook+json")
        .body(body.to_owned());
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    read(request.send().await.unwrap()).await
}

/// Posts `event` signed with the right key; returns the answer's `outcome`.
pub async fn deliver_signed(app: &TestApp, event: &proto::WebhookEvent) -> String {
    let body = serde_json::to_string(event).unwrap();
    let (status, answer) = deliver(app, &body, Some(&sign(&body, LIVEKIT_KEY, LIVEKIT_SECRET))).await;
    assert_eq!(status, 200, "{answer}");
    answer["outcome"].as_str().unwrap().to_owned()
}

/// A browser-like client signed in through the development sign-in, with this feature's steps.
pub struct Client(pub test_support::Client);

impl std::ops::Deref for Client {
    type Target = test_support::Client;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

pub async fn sign_in(app: &TestApp, email: &str, organization: &str, role: &str) -> Client {
    Client(test_support::sign_in(&app.address, email, organization, role).await)
}

impl Client {
    /// Starts recording `zone` of `space`; returns the recording id.
    pub async fn start_recording(&self, space: &str, zone: &str) -> String {
        self.ok(
            "/recordings/start",
            json!({"spaceId": space, "topic": "T", "zone": zone}),
        )
        .await["recordingId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn create_space(&self, name: &str) -> String {
        self.ok(
            "/spaces/create",
            json!({"name": name, "layout": "office", "dimension": "medium", "style": "modern"}),
        )
        .await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// A participant event about `room` (a space id) as LiveKit sends it; `created_at` in Unix
/// seconds.
pub fn participant_event(
    id: &str,
    event: &str,
    room: &str,
    identity: &str,
    joined_at: i64,
    created_at: i64,
) -> proto::WebhookEvent {
    proto::WebhookEvent {
        id: id.into(),
        event: event.into(),
        room: Some(proto::Room {
            name: room.into(),
            ..Default::default()
        }),
        participant: Some(proto::ParticipantInfo {
            identity: identity.into(),
            joined_at,
            ..Default::default()
        }),
        created_at,
        ..Default::default()
    }
}

/// The value of the `/metrics` series `name` whose labels include every `labels` pair.
pub async fn metric(app: &TestApp, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .find(|line| {
            labels
                .iter()
                .all(|(key, value)| line.contains(&format!("{key}=\"{value}\"")))
        })
        .and_then(|line| line.rsplit(' ').next())
        .map(|value| value.parse().unwrap())
}
