//! This crate's test steps. Signing in (development and WorkOS) is `qubital_auth::test_support`;
//! here are the app wired to a WorkOS fake and the cookie checks only these tests make.
#![allow(dead_code)]

use platform_workos::fake::FakeWorkos;
use poem_openapi::{payload::Json, Object, OpenApi};
use qubital_auth::test_support::workos_settings;
use qubital_plugin::{
    auth::{CookieAuth, Role},
    Api, Feature,
};
use qubital_testkit::Client;
use qubital_testkit::{TestApp, TestAppBuilder};
use serde_json::json;

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

/// A test-only operation that shows who the cookie authenticates.
#[derive(Default)]
struct WhoAmI;

#[derive(Object)]
struct Me {
    user_id: i64,
    organization_id: i64,
    role: Role,
}

#[OpenApi]
impl WhoAmI {
    #[oai(path = "/test/whoami", method = "post")]
    async fn whoami(&self, auth: CookieAuth) -> Json<Me> {
        Json(Me {
            user_id: auth.0.user_id,
            organization_id: auth.0.organization_id,
            role: auth.0.role,
        })
    }
}

qubital_plugin::inventory::submit! {
    Feature::new("test-whoami").apis(&[Api::of::<WhoAmI>()])
}

pub async fn whoami(client: &Client) -> reqwest::Response {
    client.send("/test/whoami", &json!({})).await
}
