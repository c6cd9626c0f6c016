//! Shared by the recordings test binaries: apps talking to `platform-livekit`'s fake LiveKit
//! (Twirp Egress and RoomService that check tokens as LiveKit does) with a bucket, webhook
//! deliveries signed as LiveKit signs them, spaces and recordings to work on, `/metrics` reads.
//! Clients are `qubital_testkit::Client`s signed in with the identity feature's `sign_in`.

#![allow(dead_code, unused_imports)] // each test binary uses part of it

use base64::Engine;
use platform_livekit::{livekit_api::access_token::AccessToken, livekit_protocol as proto};
use platform_storage::fake::LocalS3;
pub use qubital_auth::test_support::{problem_type, read, sign_in};
pub use qubital_testkit::Client;
use qubital_testkit::{TestApp, TestAppBuilder};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub use platform_livekit::fake::{now_ns, FakeLiveKit, API_KEY as LIVEKIT_KEY, API_SECRET as LIVEKIT_SECRET};

/// Apps talking to the fake LiveKit, with a bucket.
pub trait LiveKitApps {
    /// An app with a (never contacted) bucket configured.
    fn app(&self) -> TestAppBuilder;
    /// An app whose bucket is `s3` (the bucket `recordings`).
    fn app_with_bucket(&self, s3: &LocalS3) -> TestAppBuilder;
    /// An app that signs with `secret` (LiveKit refuses its tokens unless it is the fake's).
    fn app_with_secret(&self, secret: &str) -> TestAppBuilder;
}

impl LiveKitApps for FakeLiveKit {
    fn app(&self) -> TestAppBuilder {
        self.app_with_secret(LIVEKIT_SECRET)
    }

    fn app_with_bucket(&self, s3: &LocalS3) -> TestAppBuilder {
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

    fn app_with_secret(&self, secret: &str) -> TestAppBuilder {
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

/// Starts recording `zone` of `space` as `client`; returns the recording id.
pub async fn start_recording(client: &Client, space: &str, zone: &str) -> String {
    client
        .ok(
            "/recordings/start",
            json!({"spaceId": space, "topic": "T", "zone": zone}),
        )
        .await["recordingId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Creates an office space named `name` in `client`'s organization; returns its id.
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
    let text = app.ops_get("/metrics").await.text().await.unwrap();
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
