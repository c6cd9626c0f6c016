//! The conference token: verified with `livekit-api`'s own verifier, grants by role, tenant
//! isolation, a disabled conference in development.

extern crate qubital_auth;
extern crate qubital_realtime;

mod support;

use livekit_api::access_token::TokenVerifier;
use qubital_testkit::{spawn_app, TestApp};
use serde_json::json;
use support::{create_space, problem_type, sign_in, with_livekit, LIVEKIT_KEY, LIVEKIT_SECRET};

#[tokio::test]
async fn the_token_admits_the_caller_to_the_space_with_grants_by_role() {
    let app = with_livekit(TestApp::builder()).spawn().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let guest = sign_in(&app.address, "gus@acme.test", "Acme", "guest").await;
    let member = sign_in(&app.address, "mel@acme.test", "Acme", "member").await;
    let space = create_space(&admin, "Main").await;
    let verifier = TokenVerifier::with_api_key(LIVEKIT_KEY, LIVEKIT_SECRET);

    let answer = admin
        .ok("/realtime/conference-token", json!({"spaceId": space}))
        .await;
    assert_eq!(answer["url"], "wss://conference.test");
    let claims = verifier.verify(answer["token"].as_str().unwrap()).unwrap();
    assert_eq!(claims.iss, LIVEKIT_KEY);
    assert_eq!(claims.sub, admin.user_id());
    assert_eq!(claims.name, admin.user["displayName"].as_str().unwrap());
    assert_eq!(claims.video.room, space);
    assert!(claims.video.room_join && claims.video.room_admin);
    assert!(
        claims.video.can_publish_sources.is_empty(),
        "admins publish every source"
    );
    assert_eq!(claims.video.can_update_own_metadata, Some(false));
    let metadata: serde_json::Value = serde_json::from_str(&claims.metadata).unwrap();
    assert_eq!(
        metadata,
        json!({"userId": admin.user_id(), "organizationId": admin.organization_id(), "role": "admin"})
    );
    // expiresAt is the token's exp; the default lifetime is one hour.
    let expires_at = chrono::DateTime::parse_from_rfc3339(answer["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!(expires_at.timestamp(), claims.exp as i64);
    // The default lifetime is 10 minutes: LiveKit checks it only at join.
    assert!((claims.exp as i64 - support::now() - 600).abs() <= 2);

    let claims = verifier
        .verify(
            guest
                .ok("/realtime/conference-token", json!({"spaceId": space}))
                .await["token"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    assert!(!claims.video.room_admin);
    assert_eq!(claims.video.can_publish_sources, ["camera", "microphone"]);
    assert!(claims.video.can_subscribe());
    let claims = verifier
        .verify(
            member
                .ok("/realtime/conference-token", json!({"spaceId": space}))
                .await["token"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    assert!(!claims.video.room_admin && claims.video.can_publish_sources.is_empty());
    assert!(serde_json::from_str::<serde_json::Value>(&claims.metadata).unwrap()["role"] == "member");

    // No vendor name on the wire.
    let text = answer.to_string().to_lowercase();
    assert!(!text.contains("livekit"), "{text}");
}

#[tokio::test]
async fn the_lifetime_is_a_setting() {
    let app = with_livekit(TestApp::builder())
        .arg("--conference-token-ttl-secs")
        .arg("120")
        .spawn()
        .await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&admin, "Main").await;
    let answer = admin
        .ok("/realtime/conference-token", json!({"spaceId": space}))
        .await;
    let claims = TokenVerifier::with_api_key(LIVEKIT_KEY, LIVEKIT_SECRET)
        .verify(answer["token"].as_str().unwrap())
        .unwrap();
    assert!((claims.exp as i64 - support::now() - 120).abs() <= 2);
}

#[tokio::test]
async fn another_organizations_space_is_not_found() {
    let app = with_livekit(TestApp::builder()).spawn().await;
    let acme = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let globex = sign_in(&app.address, "hank@globex.test", "Globex", "admin").await;
    let theirs = create_space(&globex, "Globex HQ").await;
    // Cached for Globex (the space cache is keyed by organization): still nothing for Acme.
    globex
        .ok("/realtime/conference-token", json!({"spaceId": theirs}))
        .await;
    let (status, body) = acme
        .post("/realtime/conference-token", json!({"spaceId": theirs}))
        .await;
    assert_eq!((status, problem_type(&body)), (404, "not-found"), "{body}");
    let (status, _) = acme
        .post(
            "/realtime/conference-token",
            json!({"spaceId": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(status, 404);
    // A user in both organizations gets in only through the organization they act in.
    let both = sign_in(&app.address, "hank@globex.test", "Acme", "member").await;
    let (status, _) = both
        .post("/realtime/conference-token", json!({"spaceId": theirs}))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_requests_are_4xx() {
    let app = with_livekit(TestApp::builder()).spawn().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    for body in [
        json!({}),
        json!({"spaceId": "nope"}),
        json!({"spaceId": 7}),
        json!({"spaceId": null}),
    ] {
        let (status, problem) = admin.post("/realtime/conference-token", body.clone()).await;
        assert_eq!((status, problem_type(&problem)), (422, "validation"), "{body}");
    }
    let response = app
        .post(
            "/realtime/conference-token",
            &json!({"spaceId": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn an_unconfigured_conference_answers_503_in_development() {
    let app = spawn_app().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&admin, "Main").await;
    let (status, body) = admin
        .post("/realtime/conference-token", json!({"spaceId": space}))
        .await;
    assert_eq!(
        (status, problem_type(&body)),
        (503, "integration-disabled"),
        "{body}"
    );
    assert!(!body.to_string().to_lowercase().contains("livekit"), "{body}");
}
