//! This crate's test steps. Signing in (development and WorkOS) is `qubital_auth::test_support`;
//! here are the app wired to a WorkOS fake and the cookie checks only these tests make.
#![allow(dead_code)]

use platform_workos::fake::FakeWorkos;
use qubital_auth::test_support::workos_settings;
use qubital_testkit::{TestApp, TestAppBuilder};

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

/// The `access_token` value a response sets, if any.
pub fn access_cookie(response: &reqwest::Response) -> Option<String> {
    access_cookie_header(response).map(|v| {
        v["access_token=".len()..]
            .split(';')
            .next()
            .unwrap_or("")
            .to_owned()
    })
}

/// The whole `Set-Cookie` header of the access token.
pub fn access_cookie_header(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("access_token="))
        .map(str::to_owned)
}
