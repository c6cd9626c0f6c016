//! Sign-in flows against a local WorkOS fake: OAuth (web with backend-managed PKCE, desktop
//! with client PKCE), Magic Auth, organization selection and switching, sign-up, refresh of an
//! expired access token, sign-out, rate limit, and the development sign-in.

extern crate qubital_auth;

mod support;

use std::time::Duration;

use qubital_auth::test_support::{authorize, sign_in, web_sign_in};
use qubital_testkit::{Client, TestApp};
use serde_json::{json, Value};
use support::*;

async fn whoami_with_cookie(app: &TestApp, cookie: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/test/whoami"))
        .header("cookie", format!("access_token={cookie}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn web_oauth_signs_in_with_backend_managed_pkce() {
    let (app, fake) = app_with_workos().await;
    let org = fake.create_organization("Acme");
    let user = fake.create_user("ada@acme.test");
    fake.add_membership(&user.id, &org, "admin");
    let client = app.browser();

    let started = client.ok("/auth/start-oauth", json!({ "client": "web" })).await;
    let url = started["authorizationUrl"].as_str().unwrap();
    assert!(url.starts_with(&fake.url), "{url}");
    assert!(
        url.contains("code_challenge=") && url.contains("code_challenge_method=S256"),
        "{url}"
    );
    assert!(url.contains("provider=GoogleOAuth"), "{url}");

    fake.sign_in_as("ada@acme.test");
    let (code, state) = authorize(url).await;
    let response = client
        .send("/auth/finalize-oauth", &json!({ "code": code, "state": state }))
        .await;
    assert_eq!(response.status(), 200);
    let cookie = access_cookie_header(&response).expect("the cookie is set");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "development cookies are not Secure: {cookie}"
    );
    let token = access_cookie(&response).unwrap();
    let text = response.text().await.unwrap();
    assert!(!text.contains(&token), "the token is not in the body");
    assert!(!text.contains("refresh"), "{text}");
    let result: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(result["status"], "signed-in");
    let me = &result["user"];
    assert_eq!(me["email"], "ada@acme.test");
    assert_eq!(me["displayName"], "ada");
    assert!(me["avatarUrl"].is_null());
    assert_eq!(me["organizationMemberships"][0]["organization"]["name"], "Acme");
    assert_eq!(me["organizationMemberships"][0]["role"], "admin");
    assert_eq!(
        me["currentOrganizationId"],
        me["organizationMemberships"][0]["organization"]["id"]
    );
    assert!(
        !text.contains(&org) && !text.contains(&user.id),
        "no WorkOS ids on the wire: {text}"
    );

    let who: Value = whoami(&client).await.json().await.unwrap();
    assert_eq!(who["role"], "admin");
    assert_eq!(who["user_id"].to_string(), me["id"].as_str().unwrap());

    // The WorkOS refresh token is kept sealed.
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT refresh_token FROM user_sessions")
        .fetch_one(app.db())
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains("refresh_"));
    assert_eq!(sealed[0], 1, "sealed format version");
}

