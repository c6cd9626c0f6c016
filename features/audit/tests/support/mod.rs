//! The audit tests' steps: an app wired to every fake an administrative change touches
//! (WorkOS, LiveKit, a local S3 bucket), LiveKit's signed webhook, and reading the trail.
#![allow(dead_code)]

use base64::Engine;
pub use platform_livekit::fake::{now_ns, FakeLiveKit, API_KEY as LIVEKIT_KEY, API_SECRET as LIVEKIT_SECRET};
use platform_livekit::{livekit_api::access_token::AccessToken, livekit_protocol as proto};
use platform_storage::fake::LocalS3;
use platform_workos::fake::FakeWorkos;
pub use qubital_auth::test_support::{problem_type, read, sign_in, workos_admin, workos_settings};
pub use qubital_testkit::Client;
use qubital_testkit::{TestApp, TestAppBuilder};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The fakes an app of these tests talks to. Dropping them stops them.
pub struct World {
    pub app: TestApp,
    pub workos: FakeWorkos,
    pub livekit: FakeLiveKit,
    pub s3: LocalS3,
}

/// `builder` pointed at the WorkOS fake, the LiveKit fake, a `recordings` bucket and an
/// `uploads` bucket (organization logos).
fn wired(
    builder: TestAppBuilder,
    workos: &FakeWorkos,
    livekit: &FakeLiveKit,
    s3: &LocalS3,
) -> TestAppBuilder {
    let bucket = s3.bucket_config("recordings");
    let builder = workos_settings(workos)
        .into_iter()
        .fold(builder, TestAppBuilder::arg);
    builder
        .arg("--livekit-url")
        .arg(livekit.url.clone())
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
        .arg("--uploads-s3-bucket")
        .arg("uploads")
        .arg("--uploads-s3-endpoint")
        .arg(s3.endpoint())
        .arg("--uploads-s3-access-key-id")
        .arg(s3.bucket_config("uploads").access_key_id)
        .arg("--uploads-s3-secret-access-key")
        .arg(s3.bucket_config("uploads").secret_access_key)
        .arg("--uploads-public-base-url")
        .arg(s3.public_base_url("uploads"))
}

pub async fn world() -> World {
    let workos = FakeWorkos::start().await;
    let livekit = FakeLiveKit::start().await;
    let s3 = LocalS3::start("AKIDLOCALAUDIT", "local-audit-secret").await;
    s3.create_bucket("recordings");
    s3.create_bucket("uploads");
    let app = wired(TestApp::builder(), &workos, &livekit, &s3).spawn().await;
    World {
        app,
        workos,
        livekit,
        s3,
    }
}

/// Posts a LiveKit webhook saying egress `egress_id` of `room` completed, signed as LiveKit
/// signs it.
pub async fn recording_completed(app: &TestApp, egress_id: &str, room: &str) {
    let event = proto::WebhookEvent {
        id: format!("EV_done_{egress_id}"),
        event: "egress_ended".into(),
        egress_info: Some(proto::EgressInfo {
            egress_id: egress_id.into(),
            room_name: room.into(),
            status: proto::EgressStatus::EgressComplete as i32,
            ended_at: now_ns(),
            file_results: vec![proto::FileInfo {
                duration: 60_000_000_000,
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let body = serde_json::to_string(&event).unwrap();
    platform_livekit::install_jwt_crypto_provider();
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body.as_bytes()));
    let token = AccessToken::with_api_key(LIVEKIT_KEY, LIVEKIT_SECRET)
        .with_sha256(&hash)
        .to_jwt()
        .unwrap();
    let response = reqwest::Client::new()
        .post(app.url("/webhooks/livekit"))
        .header("content-type", "application/webhook+json")
        .header("authorization", token)
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, answer) = read(response).await;
    assert_eq!(status, 200, "{answer}");
}

/// The caller's trail, filtered by `filter` (a `/audit-logs/list` body).
pub async fn trail(client: &Client, filter: Value) -> Value {
    client.ok("/audit-logs/list", filter).await
}

/// The entries of `action` in the caller's organization, newest first.
pub async fn entries(client: &Client, action: &str) -> Vec<Value> {
    trail(client, json!({ "action": action, "limit": 100 })).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

/// Uploads a logo for the caller's organization (ticket, `PUT` to the presigned URL,
/// finalize); the organization.
pub async fn upload_logo(client: &Client) -> Value {
    // The start of a 64×64 baseline JPEG: all that is read of it.
    let jpeg = [
        0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x40, 0x00, 0x40, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11,
        0x01, 0x03, 0x11, 0x01, 0xFF, 0xD9,
    ];
    let base = format!("/organizations/{}/logo", client.organization_id());
    let ticket = client
        .ok(
            &format!("{base}/upload-ticket"),
            json!({ "contentType": "image/jpeg", "size": jpeg.len() }),
        )
        .await;
    let status = reqwest::Client::new()
        .put(ticket["uploadUrl"].as_str().unwrap())
        .header("content-type", "image/jpeg")
        .body(jpeg.to_vec())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    client
        .ok(&format!("{base}/finalize"), json!({ "key": ticket["key"] }))
        .await
}

/// Creates an office space; its id.
pub async fn create_space(client: &Client, name: &str) -> String {
    client
        .ok(
            "/spaces/create",
            json!({"name": name, "layout": "office", "dimension": "medium", "style": "modern"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}
