//! Removing a member disconnects them from the organization's conferences they are in, through
//! LiveKit's room service (a local Twirp fake that checks the `roomAdmin` grant for the room,
//! as LiveKit does); members elsewhere and other organizations' rooms are left alone.

extern crate qubital_organizations;
extern crate qubital_realtime;
extern crate qubital_spaces;
extern crate qubital_users;

#[path = "../../auth/tests/support/mod.rs"]
mod support;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use platform_livekit::{livekit_api::access_token::TokenVerifier, livekit_protocol as proto};
use poem::{
    handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    web::Data,
    EndpointExt, Request, Response, Route, Server,
};
use prost::Message;
use qubital_testkit::TestApp;
use serde_json::json;
use support::*;

const KEY: &str = "APIorganizations";
const SECRET: &str = "organizations-test-secret-long-enough";

#[derive(Default)]
struct Removals {
    /// `(room, identity)` of every accepted RemoveParticipant.
    removed: Vec<(String, String)>,
    unauthenticated: u32,
}

#[handler]
async fn remove_participant(
    req: &Request,
    body: Vec<u8>,
    Data(state): Data<&Arc<Mutex<Removals>>>,
) -> Response {
    let Ok(request) = proto::RoomParticipantIdentity::decode(body.as_slice()) else {
        return Response::builder().status(StatusCode::BAD_REQUEST).finish();
    };
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default();
    let granted = TokenVerifier::with_api_key(KEY, SECRET)
        .verify(token)
        .is_ok_and(|claims| claims.video.room_admin && claims.video.room == request.room);
    let mut state = state.lock().unwrap();
    if !granted {
        state.unauthenticated += 1;
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .content_type("application/json")
            .body(json!({"code": "unauthenticated", "msg": "invalid token"}).to_string());
    }
    state.removed.push((request.room, request.identity));
    Response::builder()
        .content_type("application/protobuf")
        .body(proto::RemoveParticipantResponse::default().encode_to_vec())
}

async fn fake_livekit() -> (String, Arc<Mutex<Removals>>) {
    let state = Arc::new(Mutex::new(Removals::default()));
    let app = Route::new()
        .at(
            "/twirp/livekit.RoomService/RemoveParticipant",
            poem::post(remove_participant),
        )
        .data(state.clone());
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
    let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    (format!("ws://{addr}"), state)
}

async fn in_conference(app: &TestApp, space: &str, user_id: &str) {
    sqlx::query(
        "INSERT INTO space_occupants (room_id, identity, user_id, present, joined_at, changed_at)
         SELECT id, $2, $2::bigint, true, now(), now() FROM rooms WHERE room_id = $1::uuid",
    )
    .bind(space)
    .bind(user_id)
    .execute(app.db())
    .await
    .unwrap();
}

#[tokio::test]
async fn a_removed_member_is_disconnected_from_the_organizations_conferences() {
    let (livekit_url, removals) = fake_livekit().await;
    let fake = platform_workos::fake::FakeWorkos::start().await;
    let app = with_workos(TestApp::builder(), &fake)
        .arg("--livekit-url")
        .arg(livekit_url)
        .arg("--livekit-api-key")
        .arg(KEY)
        .arg("--livekit-api-secret")
        .arg(SECRET)
        .spawn()
        .await;
    let create_space = |client| {
        let app = &app;
        async move {
            ok(
                app,
                client,
                "/spaces/create",
                &json!({"name": "Main", "layout": "office", "dimension": "medium", "style": "modern"}),
            )
            .await["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let ada = browser();
    workos_admin(&app, &ada, &fake, "ada@acme.test", "Acme").await;
    let bob = browser();
    workos_admin(&app, &bob, &fake, "bob@acme.test", "Bob's own").await;
    let bobs_own_room = create_space(&bob).await;
    let link = ok(&app, &ada, "/invitations/link/get", &json!({})).await;
    let joined = ok(
        &app,
        &bob,
        "/invitations/link/join",
        &json!({ "inviteId": link["inviteId"] }),
    )
    .await;
    let bob_id = joined["id"].as_str().unwrap().to_owned();
    let ada_id = ok(&app, &ada, "/user/get", &json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Bob is in Acme's conference with Ada, and in his own organization's.
    let acme_room = create_space(&ada).await;
    in_conference(&app, &acme_room, &bob_id).await;
    in_conference(&app, &acme_room, &ada_id).await;
    in_conference(&app, &bobs_own_room, &bob_id).await;

    let response = post(&app, &ada, &format!("/members/{bob_id}/remove"), &json!({})).await;
    assert_eq!(response.status(), 204);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if !removals.lock().unwrap().removed.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no RemoveParticipant within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give a wrong second call the time to show up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let removals = removals.lock().unwrap();
    // Only Bob, only from Acme's room.
    assert_eq!(removals.removed, vec![(acme_room.clone(), bob_id.clone())]);
    assert_eq!(removals.unauthenticated, 0);
}
