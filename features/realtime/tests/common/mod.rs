//! Shared by the realtime test binaries: signed-in clients, a conference server configuration.

#![allow(dead_code, unused_imports)] // each test binary uses part of it

pub use qubital_auth::test_support::{self, problem_type, read};
use qubital_testkit::TestApp;
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

/// A browser-like client signed in through the development sign-in, with this feature's steps.
pub struct Client(pub qubital_testkit::Client);

impl std::ops::Deref for Client {
    type Target = qubital_testkit::Client;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

pub async fn sign_in(app: &TestApp, email: &str, organization: &str, role: &str) -> Client {
    Client(test_support::sign_in(&app.address, email, organization, role).await)
}

impl Client {
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

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
