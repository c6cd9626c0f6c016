//! `/recordings/presence/update`: people reported in a recorded zone become participants of its
//! active recording; nobody is removed; only members of the caller's organization, only while
//! the zone is recorded.

extern crate qubital_auth;
extern crate qubital_realtime;
extern crate qubital_recordings;
extern crate qubital_spaces;

mod support;

use support::LiveKitApps as _;

use serde_json::{json, Value};
use support::{create_space, problem_type, sign_in, FakeLiveKit};

fn ids(recording: &Value) -> Vec<String> {
    let mut ids: Vec<String> = recording["participantIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<&str>) -> Vec<String> {
    ids.sort();
    ids.into_iter().map(str::to_owned).collect()
}

#[tokio::test]
async fn people_reported_in_a_recorded_zone_become_its_participants() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let bob = sign_in(&app.address, "bob@acme.test", "Acme", "member").await;
    let cy = sign_in(&app.address, "cy@acme.test", "Acme", "member").await;
    let space = create_space(&admin, "Main").await;
    let started = admin
        .ok(
            "/recordings/start",
            json!({"spaceId": space, "topic": "T", "zone": "z", "participantIds": [admin.user_id()]}),
        )
        .await;
    let id = started["recordingId"].as_str().unwrap();

    // Bob reports Cy and himself; Ada left the zone meanwhile but stays a participant.
    let updated = bob
        .ok(
            "/recordings/presence/update",
            json!({"spaceId": space, "zone": "z", "participantIds": [bob.user_id(), cy.user_id()]}),
        )
        .await;
    assert_eq!(updated["recordingId"], id);
    assert_eq!(
        ids(&updated),
        sorted(vec![admin.user_id(), bob.user_id(), cy.user_id()])
    );
    // Reporting the same people again changes nothing.
    let again = bob
        .ok(
            "/recordings/presence/update",
            json!({"spaceId": space, "zone": "z", "participantIds": [cy.user_id(), cy.user_id()]}),
        )
        .await;
    assert_eq!(ids(&again), ids(&updated));
    // The list's `people` filter sees them.
    let listed = admin
        .ok("/recordings/list", json!({"people": [cy.user_id()]}))
        .await;
    assert_eq!(listed["page"]["total"], 1);

    // Another zone of the space is not being recorded.
    let (status, problem) = bob
        .post(
            "/recordings/presence/update",
            json!({"spaceId": space, "zone": "elsewhere", "participantIds": [bob.user_id()]}),
        )
        .await;
    assert_eq!((status, problem_type(&problem)), (409, "recording-not-active"));

    // Someone of another organization is not a participant anyone can add.
    let eve = sign_in(&app.address, "eve@evil.test", "Evil", "admin").await;
    let (status, problem) = bob
        .post(
            "/recordings/presence/update",
            json!({"spaceId": space, "zone": "z", "participantIds": [bob.user_id(), eve.user_id()]}),
        )
        .await;
    assert_eq!((status, problem_type(&problem)), (404, "not-found"));
    assert_eq!(problem["errors"][0]["location"], "body.participantIds[1]");
    // And Eve cannot see the space at all.
    let (status, problem) = eve
        .post(
            "/recordings/presence/update",
            json!({"spaceId": space, "zone": "z", "participantIds": [eve.user_id()]}),
        )
        .await;
    assert_eq!((status, problem_type(&problem)), (404, "not-found"));

    // Once stopped, the zone is no longer recorded.
    admin.ok(&format!("/recordings/{id}/stop"), json!({})).await;
    let (status, problem) = bob
        .post(
            "/recordings/presence/update",
            json!({"spaceId": space, "zone": "z", "participantIds": [bob.user_id()]}),
        )
        .await;
    assert_eq!((status, problem_type(&problem)), (409, "recording-not-active"));
}

#[tokio::test]
async fn bad_presence_reports_are_4xx_problems() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&admin, "Main").await;
    for (body, location) in [
        (
            json!({"spaceId": space, "zone": "bad zone!", "participantIds": []}),
            "body.zone",
        ),
        (
            json!({"spaceId": space, "zone": "z", "participantIds": ["not-a-user"]}),
            "body.participantIds[0]",
        ),
    ] {
        let (status, problem) = admin.post("/recordings/presence/update", body).await;
        assert_eq!((status, problem_type(&problem)), (422, "validation"));
        assert_eq!(problem["errors"][0]["location"], location, "{problem}");
    }
    let (status, _) = admin
        .post(
            "/recordings/presence/update",
            json!({"spaceId": space, "zone": "z", "participantIds": [], "extra": 1}),
        )
        .await;
    assert!((400..500).contains(&status));
    let anonymous = reqwest::Client::new()
        .post(app.url("/recordings/presence/update"))
        .json(&json!({"spaceId": space, "zone": "z", "participantIds": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

/// `participantIds` and `people` are bounded (≤ 100) in the schema and refused as a whole when
/// longer: one error at the list, before any item is parsed, de-duplicated or looked up.
#[tokio::test]
async fn over_long_user_lists_are_refused_before_any_item_is_looked_at() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&admin, "Main").await;
    let ids: Vec<String> = (0..101).map(|i| format!("not-a-user-{i}")).collect();
    for (path, body, location) in [
        (
            "/recordings/presence/update",
            json!({"spaceId": space, "zone": "z", "participantIds": ids}),
            "body.participantIds",
        ),
        (
            "/recordings/start",
            json!({"spaceId": space, "topic": "T", "zone": "z", "participantIds": ids}),
            "body.participantIds",
        ),
        ("/recordings/list", json!({"people": ids}), "body.people"),
    ] {
        let (status, problem) = admin.post(path, body).await;
        assert_eq!((status, problem_type(&problem)), (422, "validation"), "{path}");
        let errors = problem["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{path}: {problem}");
        assert_eq!(errors[0]["location"], location, "{path}");
    }
    let spec: serde_json::Value = reqwest::get(app.url("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = &spec["components"]["schemas"];
    assert_eq!(
        schemas["RecordingPresenceRequest"]["properties"]["participantIds"]["maxItems"],
        100
    );
    assert_eq!(
        schemas["StartRecordingRequest"]["properties"]["participantIds"]["maxItems"],
        100
    );
    assert_eq!(
        schemas["ListRecordingsRequest"]["properties"]["people"]["maxItems"],
        100
    );
}