#[tokio::test]
async fn desktop_oauth_checks_the_client_pkce_verifier() {
    let (app, fake) = app_with_workos().await;
    let org = fake.create_organization("Acme");
    let user = fake.create_user("dev@acme.test");
    fake.add_membership(&user.id, &org, "member");
    let client = app.browser();
    let verifier = "v".repeat(43) + "0123456789";
    let challenge = qubital_auth::crypto::s256(&verifier);

    // Desktop needs a challenge; web must not send one.
    let problem = client
        .fails("/auth/start-oauth", json!({ "client": "desktop" }), 422)
        .await;
    assert_eq!(problem["errors"][0]["location"], "body.codeChallenge");
    client
        .fails(
            "/auth/start-oauth",
            json!({ "client": "web", "codeChallenge": challenge }),
            422,
        )
        .await;

    let started = client
        .ok(
            "/auth/start-oauth",
            json!({ "client": "desktop", "codeChallenge": challenge }),
        )
        .await;
    fake.sign_in_as("dev@acme.test");
    let (code, state) = authorize(started["authorizationUrl"].as_str().unwrap()).await;
    let wrong = "w".repeat(43);
    let problem = client
        .fails(
            "/auth/finalize-oauth",
            json!({ "code": code, "state": state, "codeVerifier": wrong }),
            400,
        )
        .await;
    assert_eq!(problem["type"], "https://qubital.app/errors/pkce-mismatch");
    // The state was spent by the failed attempt.
    let problem = client
        .fails(
            "/auth/finalize-oauth",
            json!({ "code": code, "state": state, "codeVerifier": verifier }),
            404,
        )
        .await;
    assert_eq!(problem["type"], "https://qubital.app/errors/oauth-state-invalid");

    let started = client
        .ok(
            "/auth/start-oauth",
            json!({ "client": "desktop", "codeChallenge": challenge, "provider": "microsoft" }),
        )
        .await;
    assert!(started["authorizationUrl"]
        .as_str()
        .unwrap()
        .contains("provider=MicrosoftOAuth"));
    fake.sign_in_as("dev@acme.test");
    let (code, state) = authorize(started["authorizationUrl"].as_str().unwrap()).await;
    let result = client
        .ok(
            "/auth/finalize-oauth",
            json!({ "code": code, "state": state, "codeVerifier": verifier }),
        )
        .await;
    assert_eq!(result["status"], "signed-in");
    assert_eq!(result["user"]["organizationMemberships"][0]["role"], "member");
}

