//! Malformed, missing, mistyped and oversized input on every identity operation: always a 4xx
//! problem, never a 5xx.

extern crate qubital_organizations;
extern crate qubital_users;

mod support;

use qubital_auth::test_support::workos_admin;
use qubital_testkit::TestApp;
use serde_json::{json, Value};
use support::*;

/// Every identity operation: path, a valid-looking body, its string fields, and whether the
/// body has required fields.
fn operations(org: &str, member: &str, invitation: &str) -> Vec<(String, Value, Vec<&'static str>)> {
    vec![
        (
            "/auth/start-oauth".into(),
            json!({ "client": "web" }),
            vec![
                "client",
                "codeChallenge",
                "provider",
                "invitationToken",
                "loginHint",
            ],
        ),
        (
            "/auth/finalize-oauth".into(),
            json!({ "code": "c", "state": "s" }),
            vec!["code", "state", "codeVerifier"],
        ),
        (
            "/auth/start-magic-auth".into(),
            json!({ "email": "a@b.test" }),
            vec!["email"],
        ),
        (
            "/auth/finalize-magic-auth".into(),
            json!({ "email": "a@b.test", "code": "1" }),
            vec!["email", "code", "invitationToken"],
        ),
        (
            "/auth/select-organization".into(),
            json!({ "selectionId": "s", "organizationId": org }),
            vec!["selectionId", "organizationId"],
        ),
        (
            "/auth/switch-organization".into(),
            json!({ "organizationId": org }),
            vec!["organizationId"],
        ),
        (
            "/auth/sign-up".into(),
            json!({ "signUpId": "s", "organizationName": "n" }),
            vec!["signUpId", "organizationName", "invitationToken", "inviteId"],
        ),
        (
            "/auth/dev/sign-in".into(),
            json!({ "email": "a@b.test" }),
            vec!["email", "organizationName", "role"],
        ),
        (
            "/organizations/create".into(),
            json!({ "name": "n" }),
            vec!["name"],
        ),
        (format!("/organizations/{org}/get"), json!({}), vec![]),
        (
            format!("/organizations/{org}/update"),
            json!({ "name": "n" }),
            vec!["name"],
        ),
        (
            "/members/list".into(),
            json!({}),
            vec!["query", "limit", "offset"],
        ),
        (
            format!("/members/{member}/update"),
            json!({ "role": "member" }),
            vec!["role"],
        ),
        (format!("/members/{member}/remove"), json!({}), vec![]),
        (
            "/invitations/create".into(),
            json!({ "email": "x@y.test" }),
            vec!["email", "role"],
        ),
        ("/invitations/list".into(), json!({}), vec!["limit", "offset"]),
        (format!("/invitations/{invitation}/revoke"), json!({}), vec![]),
        (
            "/invitations/accept".into(),
            json!({ "token": "t" }),
            vec!["token"],
        ),
        ("/invitations/link/get".into(), json!({}), vec![]),
        ("/invitations/link/rotate".into(), json!({}), vec![]),
        (
            "/invitations/link/join".into(),
            json!({ "inviteId": "i" }),
            vec!["inviteId"],
        ),
        ("/user/get".into(), json!({}), vec![]),
        (
            "/user/update".into(),
            json!({ "displayName": "d" }),
            vec!["displayName", "firstName", "lastName"],
        ),
        ("/auth/sign-out".into(), json!({}), vec![]),
    ]
}

/// Sends `request` expecting a 4xx problem; its status.
async fn expect_4xx(path: &str, request: reqwest::RequestBuilder, what: &str) -> u16 {
    let response = request.send().await.expect("the request is sent");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().await.unwrap_or_default();
    assert!((400..500).contains(&status), "{path} {what}: {status} {text}");
    assert_eq!(content_type, "application/problem+json", "{path} {what}: {text}");
    status
}

#[tokio::test]
async fn bad_input_on_every_operation_is_a_4xx_problem() {
    let fake = platform_workos::fake::FakeWorkos::start().await;
    let app = with_workos(TestApp::builder(), &fake)
        .arg("--sign-in-rate-limit")
        .arg("100000")
        .spawn()
        .await;
    let client = workos_admin(&app.address, &fake, "ada@acme.test", "Acme").await;
    let me = client.user.clone();
    let org = me["currentOrganizationId"].as_str().unwrap().to_owned();
    let invitation = client
        .ok("/invitations/create", json!({ "email": "bob@acme.test" }))
        .await;
    let member = me["id"].as_str().unwrap().to_owned();
    let invitation = invitation["id"].as_str().unwrap().to_owned();

    let huge = "x".repeat(20_000);
    for (path, valid, fields) in operations(&org, &member, &invitation) {
        let url = app.url(&path);
        let malformed = client
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body("{\"oops\": ");
        assert_eq!(expect_4xx(&path, malformed, "malformed JSON").await, 400);
        // Operations without a body ignore one; the others refuse other media types and shapes.
        let has_body = !(path.ends_with("/get")
            || path.ends_with("/remove")
            || path.ends_with("/revoke")
            || path.ends_with("/rotate")
            || path == "/auth/sign-out");
        if has_body {
            let wrong_type = client
                .http
                .post(&url)
                .header("content-type", "text/plain")
                .body("hello");
            assert_eq!(expect_4xx(&path, wrong_type, "text body").await, 415);
            let array = client.http.post(&url).json(&json!([1, 2]));
            assert_eq!(expect_4xx(&path, array, "array body").await, 422);
        }
        if valid.as_object().is_some_and(|o| !o.is_empty()) && !path.starts_with("/user/update") {
            let missing = client.http.post(&url).json(&json!({}));
            assert_eq!(expect_4xx(&path, missing, "missing fields").await, 422);
        }
        for field in fields {
            for (what, value) in [
                ("oversized", Value::String(huge.clone())),
                ("an object", json!({ "nested": true })),
                ("a list", json!(["a"])),
            ] {
                let mut body = valid.clone();
                body[field] = value;
                let request = client.http.post(&url).json(&body);
                expect_4xx(&path, request, &format!("{field} as {what}")).await;
            }
        }
    }

    // Ids in paths that are not ids at all.
    for path in [
        format!("/organizations/{huge}/get"),
        format!("/members/{huge}/update"),
        "/members/-1/remove".to_owned(),
        "/members/99999999999999999999999/remove".to_owned(),
        format!("/invitations/{huge}/revoke"),
        "/invitations/00000000-0000-0000-0000-000000000000/revoke".to_owned(),
    ] {
        let request = client
            .http
            .post(app.url(&path))
            .json(&json!({ "role": "member", "name": "n" }));
        expect_4xx(&path, request, "bad id").await;
    }

    // Without a cookie, or with a forged one: 401.
    for path in [
        "/user/get",
        "/members/list",
        "/auth/sign-out",
        "/invitations/link/get",
    ] {
        let request = reqwest::Client::new().post(app.url(path)).json(&json!({}));
        assert_eq!(expect_4xx(path, request, "no cookie").await, 401);
        let request = reqwest::Client::new()
            .post(app.url(path))
            .header("cookie", "access_token=eyJhbGciOiJIUzI1NiJ9.e30.forged")
            .json(&json!({}));
        assert_eq!(expect_4xx(path, request, "forged cookie").await, 401);
    }
    // The session is still fine after all that.
    client.ok("/user/get", json!({})).await;
}
