//! Boot-time configuration: production refuses to start without the bucket settings (naming the
//! variable), development disables recording, and a process that serves no API needs nothing.

use qubital_plugin::{Environment, ExposeSecret};
use qubital_recordings::settings::{state, RecordingsSettings};

fn complete() -> RecordingsSettings {
    RecordingsSettings {
        monthly_quota: 7,
        s3_bucket: Some("bucket".into()),
        s3_endpoint: Some("https://account.r2.example".into()),
        s3_region: "auto".into(),
        s3_access_key_id: Some("AKID".into()),
        // A real S3/R2 secret is 40+ characters; production refuses one under 16 bytes.
        s3_secret_access_key: Some("wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY".into()),
        download_link_ttl_secs: 300,
        reconcile_token: None,
    }
}

fn refusal(settings: &RecordingsSettings) -> String {
    match state(Environment::Production, true, settings) {
        Ok(_) => panic!("the configuration was accepted"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn production_needs_every_bucket_setting_and_names_the_missing_one() {
    let settings = complete();
    let provided = state(Environment::Production, true, &settings).unwrap();
    assert_eq!(provided.monthly_quota, 7);
    let destination = provided.destination.unwrap();
    assert_eq!(destination.bucket, "bucket");
    assert!(destination.force_path_style);
    // Download links are signed for the same bucket.
    assert!(provided.storage.is_some());

    for (variable, clear) in [
        (
            "RECORDINGS_S3_BUCKET",
            (|s: &mut RecordingsSettings| s.s3_bucket = None) as fn(&mut RecordingsSettings),
        ),
        ("RECORDINGS_S3_ACCESS_KEY_ID", |s| {
            s.s3_access_key_id = Some(" ".into())
        }),
        ("RECORDINGS_S3_SECRET_ACCESS_KEY", |s| {
            s.s3_secret_access_key = None
        }),
    ] {
        let mut settings = complete();
        clear(&mut settings);
        assert_eq!(
            refusal(&settings),
            format!("{variable} is required in production")
        );
        // Development disables recording instead; a process without the API needs nothing.
        assert!(state(Environment::Development, true, &settings)
            .unwrap()
            .destination
            .is_none());
        assert!(state(Environment::Production, false, &settings)
            .unwrap()
            .destination
            .is_none());
    }

    let mut settings = complete();
    settings.s3_endpoint = Some("account.r2.example".into());
    assert!(refusal(&settings).contains("RECORDINGS_S3_ENDPOINT"));
    // AWS itself: no endpoint, virtual-hosted addressing.
    settings.s3_endpoint = None;
    let destination = state(Environment::Production, true, &settings)
        .unwrap()
        .destination
        .unwrap();
    assert!(!destination.force_path_style && destination.endpoint.is_empty());
}

#[test]
fn the_reconcile_token_is_optional_but_never_short() {
    let mut settings = complete();
    assert!(state(Environment::Production, true, &settings)
        .unwrap()
        .reconcile_token
        .is_none());
    settings.reconcile_token = Some("short".into());
    assert!(refusal(&settings).contains("RECORDINGS_RECONCILE_TOKEN"));
    settings.reconcile_token = Some("x".repeat(32).into());
    assert_eq!(
        state(Environment::Production, true, &settings)
            .unwrap()
            .reconcile_token
            .as_ref()
            .map(ExposeSecret::expose_secret),
        Some("x".repeat(32).as_str())
    );
}
