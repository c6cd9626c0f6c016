//! `POST /webhooks/livekit`: deliveries signed the way LiveKit signs them update recordings;
//! unsigned, tampered or foreign-signed ones are 401 and change nothing; a redelivery changes
//! nothing twice.

extern crate qubital_auth;
extern crate qubital_realtime;
extern crate qubital_recordings;
extern crate qubital_spaces;

mod support;

use support::LiveKitApps as _;

use platform_livekit::livekit_protocol as proto;
use qubital_testkit::TestApp;
use serde_json::json;
use support::{
    create_space, deliver, problem_type, sign, sign_in, start_recording, Client, FakeLiveKit, LIVEKIT_KEY,
    LIVEKIT_SECRET,
};

fn event(id: &str, kind: &str, info: proto::EgressInfo) -> String {
    serde_json::to_string(&proto::WebhookEvent {
        id: id.into(),
        event: kind.into(),
        egress_info: Some(info),
        created_at: 1_764_000_000,
        ..Default::default()
    })
    .unwrap()
}

fn ended(egress_id: &str) -> proto::EgressInfo {
    proto::EgressInfo {
        egress_id: egress_id.into(),
        room_name: "room".into(),
        status: proto::EgressStatus::EgressComplete as i32,
        started_at: support::now_ns() - 90_000_000_000,
        ended_at: support::now_ns(),
        file_results: vec![proto::FileInfo {
            duration: 90_500_000_000,
            location: "https://account.r2.example/recordings-bucket/a.mp4".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

async fn started_recording(app: &TestApp) -> (Client, String) {
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&admin, "Main").await;
    let id = start_recording(&admin, &space, "z").await;
    (admin, id)
}

async fn row(app: &TestApp, egress_id: &str) -> (String, Option<i64>, Option<String>, Option<String>) {
    sqlx::query_as("SELECT status, duration_ms, file_location, error FROM recordings WHERE egress_id = $1")
        .bind(egress_id)
        .fetch_one(app.db())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_signed_egress_ended_completes_the_recording_once() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    let (admin, id) = started_recording(&app).await;

    // egress_started keeps it active.
    let mut info = ended(&id);
    info.status = proto::EgressStatus::EgressActive as i32;
    info.ended_at = 0;
    info.file_results.clear();
    let body = event("EV_started", "egress_started", info);
    let (status, answer) = deliver(&app, &body, Some(&sign(&body, LIVEKIT_KEY, LIVEKIT_SECRET))).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("ignored")));

    let body = event("EV_ended", "egress_ended", ended(&id));
    let authorization = sign(&body, LIVEKIT_KEY, LIVEKIT_SECRET);
    let (status, answer) = deliver(&app, &body, Some(&authorization)).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("applied")));
    let listed = admin.ok("/recordings/list", json!({})).await;
    assert_eq!(listed["data"][0]["status"], "completed");
    assert_eq!(listed["data"][0]["durationSeconds"], 90);
    assert!(listed["data"][0]["endedAt"].is_string());
    let after = row(&app, &id).await;
    assert_eq!(
        after,
        (
            "completed".into(),
            Some(90_500),
            Some("https://account.r2.example/recordings-bucket/a.mp4".into()),
            None
        )
    );

    // The same delivery again (LiveKit retries) changes nothing.
    let (status, answer) = deliver(&app, &body, Some(&authorization)).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("duplicate")));
    // A late, reordered report cannot reopen or rewrite a finished recording.
    let mut late = ended(&id);
    late.status = proto::EgressStatus::EgressFailed as i32;
    late.error = "late".into();
    let body = event("EV_late", "egress_updated", late);
    let (status, answer) = deliver(&app, &body, Some(&sign(&body, LIVEKIT_KEY, LIVEKIT_SECRET))).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("ignored")));
    assert_eq!(row(&app, &id).await, after);

    // An event this backend does not follow, or of an unknown egress, is accepted and ignored.
    let body = serde_json::to_string(&proto::WebhookEvent {
        id: "EV_room".into(),
        event: "room_started".into(),
        ..Default::default()
    })
    .unwrap();
    let (status, answer) = deliver(&app, &body, Some(&sign(&body, LIVEKIT_KEY, LIVEKIT_SECRET))).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("ignored")));
    let body = event("EV_other", "egress_ended", ended("EG_someone_else"));
    let (status, answer) = deliver(&app, &body, Some(&sign(&body, LIVEKIT_KEY, LIVEKIT_SECRET))).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("ignored")));
}

