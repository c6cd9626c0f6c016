//! The realtime test binaries' steps: a conference server configuration, spaces to join.
//! Clients are `qubital_testkit::Client`s signed in with the identity feature's `sign_in`.

#![allow(dead_code, unused_imports)] // each test binary uses part of it

pub use qubital_auth::test_support::{problem_type, read, sign_in};
pub use qubital_testkit::Client;
use serde_json::json;

pub const LIVEKIT_KEY: &str = "APItestkey";
pub const LIVEKIT_SECRET: &str = "test-livekit-secret-that-is-long-enough";

/// An app with the conference configured (nothing is contacted: tokens are signed locally).
pub fn with_livekit(builder: qubital_testkit::TestAppBuilder) -> qubital_testkit::TestAppBuilder {
    builder
        .arg("--livekit-url")
        .arg("wss://conference.test")
        .arg("--livekit-api-key")
        .arg(LIVEKIT_KEY)
        .arg("--livekit-api-secret")
        .arg(LIVEKIT_SECRET)
}

/// Creates a space in `client`'s organization; returns its id.
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

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
