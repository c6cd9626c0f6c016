//! Signing in, for integration tests of this and other features (Cargo feature `test-support`,
//! enabled from `[dev-dependencies]` only): the development sign-in, and the WorkOS sign-in
//! steps against `platform-workos`'s fake, through the real API. Each gives or drives a
//! [`Client`] (`qubital_testkit::Client`) that holds the session cookie.
//!
//! Spawning the app is `qubital_testkit`'s: it links this crate, so this crate cannot depend on
//! it. A test points the app at the fake with [`workos_settings`].

use platform_workos::fake::FakeWorkos;
use qubital_testclient::Client;
use serde_json::{json, Value};

pub use qubital_testclient::{problem_type, read};

/// The web redirect URI the tests' app is configured with (the fake redirects there).
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// Signs in through the development sign-in (`/auth/dev/sign-in`) of the app at `base`
/// (`TestApp::address`): the user `email` becomes a member of `organization` (created if new)
/// with `role`. The client's `user` is the User DTO.
pub async fn sign_in(base: &str, email: &str, organization: &str, role: &str) -> Client {
    let mut client = Client::new(base);
    client.user = client
        .ok(
            "/auth/dev/sign-in",
            json!({"email": email, "organizationName": organization, "role": role}),
        )
        .await;
    client
}

/// The settings (command-line flags) that point the app at `fake`, with [`REDIRECT_URI`] as
/// the web OAuth redirect: `TestApp::builder().arg(..)` each.
pub fn workos_settings(fake: &FakeWorkos) -> Vec<String> {
    let mut settings = fake.args();
    settings.extend(["--workos-redirect-uri".to_owned(), REDIRECT_URI.to_owned()]);
    settings
}

/// Visits the authorization URL at the fake (as the browser would) and returns the `code` and
/// `state` of the redirect back to [`REDIRECT_URI`].
pub async fn authorize(url: &str) -> (String, String) {
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
        .get(url)
        .send()
        .await
        .expect("the fake answers");
    assert_eq!(
        response.status().as_u16(),
        302,
        "{}",
        response.text().await.unwrap_or_default()
    );
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    let query = location.split_once('?').unwrap().1;
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_default()
            .to_owned()
    };
    (param("code"), param("state"))
}

/// A full web OAuth sign-in of `email` on `client` (the fake decides the organization). Returns
/// the finalize result (`AuthResult`).
pub async fn web_sign_in(client: &Client, fake: &FakeWorkos, email: &str) -> Value {
    let started = client.ok("/auth/start-oauth", json!({ "client": "web" })).await;
    fake.sign_in_as(email);
    let (code, state) = authorize(started["authorizationUrl"].as_str().unwrap()).await;
    assert_eq!(state, started["state"]);
    client
        .ok("/auth/finalize-oauth", json!({ "code": code, "state": state }))
        .await
}

/// A new WorkOS user, signed in on a new client to the app at `base` as the admin of a new
/// WorkOS organization `organization` (created through sign-up). The client's `user` is the
/// User DTO.
pub async fn workos_admin(base: &str, fake: &FakeWorkos, email: &str, organization: &str) -> Client {
    let mut client = Client::new(base);
    let result = web_sign_in(&client, fake, email).await;
    assert_eq!(result["status"], "sign-up-required", "{result}");
    client.user = client
        .ok(
            "/auth/sign-up",
            json!({ "signUpId": result["signUpId"], "organizationName": organization }),
        )
        .await;
    client
}