#[tokio::test]
async fn a_failed_egress_is_recorded_with_its_error_for_operators_only() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    let (admin, id) = started_recording(&app).await;
    let mut info = ended(&id);
    info.status = proto::EgressStatus::EgressFailed as i32;
    info.error = "upload failed: access denied".into();
    info.file_results.clear();
    let body = event("EV_failed", "egress_ended", info);
    let (status, _) = deliver(&app, &body, Some(&sign(&body, LIVEKIT_KEY, LIVEKIT_SECRET))).await;
    assert_eq!(status, 200);
    let listed = admin.ok("/recordings/list", json!({})).await;
    assert_eq!(listed["data"][0]["status"], "failed");
    assert!(!listed.to_string().contains("access denied"));
    assert_eq!(
        row(&app, &id).await.3.as_deref(),
        Some("upload failed: access denied")
    );
    // The zone may be recorded again.
    let space = listed["data"][0]["spaceId"].as_str().unwrap();
    admin
        .ok(
            "/recordings/start",
            json!({"spaceId": space, "topic": "T", "zone": "z"}),
        )
        .await;
}

#[tokio::test]
async fn unsigned_tampered_and_foreign_deliveries_are_refused_and_change_nothing() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    let (_admin, id) = started_recording(&app).await;
    let body = event("EV_1", "egress_ended", ended(&id));
    let signed = sign(&body, LIVEKIT_KEY, LIVEKIT_SECRET);
    let tampered = body.replace("a.mp4", "b.mp4");
    let foreign = sign(&body, LIVEKIT_KEY, "another-secret-another-secret-another");
    let wrong_key = sign(&body, "APIother", LIVEKIT_SECRET);
    for (body, authorization) in [
        (body.as_str(), None),
        (body.as_str(), Some("")),
        (body.as_str(), Some("garbage")),
        (tampered.as_str(), Some(signed.as_str())),
        (body.as_str(), Some(foreign.as_str())),
        (body.as_str(), Some(wrong_key.as_str())),
    ] {
        let (status, problem) = deliver(&app, body, authorization).await;
        assert_eq!(
            (status, problem_type(&problem)),
            (401, "invalid-signature"),
            "{authorization:?}"
        );
    }
    assert_eq!(row(&app, &id).await.0, "active");
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM livekit_webhook_events")
        .fetch_one(app.db())
        .await
        .unwrap();
    assert_eq!(seen, 0);
    // Signed but not an event: 400, not 500.
    let not_event = r#"{"event": 5}"#;
    let (status, problem) = deliver(
        &app,
        not_event,
        Some(&sign(not_event, LIVEKIT_KEY, LIVEKIT_SECRET)),
    )
    .await;
    assert_eq!((status, problem_type(&problem)), (400, "malformed-event"));
    // The genuine one still applies.
    let (status, answer) = deliver(&app, &body, Some(&signed)).await;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("applied")));
}

#[tokio::test]
async fn without_livekit_the_webhook_is_disabled() {
    let app = TestApp::builder().spawn().await;
    let body = event("EV_1", "egress_ended", ended("EG_1"));
    let (status, problem) = deliver(&app, &body, Some(&sign(&body, LIVEKIT_KEY, LIVEKIT_SECRET))).await;
    assert_eq!((status, problem_type(&problem)), (503, "integration-disabled"));
}
