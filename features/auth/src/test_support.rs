//! A signed-in client for integration tests of this and other features (Cargo feature
//! `test-support`, enabled from `[dev-dependencies]` only): the development sign-in, a cookie
//! jar, JSON posts whose error bodies are checked to be RFC 9457 problems.
//!
//! It speaks HTTP to a running app (`base` is its address, e.g. `TestApp::address`), so it
//! depends on no test harness.

use serde_json::{json, Value};

/// A browser-like client, signed in.
pub struct Client {
    pub http: reqwest::Client,
    /// The app's address (`http://127.0.0.1:<port>`).
    pub base: String,
    /// The User DTO the sign-in returned.
    pub user: Value,
}

/// Signs in through the development sign-in (`/auth/dev/sign-in`): the user `email` becomes a
/// member of `organization` (created if new) with `role`.
pub async fn sign_in(base: &str, email: &str, organization: &str, role: &str) -> Client {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("a client");
    let response = http
        .post(format!("{base}/auth/dev/sign-in"))
        .json(&json!({"email": email, "organizationName": organization, "role": role}))
        .send()
        .await
        .expect("the app answers");
    let (status, user) = read(response).await;
    assert_eq!(status, 200, "dev sign-in: {user}");
    Client {
        http,
        base: base.to_owned(),
        user,
    }
}

impl Client {
    /// The signed-in user's id.
    pub fn user_id(&self) -> &str {
        self.user["id"].as_str().expect("a user id")
    }

    /// The public id of the organization the client acts in.
    pub fn organization_id(&self) -> &str {
        self.user["currentOrganizationId"]
            .as_str()
            .expect("a current organization")
    }

    /// `POST` a JSON body; the status and the JSON answer (`null` when there is none).
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("the app answers");
        read(response).await
    }

    /// `POST` expecting `200`; the JSON answer.
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let (status, body) = self.post(path, body).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }
}

/// Status and JSON body (`null` when empty); an error body is checked to be a problem whose
/// `status` is the response's.
pub async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}"))
    };
    if status >= 400 {
        assert_eq!(content_type, "application/problem+json", "{status} {body}");
        assert_eq!(body["status"], status, "{body}");
    }
    (status, body)
}

/// A problem's `type`, without the [`qubital_plugin::problem::TYPE_PREFIX`].
pub fn problem_type(body: &Value) -> &str {
    body["type"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches(qubital_plugin::problem::TYPE_PREFIX)
}
