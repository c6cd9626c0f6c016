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
