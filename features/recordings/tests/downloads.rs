//! `/recordings/{recordingId}/download-link`: a completed recording's file is downloaded from a
//! real (local) S3-compatible server through the presigned URL the backend signs; the server
//! checks the SigV4 signature itself. Not before the file exists, never across organizations.

extern crate qubital_auth;
extern crate qubital_realtime;
extern crate qubital_recordings;
extern crate qubital_spaces;

mod support;

use support::LiveKitApps as _;

use chrono::{DateTime, Utc};
use platform_livekit::livekit_protocol as proto;
use platform_storage::fake::LocalS3;
use serde_json::json;
use support::{create_space, deliver_signed, problem_type, sign_in, start_recording, FakeLiveKit};

fn completed(egress_id: &str, room: &str) -> proto::WebhookEvent {
    proto::WebhookEvent {
        id: format!("EV_done_{egress_id}"),
        event: "egress_ended".into(),
        egress_info: Some(proto::EgressInfo {
            egress_id: egress_id.into(),
            room_name: room.into(),
            status: proto::EgressStatus::EgressComplete as i32,
            ended_at: support::now_ns(),
            file_results: vec![proto::FileInfo {
                duration: 60_000_000_000,
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_completed_recording_is_downloaded_from_the_bucket_with_a_short_lived_link() {
    let s3 = LocalS3::start("AKIDLOCALRECORDINGS", "local-recordings-secret").await;
    s3.create_bucket("recordings");
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app_with_bucket(&s3).spawn().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let member = sign_in(&app.address, "bob@acme.test", "Acme", "member").await;
    let space = create_space(&admin, "Main").await;
    let id = admin
        .ok(
            "/recordings/start",
            json!({"spaceId": space, "topic": "Weekly", "zone": "z"}),
        )
        .await["recordingId"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/recordings/{id}/download-link");

    // While recording there is no file yet.
    let (status, problem) = member.post(&path, json!({})).await;
    assert_eq!((status, problem_type(&problem)), (409, "recording-not-ready"));

    // LiveKit uploads the file where it was told to, then reports the egress complete.
    let key = livekit.state.lock().unwrap().starts[0].file_outputs[0]
        .filepath
        .clone();
    assert!(
        key.starts_with(&format!("recordings/{space}/")) && key.ends_with(".mp4"),
        "{key}"
    );
    let bytes = b"\x00\x00\x00\x18ftypmp42 not really a movie \xff";
    s3.put_object("recordings", &key, bytes);
    assert_eq!(deliver_signed(&app, &completed(&id, &space)).await, "applied");

    let before = Utc::now();
    let link = member.ok(&path, json!({})).await;
    let url = link["url"].as_str().unwrap();
    assert!(url.starts_with(&s3.endpoint()), "{url}");
    assert!(
        url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=300"),
        "{url}"
    );
    let expires_at: DateTime<Utc> = link["expiresAt"].as_str().unwrap().parse().unwrap();
    let validity = (expires_at - before).num_seconds();
    assert!((298..=301).contains(&validity), "{validity}");

    // A plain GET, no cookie: the bucket checks the signature and serves the exact bytes.
    let download = reqwest::get(url).await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().as_ref(), bytes);
    // The link is for that object only: the same signature on another key is refused.
    s3.put_object("recordings", "recordings/other.mp4", b"other");
    let forged = url.replace(&key, "recordings/other.mp4");
    assert_eq!(reqwest::get(&forged).await.unwrap().status(), 403);

    // Another organization cannot see that the recording exists.
    let outsider = sign_in(&app.address, "eve@evil.test", "Evil", "admin").await;
    let (status, problem) = outsider.post(&path, json!({})).await;
    assert_eq!((status, problem_type(&problem)), (404, "not-found"));
    let (status, problem) = member
        .post("/recordings/EG_unknown/download-link", json!({}))
        .await;
    assert_eq!((status, problem_type(&problem)), (404, "not-found"));
}

#[tokio::test]
async fn a_failed_recording_has_no_download_link() {
    let s3 = LocalS3::start("AKIDLOCALRECORDINGS", "local-recordings-secret").await;
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app_with_bucket(&s3).spawn().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&admin, "Main").await;
    let id = start_recording(&admin, &space, "z").await;
    let mut failed = completed(&id, &space);
    let info = failed.egress_info.as_mut().unwrap();
    info.status = proto::EgressStatus::EgressFailed as i32;
    info.error = "upload failed".into();
    assert_eq!(deliver_signed(&app, &failed).await, "applied");
    let (status, problem) = admin
        .post(&format!("/recordings/{id}/download-link"), json!({}))
        .await;
    assert_eq!((status, problem_type(&problem)), (409, "recording-not-ready"));
}
