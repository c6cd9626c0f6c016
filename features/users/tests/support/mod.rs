//! This crate's test steps. Signing in (development and WorkOS) is `qubital_auth::test_support`.
#![allow(dead_code)]

use platform_workos::fake::FakeWorkos;
use qubital_auth::test_support::workos_settings;
use qubital_testkit::{TestApp, TestAppBuilder};

/// The app in development, pointed at a fresh WorkOS fake.
pub async fn app_with_workos() -> (TestApp, FakeWorkos) {
    let fake = FakeWorkos::start().await;
    let app = workos_settings(&fake)
        .into_iter()
        .fold(TestApp::builder(), TestAppBuilder::arg)
        .spawn()
        .await;
    (app, fake)
}
