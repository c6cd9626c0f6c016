//! Shared by the realtime test binaries: signed-in clients, a conference server configuration.

#![allow(dead_code)]

use qubital_testkit::TestApp;
use serde_json::{json, Value};

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

/// A browser-like client signed in through the development sign-in.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    /// The User DTO the sign-in returned.
    pub user: Value,
}

pub async fn sign_in(app: &TestApp, email: &str, organization: &str, role: &str) -> Client {
    let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let response = http
        .post(app.url("/auth/dev/sign-in"))
        .json(&json!({"email": email, "organizationName": organization, "role": role}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let user = response.json().await.unwrap();
    Client {
        http,
        base: app.address.clone(),
        user,
    }
}

impl Client {
    pub fn user_id(&self) -> &str {
        self.user["id"].as_str().unwrap()
    }

    pub fn organization_id(&self) -> &str {
        self.user["currentOrganizationId"].as_str().unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        read(response).await
    }

    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let (status, body) = self.post(path, body).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

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

/// Status and JSON body; error bodies are checked to be problems.
pub async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status >= 400 {
        assert_eq!(content_type, "application/problem+json", "{status} {body}");
        assert_eq!(body["status"], status, "{body}");
    }
    (status, body)
}

pub fn problem_type(body: &Value) -> &str {
    body["type"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("https://qubital.app/errors/")
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
