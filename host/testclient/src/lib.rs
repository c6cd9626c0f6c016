//! A browser-like API client for tests: its own cookie jar, JSON posts, and answers read the way
//! a client reads them (an error must be an RFC 9457 problem whose `status` is the response's).
//!
//! Signing in is the identity feature's business: its `test-support` Cargo feature returns a
//! [`Client`] that holds a session cookie. Feature tests add their own steps as free functions
//! taking `&Client` (in their `tests/support/mod.rs`), never as wrapper types.

use serde_json::Value;

/// One browser: a cookie jar and the app's address.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    /// The app's address (`http://127.0.0.1:<port>`).
    pub base: String,
    /// What the sign-in answered (the User DTO), or `null` for an anonymous client.
    pub user: Value,
}

impl Client {
    /// A new anonymous browser for the app at `base`.
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        Self {
            http,
            base: base.to_owned(),
            user: Value::Null,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The signed-in user's id.
    pub fn user_id(&self) -> &str {
        self.user["id"].as_str().expect("a signed-in client")
    }

    /// The public id of the organization the client acts in.
    pub fn organization_id(&self) -> &str {
        self.user["currentOrganizationId"]
            .as_str()
            .expect("a signed-in client with a current organization")
    }

    /// `POST` a JSON body; the raw response.
    pub async fn send(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("the app answers")
    }

    /// `POST` a JSON body; the status and the JSON answer (`null` when there is none).
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        read(self.send(path, &body).await).await
    }

    /// `POST` expecting a 2xx answer; its JSON body (`null` when empty).
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.post(path, body.clone()).await;
        assert!((200..300).contains(&status), "{path} {body}: {status} {answer}");
        answer
    }

    /// `POST` expecting a 2xx answer within `limit` (say, while a vendor stalls another request,
    /// to show that request holds nothing this one needs); its JSON body.
    pub async fn ok_within(&self, limit: std::time::Duration, path: &str, body: Value) -> Value {
        let started = std::time::Instant::now();
        let answer = self.ok(path, body).await;
        let took = started.elapsed();
        assert!(took < limit, "{path} took {took:?}, more than {limit:?}");
        answer
    }

    /// `POST` expecting a problem with `status`; the problem.
    pub async fn fails(&self, path: &str, body: Value, status: u16) -> Value {
        let (actual, answer) = self.post(path, body.clone()).await;
        assert_eq!(actual, status, "{path} {body}: {answer}");
        answer
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
