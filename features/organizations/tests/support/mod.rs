//! This crate's test steps. Signing in (development and WorkOS) is `qubital_auth::test_support`.
#![allow(dead_code)]

use platform_workos::fake::FakeWorkos;
use qubital_auth::test_support::workos_settings;
use qubital_testkit::{Client, TestApp, TestAppBuilder};
use serde_json::{json, Value};

/// The app in development, pointed at a fresh WorkOS fake.
pub async fn app_with_workos() -> (TestApp, FakeWorkos) {
    let fake = FakeWorkos::start().await;
    let app = with_workos(TestApp::builder(), &fake).spawn().await;
    (app, fake)
}

/// `builder`, pointed at `fake`.
pub fn with_workos(builder: TestAppBuilder, fake: &FakeWorkos) -> TestAppBuilder {
    workos_settings(fake)
        .into_iter()
        .fold(builder, TestAppBuilder::arg)
}

/// `member` joins `admin`'s current organization through its invite link; the User DTO.
pub async fn join_by_link(admin: &Client, member: &Client) -> Value {
    let link = admin.ok("/invitations/link/get", json!({})).await;
    member
        .ok("/invitations/link/join", json!({ "inviteId": link["inviteId"] }))
        .await
}
