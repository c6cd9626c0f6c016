//! The guests test steps: an app talking to `platform-livekit`'s fake, spaces and invitations
//! made by signed-in members, and a guest's anonymous browser.

#![allow(dead_code, unused_imports)]

pub use platform_livekit::fake::{FakeLiveKit, API_KEY as LIVEKIT_KEY, API_SECRET as LIVEKIT_SECRET};
pub use qubital_auth::test_support::{problem_type, read, sign_in};
pub use qubital_testkit::Client;
use qubital_testkit::{TestApp, TestAppBuilder};
use serde_json::{json, Value};

/// The join page the tests' apps put in invitation URLs.
pub const JOIN_URL: &str = "https://app.example.test/join";

/// An app whose conference is `livekit`.
pub fn app(livekit: &FakeLiveKit) -> TestAppBuilder {
    livekit
        .args()
        .into_iter()
        .fold(TestApp::builder(), TestAppBuilder::arg)
        .arg("--guest-join-url")
        .arg(JOIN_URL)
}

/// Creates a space in `client`'s organization; returns its id.
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

/// An invitation made by `client`: `(answer, space id of its URL, token of its URL)`.
pub async fn invite(client: &Client, body: Value) -> (Value, String, String) {
    let answer = client.ok("/guests/invite", body).await;
    let url = answer["inviteUrl"].as_str().unwrap();
    let query = url
        .strip_prefix(&format!("{JOIN_URL}?"))
        .unwrap_or_else(|| panic!("{url} is the join page"));
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{url} has {name}"))
            .to_owned()
    };
    (answer.clone(), param("space"), param("invite"))
}

/// An invitation into `space` for `seconds` that any member admits: `(invite id, token)`.
pub async fn open_invite(client: &Client, space: &str, seconds: u32) -> (String, String) {
    let (answer, _, token) = invite(
        client,
        json!({"spaceId": space, "durationSeconds": seconds, "admitBy": "anyone"}),
    )
    .await;
    (answer["id"].as_str().unwrap().to_owned(), token)
}

/// A guest knocking with `token` on `space`: `(guest id, guest secret)`.
pub async fn join(guest: &Client, space: &str, token: &str, name: &str) -> (String, String) {
    let answer = guest
        .ok(
            "/guests/join",
            json!({"spaceId": space, "inviteToken": token, "displayName": name}),
        )
        .await;
    assert_eq!(answer["status"], "waiting", "{answer}");
    (
        answer["guestId"].as_str().unwrap().to_owned(),
        answer["guestSecret"].as_str().unwrap().to_owned(),
    )
}

/// The guest's poll: `(status code, answer)`.
pub async fn status(guest: &Client, guest_id: &str, secret: &str) -> (u16, Value) {
    guest
        .post(
            &format!("/guests/{guest_id}/status"),
            json!({"guestSecret": secret}),
        )
        .await
}
