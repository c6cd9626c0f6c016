//! Boot-time configuration: production refuses to start without the secrets it needs (naming
//! the variable); development generates throwaway keys and disables an unconfigured
//! conference.

// Link the identity feature too, as the real binary does, for the process-role test.
extern crate qubital_auth;

use platform_livekit::LiveKitSettings;
use qubital_plugin::{Environment, ProcessRole};
use qubital_realtime::{
    settings::{build, RealtimeSettings, RealtimeState, WorkerAuthSettings},
    Keyring, RouterKeys,
};
use qubital_testkit::TestApp;

struct Config {
    livekit: LiveKitSettings,
    realtime: RealtimeSettings,
    worker: WorkerAuthSettings,
}

/// A complete production configuration.
fn complete() -> Config {
    Config {
        livekit: LiveKitSettings {
            url: Some("wss://conference.example.com".into()),
            api_key: Some("APIkey".into()),
            api_secret: Some("livekit-secret-livekit-secret-00".into()),
        },
        realtime: RealtimeSettings {
            conference_token_ttl_secs: 3600,
            router_token_issuer: "qubital".into(),
            router_token_audience: "office-router".into(),
            router_token_private_key: Some(Keyring::generate().unwrap().private_pem().unwrap().into()),
            router_token_previous_key: None,
            office_router_url: None,
            centrifugo_token_secret: Some("c".repeat(32).into()),
            centrifugo_token_ttl_secs: 900,
            centrifugo_client_url: None,
        },
        worker: WorkerAuthSettings {
            worker_jwt_public_key: None,
            worker_jwt_secret: Some("w".repeat(32).into()),
            worker_jwt_issuer: "office-router".into(),
            worker_jwt_audience: "qubital".into(),
            worker_jwt_leeway_secs: 5,
        },
    }
}

fn error(environment: Environment, config: &Config) -> String {
    match build(environment, &config.livekit, &config.realtime, &config.worker) {
        Ok(_) => panic!("the configuration was accepted"),
        Err(error) => format!("{error:#}"),
    }
}

#[test]
fn production_boots_with_every_secret() {
    let config = complete();
    let provided = build(
        Environment::Production,
        &config.livekit,
        &config.realtime,
        &config.worker,
    )
    .unwrap();
    assert!(provided.state.livekit.is_enabled());
    assert!(matches!(provided.state.router_keys, RouterKeys::Configured(_)));
}

#[test]
fn production_refuses_to_boot_without_a_secret_and_names_it() {
    type Breakage = fn(&mut Config);
    let cases: Vec<(&str, Breakage)> = vec![
        ("LIVEKIT_URL", |c| c.livekit.url = None),
        ("LIVEKIT_API_KEY", |c| c.livekit.api_key = Some(" ".into())),
        ("LIVEKIT_API_SECRET", |c| c.livekit.api_secret = None),
        ("LIVEKIT_URL", |c| {
            c.livekit.url = Some("conference.example.com".into())
        }),
        ("JWT_PRIVATE_KEY", |c| c.realtime.router_token_private_key = None),
        ("JWT_PRIVATE_KEY", |c| {
            c.realtime.router_token_private_key = Some("not a key".into())
        }),
        ("JWT_PREVIOUS_KEY", |c| {
            c.realtime.router_token_previous_key = Some("not a key".into())
        }),
        ("JWT_AUDIENCE", |c| c.realtime.router_token_audience = " ".into()),
        ("CENTRIFUGO_TOKEN_SECRET", |c| {
            c.realtime.centrifugo_token_secret = None
        }),
        ("CENTRIFUGO_TOKEN_SECRET", |c| {
            c.realtime.centrifugo_token_secret = Some("short".into())
        }),
        ("WORKER_JWT_PUBLIC_KEY or WORKER_JWT_SECRET", |c| {
            c.worker.worker_jwt_secret = None
        }),
        ("WORKER_JWT_SECRET", |c| {
            c.worker.worker_jwt_secret = Some("short".into())
        }),
        ("WORKER_JWT_PUBLIC_KEY", |c| {
            c.worker.worker_jwt_public_key = Some("x".into())
        }),
        ("WORKER_JWT_PUBLIC_KEY", |c| {
            c.worker.worker_jwt_secret = None;
            c.worker.worker_jwt_public_key =
                Some("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----".into());
        }),
    ];
    for (variable, break_it) in cases {
        let mut config = complete();
        break_it(&mut config);
        let message = error(Environment::Production, &config);
        assert!(message.contains(variable), "expected {variable} in: {message}");
    }
}

#[test]
fn development_fills_in_throwaway_keys_and_disables_the_conference() {
    let mut config = complete();
    config.livekit = LiveKitSettings::default();
    config.realtime.router_token_private_key = None;
    config.realtime.centrifugo_token_secret = None;
    config.worker.worker_jwt_secret = None;
    let provided = build(
        Environment::Development,
        &config.livekit,
        &config.realtime,
        &config.worker,
    )
    .unwrap();
    assert!(!provided.state.livekit.is_enabled());
    assert!(matches!(provided.state.router_keys, RouterKeys::Generated(_)));
    // Malformed values are still refused in development.
    config.realtime.centrifugo_token_secret = Some("short".into());
    assert!(error(Environment::Development, &config).contains("CENTRIFUGO_TOKEN_SECRET"));
}

#[tokio::test]
async fn a_worker_process_in_production_needs_none_of_these_secrets() {
    // A process that serves no API (such as the WorkOS follower) needs only what identity needs
    // to follow WorkOS; nothing of the conference, keys or Worker.
    const WORKER: ProcessRole =
        ProcessRole::worker("test-worker", "A worker of this test.", "TEST_WORKER_PORT", 0);
    let app = TestApp::builder()
        .production()
        .role(WORKER)
        .arg("--workos-api-key")
        .arg("sk_test_realtime")
        .arg("--workos-client-id")
        .arg("client_realtime")
        .spawn()
        .await;
    let state = app.ctx.get::<RealtimeState>();
    assert!(!state.livekit.is_enabled());
    assert!(matches!(state.router_keys, RouterKeys::Generated(_)));
}
