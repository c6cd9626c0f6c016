//! Helpers shared by the identity integration tests (included by path from the users and
//! organizations crates too).
#![allow(dead_code)]

use platform_workos::fake::FakeWorkos;
use qubital_testkit::{TestApp, TestAppBuilder};
use serde_json::{json, Value};

pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// The app in development, pointed at a fresh WorkOS fake.
pub async fn app_with_workos() -> (TestApp, FakeWorkos) {
    let fake = FakeWorkos::start().await;
    let app = with_workos(TestApp::builder(), &fake).spawn().await;
    (app, fake)
}

pub fn with_workos(mut builder: TestAppBuilder, fake: &FakeWorkos) -> TestAppBuilder {
    for arg in fake.args() {
        builder = builder.arg(arg);
    }
    builder.arg("--workos-redirect-uri").arg(REDIRECT_URI)
}

/// A client with its own cookie store (another browser).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

pub async fn post(app: &TestApp, client: &reqwest::Client, path: &str, body: &Value) -> reqwest::Response {
    client
        .post(app.url(path))
        .json(body)
        .send()
        .await
        .expect("the request is sent")
}

/// `POST` and read a 2xx JSON body, with the status and body in the panic message otherwise.
pub async fn ok(app: &TestApp, client: &reqwest::Client, path: &str, body: &Value) -> Value {
    let response = post(app, client, path, body).await;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "{path}: {status} {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("a JSON body")
    }
}

/// `POST` expecting a problem with `status`; returns the problem.
pub async fn fails(app: &TestApp, client: &reqwest::Client, path: &str, body: &Value, status: u16) -> Value {
    let response = post(app, client, path, body).await;
    let actual = response.status().as_u16();
    if actual != status {
        let text = response.text().await.unwrap_or_default();
        panic!("{path} {body}: expected {status}, got {actual}: {text}");
    }
    qubital_testkit::problem(response).await
}

/// Signs `client` in with the development sign-in.
pub async fn dev_sign_in(app: &TestApp, client: &reqwest::Client, email: &str, organization: &str) -> Value {
    ok(
        app,
        client,
        "/auth/dev/sign-in",
        &json!({ "email": email, "organizationName": organization }),
    )
    .await
}

/// The `access_token` value a response sets, if any.
pub fn access_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("access_token="))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
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

/// Visits the authorization URL at the fake (as the browser would) and returns the `code` and
/// `state` of the redirect back.
pub async fn authorize(url: &str) -> (String, String) {
    let response = browser().get(url).send().await.expect("the fake answers");
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

/// A full web OAuth sign-in of `email` (the fake decides the organization). Returns the
/// finalize result (`AuthResult`).
pub async fn web_sign_in(app: &TestApp, client: &reqwest::Client, fake: &FakeWorkos, email: &str) -> Value {
    let started = ok(app, client, "/auth/start-oauth", &json!({ "client": "web" })).await;
    fake.sign_in_as(email);
    let (code, state) = authorize(started["authorizationUrl"].as_str().unwrap()).await;
    assert_eq!(state, started["state"]);
    ok(
        app,
        client,
        "/auth/finalize-oauth",
        &json!({ "code": code, "state": state }),
    )
    .await
}

/// A WorkOS user who is admin of a new WorkOS organization, signed in on `client`. Returns the
/// User DTO.
pub async fn workos_admin(
    app: &TestApp,
    client: &reqwest::Client,
    fake: &FakeWorkos,
    email: &str,
    org: &str,
) -> Value {
    let result = web_sign_in(app, client, fake, email).await;
    assert_eq!(result["status"], "sign-up-required", "{result}");
    ok(
        app,
        client,
        "/auth/sign-up",
        &json!({ "signUpId": result["signUpId"], "organizationName": org }),
    )
    .await
}
