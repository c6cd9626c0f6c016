//! Removing a member disconnects them from the organization's conferences they are in, through
//! LiveKit's room service (`platform-livekit`'s fake, which checks the `roomAdmin` grant for the
//! room as LiveKit does); members elsewhere and other organizations' rooms are left alone.

extern crate qubital_organizations;
extern crate qubital_realtime;
extern crate qubital_spaces;
extern crate qubital_users;

mod support;

use std::time::Duration;

use platform_livekit::{fake::FakeLiveKit, livekit_protocol::participant_info::Kind};
use qubital_auth::test_support::workos_admin;
use qubital_testkit::{Client, TestApp};
use serde_json::json;
use support::*;

/// A new space of the client's organization; its id.
async fn create_space(client: &Client) -> String {
    client
        .ok(
            "/spaces/create",
            json!({"name": "Main", "layout": "office", "dimension": "medium", "style": "modern"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
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
    let livekit = FakeLiveKit::start().await;
    let fake = platform_workos::fake::FakeWorkos::start().await;
    let mut builder = with_workos(TestApp::builder(), &fake);
    for arg in livekit.args() {
        builder = builder.arg(arg);
    }
    let app = builder.spawn().await;
    let ada = workos_admin(&app.address, &fake, "ada@acme.test", "Acme").await;
    let bob = workos_admin(&app.address, &fake, "bob@acme.test", "Bob's own").await;
    let bobs_own_room = create_space(&bob).await;
    let link = ada.ok("/invitations/link/get", json!({})).await;
    let joined = bob
        .ok("/invitations/link/join", json!({ "inviteId": link["inviteId"] }))
        .await;
    let bob_id = joined["id"].as_str().unwrap().to_owned();
    let ada_id = ada.ok("/user/get", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Bob is in Acme's conference with Ada, and in his own organization's.
    let acme_room = create_space(&ada).await;
    in_conference(&app, &acme_room, &bob_id).await;
    in_conference(&app, &acme_room, &ada_id).await;
    in_conference(&app, &bobs_own_room, &bob_id).await;
    let standard = |id: &str| (id.to_owned(), Kind::Standard);
    let people = [standard(&bob_id), standard(&ada_id)];
    let people: Vec<(&str, Kind)> = people.iter().map(|(id, kind)| (id.as_str(), *kind)).collect();
    livekit.set_room(&acme_room, Some(&people));
    livekit.set_room(&bobs_own_room, Some(&people[..1]));

    let (status, _) = ada.post(&format!("/members/{bob_id}/remove"), json!({})).await;
    assert_eq!(status, 204);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while livekit.state.lock().unwrap().removed.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no RemoveParticipant within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give a wrong second call the time to show up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let state = livekit.state.lock().unwrap();
    // Only Bob, only from Acme's room; every call carried a `roomAdmin` token for its room.
    assert_eq!(state.removed, vec![(acme_room.clone(), bob_id.clone())]);
    assert_eq!(state.room_unauthenticated, 0);
    // LiveKit no longer lists him there; Ada stays.
    let left: Vec<&str> = state.rooms[&acme_room]
        .iter()
        .map(|p| p.identity.as_str())
        .collect();
    assert_eq!(left, [ada_id.as_str()]);
}

/// Waits until `done` holds of the fake LiveKit's state.
async fn until(
    livekit: &FakeLiveKit,
    what: &str,
    done: impl Fn(&platform_livekit::fake::LiveKitState) -> bool,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done(&livekit.state.lock().unwrap()) {
        assert!(std::time::Instant::now() < deadline, "{what} within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_role_change_applies_to_the_members_live_conference_connection_now() {
    use platform_livekit::livekit_protocol::TrackSource;
    let livekit = FakeLiveKit::start().await;
    let fake = platform_workos::fake::FakeWorkos::start().await;
    let mut builder = with_workos(TestApp::builder(), &fake);
    for arg in livekit.args() {
        builder = builder.arg(arg);
    }
    let app = builder.spawn().await;
    let ada = workos_admin(&app.address, &fake, "ada@acme.test", "Acme").await;
    let bob = workos_admin(&app.address, &fake, "bob@acme.test", "Bob's own").await;
    let bob_id = join_by_link(&ada, &bob).await["id"].as_str().unwrap().to_owned();
    let acme_room = create_space(&ada).await;
    in_conference(&app, &acme_room, &bob_id).await;
    livekit.set_room(&acme_room, Some(&[(bob_id.as_str(), Kind::Standard)]));

    // Demoted to guest: from now on camera and microphone only, and the others see the role.
    let member = ada
        .ok(&format!("/members/{bob_id}/update"), json!({"role": "guest"}))
        .await;
    assert_eq!(member["role"], "guest");
    until(&livekit, "an UpdateParticipant", |s| !s.updated.is_empty()).await;
    {
        let state = livekit.state.lock().unwrap();
        assert_eq!(state.updated.len(), 1);
        let update = &state.updated[0];
        assert_eq!(
            (update.room.as_str(), update.identity.as_str()),
            (acme_room.as_str(), bob_id.as_str())
        );
        let permission = update.permission.as_ref().expect("a permission");
        assert_eq!(
            permission.can_publish_sources,
            [TrackSource::Camera as i32, TrackSource::Microphone as i32]
        );
        assert!(permission.can_publish && permission.can_subscribe && !permission.can_update_metadata);
        let metadata: serde_json::Value = serde_json::from_str(&update.metadata).unwrap();
        assert_eq!(metadata["role"], "guest");
        assert_eq!(metadata["userId"], bob_id.as_str());
        // Every call carried a `roomAdmin` token for its room.
        assert_eq!(state.room_unauthenticated, 0);
    }

    // LiveKit down: the change is made and answered all the same, and the failure is counted.
    let failed = |metrics: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with("qubital_conference_live_changes_failed_total{action=\"update\"}"))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let before = failed(&qubital_plugin::metrics::render());
    livekit.state.lock().unwrap().room_failures = 1;
    let member = ada
        .ok(&format!("/members/{bob_id}/update"), json!({"role": "member"}))
        .await;
    assert_eq!(member["role"], "member");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while failed(&qubital_plugin::metrics::render()) < before + 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the failure was not counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(livekit.state.lock().unwrap().updated.len(), 1);
}
