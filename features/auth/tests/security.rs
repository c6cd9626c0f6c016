//! Security controls of the identity feature (see docs/security.md).

// Link the feature (its settings and init) into this test binary.
extern crate qubital_auth;

use qubital::{app::App, config::Config};
use qubital_plugin::{registered_features, ProcessRole};
use qubital_testkit::fresh_database;

/// Boots `serve` with these settings; the boot error, if any.
async fn boot_error(settings: &[&str]) -> Option<String> {
    let database = fresh_database().await;
    let mut args = vec![
        "qubital".to_owned(),
        "--database-url".to_owned(),
        database.url.clone(),
    ];
    args.extend(settings.iter().map(|s| s.to_string()));
    let config = Config::parse_from(&registered_features(), &args).expect("the settings parse");
    App::boot(config, registered_features(), ProcessRole::SERVE)
        .await
        .err()
        .map(|error| format!("{error:#}"))
}

#[tokio::test]
async fn development_mode_refuses_a_live_workos_key_unless_overridden() {
    let live = [
        "--dev",
        "--workos-api-key",
        "sk_live_0123456789abcdef",
        "--workos-client-id",
        "client_0123",
        "--workos-redirect-uri",
        "http://localhost:3000/callback",
    ];
    let error = boot_error(&live)
        .await
        .expect("development with a live key is refused");
    assert!(error.contains("QUBITAL_ALLOW_INSECURE_DEVELOPMENT"), "{error}");

    let mut overridden = live.to_vec();
    overridden.push("--allow-insecure-development");
    assert_eq!(boot_error(&overridden).await, None);

    // A test key is what development is for.
    let mut test_key = live.to_vec();
    test_key[2] = "sk_test_0123456789abcdef";
    assert_eq!(boot_error(&test_key).await, None);
}

mod support;

use qubital_auth::test_support::authorize;
use serde_json::json;
use support::app_with_workos;

const INVALID_STATE: &str = "https://qubital.app/errors/oauth-state-invalid";
const RATE_LIMITED: &str = "https://qubital.app/errors/rate-limited";

/// Login CSRF: an attacker starts a sign-in in their own browser and makes the victim's browser
/// finish it (the victim would then act in the attacker's account). The `state` is bound to the
/// browser that started the flow, so another browser cannot finish it.
#[tokio::test]
async fn an_oauth_sign_in_finishes_only_in_the_browser_that_started_it() {
    let (app, fake) = app_with_workos().await;
    let attacker = app.browser();
    let started = attacker.ok("/auth/start-oauth", json!({ "client": "web" })).await;
    fake.sign_in_as("attacker@evil.test");
    let (code, state) = authorize(started["authorizationUrl"].as_str().unwrap()).await;
    let victim = app.browser();
    let problem = victim
        .fails(
            "/auth/finalize-oauth",
            json!({ "code": code, "state": state }),
            404,
        )
        .await;
    assert_eq!(problem["type"], INVALID_STATE, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("another browser"),
        "{problem}"
    );

    // The browser that started a flow finishes it.
    let own = app.browser();
    let started = own.ok("/auth/start-oauth", json!({ "client": "web" })).await;
    fake.sign_in_as("someone@corp.test");
    let (code, state) = authorize(started["authorizationUrl"].as_str().unwrap()).await;
    let result = own
        .ok("/auth/finalize-oauth", json!({ "code": code, "state": state }))
        .await;
    assert!(result["status"].is_string(), "{result}");
}

/// Magic Auth codes are limited per address, whatever IP asks: 3 emails a minute, 5 attempts a
/// minute at its code (the right code included, once the budget is spent).
#[tokio::test]
async fn magic_auth_is_limited_per_address_besides_per_ip() {
    let (app, fake) = app_with_workos().await;
    for _ in 0..3 {
        app.browser()
            .ok("/auth/start-magic-auth", json!({ "email": "target@corp.test" }))
            .await;
    }
    let problem = app
        .browser()
        .fails(
            "/auth/start-magic-auth",
            json!({ "email": "Target@Corp.test" }),
            429,
        )
        .await;
    assert_eq!(problem["type"], RATE_LIMITED, "{problem}");
    // Another address has its own budget.
    app.browser()
        .ok("/auth/start-magic-auth", json!({ "email": "other@corp.test" }))
        .await;

    let code = fake.magic_code("target@corp.test").expect("a code was emailed");
    for guess in 0..5 {
        let problem = app
            .browser()
            .fails(
                "/auth/finalize-magic-auth",
                json!({ "email": "target@corp.test", "code": format!("99999{guess}") }),
                401,
            )
            .await;
        assert_eq!(problem["type"], "https://qubital.app/errors/sign-in-rejected");
    }
    let problem = app
        .browser()
        .fails(
            "/auth/finalize-magic-auth",
            json!({ "email": "target@corp.test", "code": code }),
            429,
        )
        .await;
    assert_eq!(problem["type"], RATE_LIMITED, "{problem}");
}
