//! Shared by the calendar test binaries: an app talking to `platform-calendar`'s fake Google,
//! the connect dance as a browser does it, spaces and events to work on, and a sync pass on
//! demand. Clients are `qubital_testkit::Client`s signed in with the identity feature's
//! `sign_in`.

#![allow(dead_code, unused_imports)] // each test binary uses part of it

pub use platform_calendar::fake::{FakeGoogle, ACCOUNT_EMAIL};
pub use qubital_auth::test_support::{problem_type, read, sign_in};
use qubital_calendar::jobs::{self, Outcome};
pub use qubital_testkit::Client;
use qubital_testkit::{TestApp, TestAppBuilder};
use serde_json::{json, Value};

/// The join links' base the test apps are configured with.
pub const JOIN_BASE: &str = "https://app.qubital.test/spaces/";

/// An app with the calendar feature configured (join links), plus `args`. Its sync job would
/// sync a connection a day after connecting: the tests sync on demand ([`sync`]).
pub fn app_builder(args: Vec<String>) -> TestAppBuilder {
    app_syncing_every(86_400, args)
}

/// An app whose sync job syncs each connection every `secs` seconds.
pub fn app_syncing_every(secs: u64, args: Vec<String>) -> TestAppBuilder {
    let mut builder = TestApp::builder()
        .arg("--calendar-join-url-base")
        .arg(JOIN_BASE)
        .arg("--calendar-sync-interval-secs")
        .arg(secs.to_string());
    for arg in args {
        builder = builder.arg(arg);
    }
    builder
}

/// An app whose Google is `google`.
pub async fn app(google: &FakeGoogle) -> TestApp {
    app_builder(google.args()).spawn().await
}

/// Starts a connect: the authorization URL the app answers.
pub async fn start_connect(client: &Client, provider: &str) -> String {
    client
        .ok(&format!("/calendar/{provider}/connect"), json!({}))
        .await["authorizationUrl"]
        .as_str()
        .expect("an authorization URL")
        .to_owned()
}

/// Connects `client`'s member to the fake Google as the browser would: connect, consent,
/// callback. The connection DTO.
pub async fn connect_google(client: &Client, google: &FakeGoogle) -> Value {
    let url = start_connect(client, "google").await;
    let consent = google
        .authorize(&url)
        .expect("the fake's consent screen accepts the URL");
    client
        .ok(
            "/calendar/google/callback",
            json!({"code": consent.code, "state": consent.state}),
        )
        .await
}

pub async fn create_space(client: &Client, name: &str) -> String {
    client
        .ok(
            "/spaces/create",
            json!({"name": name, "layout": "office", "dimension": "medium", "style": "modern"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `{dateTime, timeZone}` in Paris.
pub fn paris(date_time: &str) -> Value {
    json!({"dateTime": date_time, "timeZone": "Europe/Paris"})
}

/// Schedules a one-hour event in `space` on 2030-03-04 at `hour` UTC, inviting `attendees`
/// (user ids).
pub async fn create_event(client: &Client, space: &str, title: &str, hour: u32, attendees: &[&str]) -> Value {
    client
        .ok(
            "/calendar/events/create",
            json!({
                "spaceId": space,
                "title": title,
                "start": paris(&format!("2030-03-04T{hour:02}:00:00Z")),
                "end": paris(&format!("2030-03-04T{:02}:00:00Z", hour + 1)),
                "attendeeIds": attendees,
            }),
        )
        .await
}

/// The organization's events of March 2030.
pub async fn events(client: &Client) -> Value {
    client
        .ok(
            "/calendar/events/list",
            json!({"from": "2030-03-01T00:00:00Z", "to": "2030-04-01T00:00:00Z", "limit": 100}),
        )
        .await
}

/// One event of a list by id.
pub fn find<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("event {id} is not listed: {list}"))
}

/// One sync pass over every active connection (what the job does every interval).
pub async fn sync(app: &TestApp) -> Vec<Outcome> {
    jobs::sync_all(&app.ctx)
        .await
        .expect("the sync runs")
        .into_iter()
        .map(|(_, outcome)| outcome)
        .collect()
}

/// The refresh token of the only connection, opened with the app's sealer (tests only: it
/// proves the column holds it encrypted).
pub async fn stored_refresh_token(app: &TestApp) -> (Vec<u8>, String) {
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT refresh_token FROM calendar_connections")
        .fetch_one(app.db())
        .await
        .expect("one connection");
    let plain = app
        .ctx
        .get::<qubital_auth::AuthState>()
        .sealer()
        .open(&sealed, "calendar_connections.refresh_token")
        .expect("sealed with the identity feature's key");
    (sealed, plain)
}

/// `POST path` with `{}`, answered `204 No Content`.
pub async fn no_content(client: &Client, path: &str) {
    let (status, body) = client.post(path, json!({})).await;
    assert_eq!(status, 204, "{path}: {body}");
}

/// An RFC 3339 instant of a response, in UTC with `Z`.
pub fn utc(value: &Value) -> String {
    chrono::DateTime::parse_from_rfc3339(value.as_str().expect("an instant"))
        .expect("RFC 3339")
        .with_timezone(&chrono::Utc)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
