//! The chat test binaries' steps: an app talking to a fake Centrifugo, members of one
//! organization, conversations and messages through the real API.

#![allow(dead_code, unused_imports)] // each test binary uses part of it

use std::time::Duration;

pub use platform_centrifugo::fake::FakeCentrifugo;
pub use qubital_auth::test_support::{problem_type, read, sign_in};
pub use qubital_testkit::{Client, TestApp};
use serde_json::{json, Value};

/// The Centrifugo token secret of the tests' apps.
pub const TOKEN_SECRET: &str = "centrifugo-secret-for-chat-tests-0123456789";

/// An app whose Centrifugo is `fake`.
pub async fn app_with(fake: &FakeCentrifugo) -> TestApp {
    builder_with(fake).spawn().await
}

/// The builder of [`app_with`], for more settings.
pub fn builder_with(fake: &FakeCentrifugo) -> qubital_testkit::TestAppBuilder {
    let mut builder = TestApp::builder()
        .arg("--centrifugo-token-secret")
        .arg(TOKEN_SECRET);
    for arg in fake.args() {
        builder = builder.arg(arg);
    }
    builder
}

/// Signs in `name@acme.test` as a member of Acme.
pub async fn member(app: &TestApp, name: &str) -> Client {
    sign_in(&app.address, &format!("{name}@acme.test"), "Acme", "member").await
}

/// Opens the DM between `a` and `b`; returns the conversation.
pub async fn dm(a: &Client, b: &Client) -> Value {
    a.ok("/chat/conversations/create-dm", json!({"userId": b.user_id()}))
        .await
}

/// Sends `content` into `conversation`; returns the message.
pub async fn send(client: &Client, conversation: &str, content: &str) -> Value {
    client
        .ok(
            "/chat/messages/send",
            json!({"conversationId": conversation, "content": content}),
        )
        .await
}

pub fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

/// Waits (up to 10 s) until `done` holds.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}