#[tokio::test]
async fn oauth_state_is_single_use_and_expires() {
    let (app, fake) = app_with_workos().await;
    let org = fake.create_organization("Acme");
    let user = fake.create_user("ada@acme.test");
    fake.add_membership(&user.id, &org, "member");
    let client = app.browser();

    let started = client.ok("/auth/start-oauth", json!({ "client": "web" })).await;
    fake.sign_in_as("ada@acme.test");
    let (code, state) = authorize(started["authorizationUrl"].as_str().unwrap()).await;
    client
        .ok("/auth/finalize-oauth", json!({ "code": code, "state": state }))
        .await;
    let problem = client
        .fails(
            "/auth/finalize-oauth",
            json!({ "code": code, "state": state }),
            404,
        )
        .await;
    assert_eq!(problem["type"], "https://qubital.app/errors/oauth-state-invalid");

    let problem = client
        .fails(
            "/auth/finalize-oauth",
            json!({ "code": "x", "state": "never-issued" }),
            404,
        )
        .await;
    assert_eq!(problem["type"], "https://qubital.app/errors/oauth-state-invalid");

    let started = client.ok("/auth/start-oauth", json!({ "client": "web" })).await;
    fake.sign_in_as("ada@acme.test");
    let (code, state) = authorize(started["authorizationUrl"].as_str().unwrap()).await;
    sqlx::query("UPDATE oauth_states SET expires_at = now() - interval '1 second' WHERE state = $1")
        .bind(&state)
        .execute(app.db())
        .await
        .unwrap();
    let problem = client
        .fails(
            "/auth/finalize-oauth",
            json!({ "code": code, "state": state }),
            400,
        )
        .await;
    assert_eq!(problem["type"], "https://qubital.app/errors/oauth-state-expired");
    // And it is gone too.
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM oauth_states")
        .fetch_one(app.db())
        .await
        .unwrap();
    assert_eq!(left, 0);

    // A code WorkOS refuses is a 401 problem, never a 500.
    let started = client.ok("/auth/start-oauth", json!({ "client": "web" })).await;
    let problem = client
        .fails(
            "/auth/finalize-oauth",
            json!({ "code": "forged", "state": started["state"] }),
            401,
        )
        .await;
    assert_eq!(problem["type"], "https://qubital.app/errors/sign-in-rejected");
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_from_the_session() {
    let fake = platform_workos::fake::FakeWorkos::start().await;
    // Two seconds: `exp` is whole seconds, so a token lives between one and two (a one-second
    // token issued late in its second could expire before the next request, which would then
    // refresh again); every 2.1 s pause below still outlasts it.
    let app = with_workos(TestApp::builder(), &fake)
        .arg("--access-token-ttl-secs")
        .arg("2")
        .spawn()
        .await;
    let org = fake.create_organization("Acme");
    let user = fake.create_user("ada@acme.test");
    fake.add_membership(&user.id, &org, "member");
    let client = app.browser();
    let started = client.ok("/auth/start-oauth", json!({ "client": "web" })).await;
    fake.sign_in_as("ada@acme.test");
    let (code, state) = authorize(started["authorizationUrl"].as_str().unwrap()).await;
    let response = client
        .send("/auth/finalize-oauth", &json!({ "code": code, "state": state }))
        .await;
    let first = access_cookie(&response).unwrap();
    let sealed_before: Vec<u8> = sqlx::query_scalar("SELECT refresh_token FROM user_sessions")
        .fetch_one(app.db())
        .await
        .unwrap();
    let refreshes_before = fake.count_calls("POST /user_management/authenticate");

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let response = whoami(&client).await;
    assert_eq!(response.status(), 200);
    let second = access_cookie(&response).expect("the cookie is re-issued");
    assert_ne!(first, second);
    assert_eq!(
        fake.count_calls("POST /user_management/authenticate"),
        refreshes_before + 1
    );
    let sealed_after: Vec<u8> = sqlx::query_scalar("SELECT refresh_token FROM user_sessions")
        .fetch_one(app.db())
        .await
        .unwrap();
    assert_ne!(sealed_before, sealed_after, "the rotated refresh token is stored");
    // The fresh token works without another refresh.
    assert_eq!(whoami(&client).await.status(), 200);
    assert_eq!(
        fake.count_calls("POST /user_management/authenticate"),
        refreshes_before + 1
    );

    // Concurrent requests with the same expired token: one WorkOS refresh, all succeed.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let responses = futures::future::join_all((0..4).map(|_| whoami_with_cookie(&app, &second))).await;
    for response in responses {
        assert_eq!(response.status(), 200);
        assert!(access_cookie(&response).is_some(), "each gets a new token");
    }
    assert_eq!(
        fake.count_calls("POST /user_management/authenticate"),
        refreshes_before + 2
    );
    let leases: i64 = sqlx::query_scalar("SELECT count(*) FROM user_sessions WHERE lease_id IS NOT NULL")
        .fetch_one(app.db())
        .await
        .unwrap();
    assert_eq!(leases, 0, "those that waited gave the refresh-token lease back");

    // When WorkOS refuses the refresh (session ended there), the session ends here.
    fake.revoke_refresh_tokens(&user.id);
    sqlx::query("UPDATE user_sessions SET refreshed_at = now() - interval '1 hour'")
        .execute(app.db())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let response = whoami(&client).await;
    assert_eq!(response.status(), 401);
    let problem = qubital_testkit::problem(response).await;
    assert_eq!(problem["type"], "https://qubital.app/errors/session-ended");
    let reason: Option<String> = sqlx::query_scalar("SELECT end_reason FROM user_sessions")
        .fetch_one(app.db())
        .await
        .unwrap();
    assert_eq!(reason.as_deref(), Some("refresh-refused"));
}

#[tokio::test]
async fn sign_out_ends_the_session_and_the_old_cookie_stops_working() {
    let (app, fake) = app_with_workos().await;
    let org = fake.create_organization("Acme");
    let user = fake.create_user("ada@acme.test");
    fake.add_membership(&user.id, &org, "member");
    let client = app.browser();
    let started = client.ok("/auth/start-oauth", json!({ "client": "web" })).await;
    fake.sign_in_as("ada@acme.test");
    let (code, state) = authorize(started["authorizationUrl"].as_str().unwrap()).await;
    let response = client
        .send("/auth/finalize-oauth", &json!({ "code": code, "state": state }))
        .await;
    let cookie = access_cookie(&response).unwrap();
    assert_eq!(whoami_with_cookie(&app, &cookie).await.status(), 200);

    let response = client.send("/auth/sign-out", &json!({})).await;
    assert_eq!(response.status(), 204);
    let cleared = access_cookie_header(&response).expect("the cookie is cleared");
    assert!(cleared.starts_with("access_token=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    // The old cookie, replayed by someone who kept it, no longer works.
    let response = whoami_with_cookie(&app, &cookie).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        qubital_testkit::problem(response).await["type"],
        "https://qubital.app/errors/session-ended"
    );
    assert_eq!(client.send("/auth/sign-out", &json!({})).await.status(), 401);
    let sealed: Option<Vec<u8>> = sqlx::query_scalar("SELECT refresh_token FROM user_sessions")
        .fetch_one(app.db())
        .await
        .unwrap();
    assert!(sealed.is_none(), "an ended session forgets its refresh token");
    // The WorkOS session is revoked too (in the background).
    for _ in 0..50 {
        if !fake.state.lock().unwrap().revoked_sessions.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the WorkOS session was not revoked");
}

#[tokio::test]
async fn users_of_several_organizations_select_one_then_switch() {
    let (app, fake) = app_with_workos().await;
    let a = fake.create_organization("Alpha");
    let b = fake.create_organization("Beta");
    let other = fake.create_organization("Gamma");
    let user = fake.create_user("ada@x.test");
    fake.add_membership(&user.id, &a, "admin");
    fake.add_membership(&user.id, &b, "member");
    let outsider = fake.create_user("bob@x.test");
    fake.add_membership(&outsider.id, &other, "admin");
    let client = app.browser();

    let result = web_sign_in(&client, &fake, "ada@x.test").await;
    assert_eq!(result["status"], "organization-selection-required", "{result}");
    let offered = result["organizations"].as_array().unwrap();
    assert_eq!(offered.len(), 2);
    assert!(
        result.to_string().find("org_").is_none(),
        "no WorkOS ids: {result}"
    );
    let beta = offered.iter().find(|o| o["name"] == "Beta").unwrap()["id"].clone();
    let alpha = offered.iter().find(|o| o["name"] == "Alpha").unwrap()["id"].clone();
    assert_eq!(whoami(&client).await.status(), 401, "not signed in yet");

    let me = client
        .ok(
            "/auth/select-organization",
            json!({ "selectionId": result["selectionId"], "organizationId": beta }),
        )
        .await;
    assert_eq!(me["currentOrganizationId"], beta);
    let who: Value = whoami(&client).await.json().await.unwrap();
    assert_eq!(who["role"], "member");
    // The selection is single use.
    let problem = client
        .fails(
            "/auth/select-organization",
            json!({ "selectionId": result["selectionId"], "organizationId": beta }),
            404,
        )
        .await;
    assert_eq!(problem["type"], "https://qubital.app/errors/sign-in-step-invalid");

    let me = client
        .ok("/auth/switch-organization", json!({ "organizationId": alpha }))
        .await;
    assert_eq!(me["currentOrganizationId"], alpha);
    let who: Value = whoami(&client).await.json().await.unwrap();
    assert_eq!(who["role"], "admin");

    // An organization the user is not in is 404, whether it exists or not.
    let bob = app.browser();
    let bob_me = web_sign_in(&bob, &fake, "bob@x.test").await;
    let gamma = bob_me["user"]["currentOrganizationId"].clone();
    client
        .fails(
            "/auth/switch-organization",
            json!({ "organizationId": gamma }),
            404,
        )
        .await;
    client
        .fails(
            "/auth/switch-organization",
            json!({ "organizationId": "nope" }),
            404,
        )
        .await;
    let who: Value = whoami(&client).await.json().await.unwrap();
    assert_eq!(who["role"], "admin", "a refused switch changes nothing");
}

#[tokio::test]
async fn magic_auth_then_sign_up_creates_an_organization_in_workos() {
    let (app, fake) = app_with_workos().await;
    let client = app.browser();
    let sent = client
        .ok("/auth/start-magic-auth", json!({ "email": "New@Corp.test" }))
        .await;
    assert_eq!(sent["email"], "New@Corp.test");
    let code = fake.magic_code("new@corp.test").expect("a code was emailed");
    let problem = client
        .fails(
            "/auth/finalize-magic-auth",
            json!({ "email": "New@Corp.test", "code": "000000x" }),
            401,
        )
        .await;
    assert_eq!(problem["type"], "https://qubital.app/errors/sign-in-rejected");
    let result = client
        .ok(
            "/auth/finalize-magic-auth",
            json!({ "email": "New@Corp.test", "code": code }),
        )
        .await;
    assert_eq!(result["status"], "sign-up-required", "{result}");
    assert_eq!(whoami(&client).await.status(), 401);

    client
        .fails("/auth/sign-up", json!({ "signUpId": result["signUpId"] }), 422)
        .await;
    let me = client
        .ok(
            "/auth/sign-up",
            json!({ "signUpId": result["signUpId"], "organizationName": "  Corp  " }),
        )
        .await;
    assert_eq!(me["organizationMemberships"][0]["organization"]["name"], "Corp");
    assert_eq!(me["organizationMemberships"][0]["role"], "admin");
    let who: Value = whoami(&client).await.json().await.unwrap();
    assert_eq!(who["role"], "admin");
    let memberships = fake.memberships();
    assert_eq!(memberships.len(), 1);
    assert_eq!(memberships[0].role_slug, "admin");
    assert_eq!(
        fake.organization_name(&memberships[0].organization_id).as_deref(),
        Some("Corp")
    );
    // The sign-up handle is single use.
    let problem = client
        .fails(
            "/auth/sign-up",
            json!({ "signUpId": result["signUpId"], "organizationName": "Again" }),
            404,
        )
        .await;
    assert_eq!(problem["type"], "https://qubital.app/errors/sign-in-step-invalid");
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_ip() {
    let fake = platform_workos::fake::FakeWorkos::start().await;
    let app = with_workos(TestApp::builder(), &fake)
        .arg("--sign-in-rate-limit")
        .arg("3")
        .spawn()
        .await;
    let client = app.browser();
    for _ in 0..3 {
        client
            .ok("/auth/start-magic-auth", json!({ "email": "a@b.test" }))
            .await;
    }
    // A spoofed X-Forwarded-For does not buy a new budget (not trusted by default).
    let response = client
        .http
        .post(app.url("/auth/start-oauth"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({ "client": "web" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let problem = qubital_testkit::problem(response).await;
    assert_eq!(problem["type"], "https://qubital.app/errors/rate-limited");
    // Signed-in operations are not limited.
    let response = client
        .send("/auth/dev/sign-in", &json!({ "email": "a@b.test" }))
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn development_sign_in_creates_or_reuses_users_and_organizations() {
    let app = qubital_testkit::spawn_app().await;
    let ada = app.browser();
    let me = ada
        .ok(
            "/auth/dev/sign-in",
            json!({ "email": "ada@dev.test", "organizationName": "Dev Org" }),
        )
        .await;
    assert_eq!(
        me["organizationMemberships"][0]["role"], "admin",
        "first member is admin"
    );
    assert_eq!(me["displayName"], "ada");
    let who: Value = whoami(&ada).await.json().await.unwrap();
    assert_eq!(who["role"], "admin");

    let bob = app.browser();
    let bob_me = bob
        .ok(
            "/auth/dev/sign-in",
            json!({ "email": "bob@dev.test", "organizationName": "dev org" }),
        )
        .await;
    assert_eq!(
        bob_me["currentOrganizationId"], me["currentOrganizationId"],
        "joined by name"
    );
    assert_eq!(bob_me["organizationMemberships"][0]["role"], "member");

    // Signing in again reuses the user; a role can be given.
    let again = bob
        .ok(
            "/auth/dev/sign-in",
            json!({ "email": "BOB@dev.test", "organizationName": "Dev Org", "role": "moderator" }),
        )
        .await;
    assert_eq!(again["id"], bob_me["id"]);
    assert_eq!(again["organizationMemberships"][0]["role"], "moderator");
    // Without an organization name: back to the last one.
    let last = bob
        .ok("/auth/dev/sign-in", json!({ "email": "bob@dev.test" }))
        .await;
    assert_eq!(last["currentOrganizationId"], me["currentOrganizationId"]);

    let problem = bob
        .fails("/auth/dev/sign-in", json!({ "email": "not-an-email" }), 422)
        .await;
    assert_eq!(problem["errors"][0]["location"], "body.email");
    bob.fails(
        "/auth/dev/sign-in",
        json!({ "email": "a@b.test", "role": "owner" }),
        422,
    )
    .await;

    // WorkOS is disabled without credentials: its operations say so.
    let problem = bob
        .fails("/auth/start-oauth", json!({ "client": "web" }), 503)
        .await;
    assert_eq!(problem["type"], "https://qubital.app/errors/integration-disabled");
    bob.fails("/auth/start-magic-auth", json!({ "email": "a@b.test" }), 503)
        .await;
}

fn production_args() -> Vec<String> {
    [
        "--jwt-secret",
        "0123456789abcdef0123456789abcdef-production",
        "--session-encryption-key",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "--workos-redirect-uri",
        "https://app.example.test/callback",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

#[tokio::test]
async fn production_has_no_development_sign_in() {
    let spec: Value = serde_json::from_str(&qubital::http::openapi_spec(
        qubital_plugin::Environment::Production,
    ))
    .unwrap();
    assert!(spec["paths"].get("/auth/dev/sign-in").is_none());
    assert!(spec["paths"].get("/auth/start-oauth").is_some());

    let fake = platform_workos::fake::FakeWorkos::start().await;
    let args: Vec<String> = fake
        .args()
        .into_iter()
        .chain(production_args())
        .chain(other_features_production_args())
        .collect();
    if let Err(error) = boots_in_production(&args).await {
        // Linked with features whose production settings this test cannot know
        // (`cargo test --workspace`): the spec check above still holds.
        eprintln!("skipping the production routes check: {error}");
        return;
    }
    let mut builder = TestApp::builder().production();
    for arg in args {
        builder = builder.arg(arg);
    }
    let app = builder.spawn().await;
    let response = app
        .post("/auth/dev/sign-in", &json!({ "email": "a@b.test" }))
        .await;
    assert_eq!(response.status(), 404);
    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert!(spec["paths"].get("/auth/dev/sign-in").is_none());
    assert!(spec["paths"].get("/auth/start-oauth").is_some());

    // Cookies are Secure in production.
    let org = fake.create_organization("Acme");
    let user = fake.create_user("ada@acme.test");
    fake.add_membership(&user.id, &org, "member");
    let client = app.browser();
    let started = client.ok("/auth/start-oauth", json!({ "client": "web" })).await;
    fake.sign_in_as("ada@acme.test");
    let (code, state) = authorize_to(started["authorizationUrl"].as_str().unwrap()).await;
    let response = client
        .send("/auth/finalize-oauth", &json!({ "code": code, "state": state }))
        .await;
    assert_eq!(response.status(), 200);
    // …and the session cookie is `__Host-` prefixed (docs/security.md).
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-access_token="))
        .expect("the session cookie is __Host-access_token")
        .to_owned();
    assert!(cookie.contains("Secure") && cookie.contains("Path=/"), "{cookie}");
}

/// Settings that other compiled-in features require in production, when they are linked into
/// this test binary (as in `cargo test --workspace`).
fn other_features_production_args() -> Vec<String> {
    let command = qubital::config::settings_command(&qubital_plugin::registered_features());
    [("workos-webhook-secret", "whsec_test_0123456789abcdef")]
        .into_iter()
        .filter(|(long, _)| command.get_arguments().any(|a| a.get_long() == Some(*long)))
        .flat_map(|(long, value)| [format!("--{long}"), value.to_owned()])
        .collect()
}

/// Whether the app boots in production with `args` (the error otherwise).
async fn boots_in_production(args: &[String]) -> Result<(), String> {
    let database = qubital_testkit::fresh_database().await;
    let mut all = vec![
        "qubital".to_owned(),
        "--database-url".to_owned(),
        database.url.clone(),
        "--environment".to_owned(),
        "production".to_owned(),
    ];
    all.extend(args.iter().cloned());
    let features = qubital_plugin::registered_features();
    let config = qubital::config::Config::parse_from(&features, &all).map_err(|e| e.to_string())?;
    qubital::app::App::boot(config, features, qubital_plugin::ProcessRole::SERVE)
        .await
        .map(drop)
        .map_err(|e| format!("{e:#}"))
}

/// Like [`authorize`], for a redirect URI other than the tests' default.
async fn authorize_to(url: &str) -> (String, String) {
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let query = location.split_once('?').unwrap().1.to_owned();
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_owned()
    };
    (param("code"), param("state"))
}

#[tokio::test]
async fn production_refuses_to_boot_without_its_secrets() {
    let fake = platform_workos::fake::FakeWorkos::start().await;
    let full: Vec<String> = fake.args().into_iter().chain(production_args()).collect();
    for (missing, variable) in [
        ("--jwt-secret", "JWT_SECRET"),
        ("--session-encryption-key", "SESSION_ENCRYPTION_KEY"),
        ("--workos-api-key", "WORKOS_API_KEY"),
        ("--workos-client-id", "WORKOS_CLIENT_ID"),
        ("--workos-redirect-uri", "WORKOS_REDIRECT_URI"),
    ] {
        let database = qubital_testkit::fresh_database().await;
        let mut args = vec![
            "qubital".to_owned(),
            "--database-url".to_owned(),
            database.url.clone(),
            "--environment".to_owned(),
            "production".to_owned(),
        ];
        let mut skip = false;
        for arg in &full {
            if skip {
                skip = false;
                continue;
            }
            if arg == missing {
                skip = true;
                continue;
            }
            args.push(arg.clone());
        }
        let features = qubital_plugin::registered_features();
        let config = qubital::config::Config::parse_from(&features, &args).unwrap();
        let error = match qubital::app::App::boot(config, features, qubital_plugin::ProcessRole::SERVE).await
        {
            Ok(_) => panic!("booted without {variable}"),
            Err(error) => format!("{error:#}"),
        };
        assert!(error.contains(variable), "{variable}: {error}");
    }
}

/// The status `client`'s next whoami gets once a change made behind the server's back (SQL)
/// reached its session cache: through the trigger's notification, within `SESSION_CACHE_SECS`
/// (2) at the latest.
async fn whoami_soon(client: &Client, expected: u16) -> reqwest::Response {
    let deadline = std::time::Instant::now() + Duration::from_millis(2_500);
    loop {
        let response = whoami(client).await;
        if response.status() == expected || std::time::Instant::now() > deadline {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn deleted_users_and_expired_sessions_are_refused_at_once() {
    let app = qubital_testkit::spawn_app().await;
    let ada = sign_in(&app.address, "ada@dev.test", "Dev", "admin").await;
    let ada_id: i64 = ada.user_id().parse().unwrap();
    let bob = sign_in(&app.address, "bob@dev.test", "Dev", "member").await;
    assert_eq!(whoami(&ada).await.status(), 200);

    // Ending every session of a user (what user deletion does) is effective on the next request.
    let mut conn = app.db().acquire().await.unwrap();
    qubital_auth::sessions::end_user_sessions(
        &mut conn,
        ada_id,
        qubital_auth::sessions::reason::USER_DELETED,
    )
    .await
    .unwrap();
    assert_eq!(whoami(&ada).await.status(), 401);
    let ada = sign_in(&app.address, "ada@dev.test", "Dev", "admin").await;
    assert_eq!(whoami(&ada).await.status(), 200);
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(ada.user_id().parse::<i64>().unwrap())
        .execute(app.db())
        .await
        .unwrap();
    assert_eq!(whoami_soon(&ada, 401).await.status(), 401);

    // A session past its absolute lifetime is over even with a valid token.
    sqlx::query("UPDATE user_sessions SET expires_at = now() - interval '1 second'")
        .execute(app.db())
        .await
        .unwrap();
    let response = whoami_soon(&bob, 401).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        qubital_testkit::problem(response).await["type"],
        "https://qubital.app/errors/session-ended"
    );
}

#[tokio::test]
async fn the_address_the_trusted_proxy_saw_is_the_rate_limit_key_whatever_the_client_forges() {
    let fake = platform_workos::fake::FakeWorkos::start().await;
    let app = with_workos(TestApp::builder(), &fake)
        .arg("--sign-in-rate-limit")
        .arg("1")
        .arg("--trusted-proxy-hops")
        .arg("1")
        .spawn()
        .await;
    // The load balancer appends the address it saw; a client may put anything before it.
    let from = |forged: &'static str, ip: &'static str| {
        reqwest::Client::new()
            .post(app.url("/auth/start-oauth"))
            .header("x-forwarded-for", format!("{forged}, {ip}"))
            .json(&json!({ "client": "web" }))
            .send()
    };
    assert_eq!(from("6.6.6.1", "198.51.100.1").await.unwrap().status(), 200);
    assert_eq!(
        from("6.6.6.2", "198.51.100.1").await.unwrap().status(),
        429,
        "a new forged first entry does not escape the limit"
    );
    assert_eq!(from("6.6.6.1", "198.51.100.2").await.unwrap().status(), 200);
}

#[tokio::test]
async fn retention_drops_expired_sign_in_state_and_old_sessions() {
    let app = qubital_testkit::spawn_app().await;
    sign_in(&app.address, "ada@dev.test", "Dev", "admin").await;
    let bob = sign_in(&app.address, "bob@dev.test", "Dev", "member").await;
    sqlx::query(
        "INSERT INTO oauth_states (state, client, code_challenge, redirect_uri, expires_at) VALUES
            ('old', 'desktop', 'c', 'r', now() - interval '2 hours'),
            ('new', 'desktop', 'c', 'r', now() + interval '5 minutes')",
    )
    .execute(app.db())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO auth_rate_limits (bucket, window_start, hits) VALUES
            ('sign-in:198.51.100.1', now() - interval '10 minutes', 3),
            ('sign-in:198.51.100.2', date_trunc('minute', now()), 1)",
    )
    .execute(app.db())
    .await
    .unwrap();
    sqlx::query(
        "UPDATE user_sessions SET ended_at = now() - interval '31 days'
         WHERE user_id = (SELECT id FROM users WHERE email = 'ada@dev.test')",
    )
    .execute(app.db())
    .await
    .unwrap();

    app.prune("auth").await;

    let states: Vec<String> = sqlx::query_scalar("SELECT state FROM oauth_states")
        .fetch_all(app.db())
        .await
        .unwrap();
    assert_eq!(states, ["new"]);
    let windows: i64 = sqlx::query_scalar("SELECT count(*) FROM auth_rate_limits")
        .fetch_one(app.db())
        .await
        .unwrap();
    assert_eq!(windows, 1);
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM user_sessions")
        .fetch_one(app.db())
        .await
        .unwrap();
    assert_eq!(sessions, 1, "only bob's live session is left");
    assert_eq!(whoami(&bob).await.status(), 200);
}
