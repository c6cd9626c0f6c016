//! Connecting a Google account end to end against the fake: consent URL, consent, code
//! exchange, refresh, revocation, and the ways each step fails.

mod common;

use std::time::Duration;

use chrono::Utc;
use platform_calendar::{
    fake::{Consent, FakeGoogle, ACCOUNT_EMAIL, CLIENT_ID, REDIRECT_URI},
    google::SCOPE_CALENDAR_EVENTS,
    CalendarError, CalendarProvider, GoogleCalendar, GoogleConfig, Pkce,
};

#[tokio::test]
async fn connect_refresh_revoke_then_the_refresh_fails_as_revoked() {
    let google = FakeGoogle::start().await;
    let provider = google.provider();
    assert_eq!(provider.name(), "google");
    assert_eq!(provider.redirect_uri(), REDIRECT_URI);

    // The consent URL, approved on the (fake) consent screen.
    let pkce = Pkce::generate();
    let url = provider.authorization_url("csrf-state-1", &pkce.challenge, REDIRECT_URI);
    assert!(url.as_str().starts_with(&google.auth_url()));
    let authorization = google.authorize(url.as_str()).expect("consent");
    assert_eq!(authorization.state.as_deref(), Some("csrf-state-1"));
    let back: std::collections::HashMap<_, _> = authorization.redirect.query_pairs().into_owned().collect();
    assert!(authorization.redirect.as_str().starts_with(REDIRECT_URI));
    assert_eq!(back["code"], authorization.code);
    assert_eq!(back["state"], "csrf-state-1");

    // The exchange: offline access (a refresh token), the granted scopes, whose account.
    let before = Utc::now();
    let tokens = provider
        .exchange_code(&authorization.code, &pkce.verifier, REDIRECT_URI)
        .await
        .expect("exchange");
    let refresh_token = tokens
        .refresh_token
        .clone()
        .expect("offline access grants a refresh token");
    assert!(tokens.has_scope(SCOPE_CALENDAR_EVENTS));
    assert!(tokens.has_scope("openid"));
    let expires_in = tokens.expires_at - before;
    assert!(
        (3590..=3600).contains(&expires_in.num_seconds()),
        "{expires_in:?}"
    );
    let account = tokens.account.clone().expect("the ID token names the account");
    assert_eq!(account.email.as_deref(), Some(ACCOUNT_EMAIL));
    assert!(!account.id.is_empty() && account.id.chars().all(|c| c.is_ascii_digit()));
    // Tokens never show in logs.
    let debug = format!("{tokens:?}");
    assert!(!debug.contains(&tokens.access_token) && !debug.contains(&refresh_token));

    // The access token reads the calendar.
    let changes = provider
        .list_changes(&tokens.access_token, "primary", None)
        .await
        .expect("the access token works");
    assert!(changes.events.is_empty());

    // A code is good once.
    assert!(matches!(
        provider
            .exchange_code(&authorization.code, &pkce.verifier, REDIRECT_URI)
            .await,
        Err(CalendarError::InvalidGrant)
    ));

    // A refresh: a new access token, the refresh token kept (Google does not rotate it).
    let refreshed = provider.refresh(&refresh_token).await.expect("refresh");
    assert_ne!(refreshed.access_token, tokens.access_token);
    assert_eq!(refreshed.refresh_token, None);
    assert!(refreshed.has_scope(SCOPE_CALENDAR_EVENTS));
    assert_eq!(refreshed.account.map(|a| a.id), Some(account.id));
    provider
        .list_changes(&refreshed.access_token, "primary", None)
        .await
        .expect("the refreshed access token works");

    // Disconnect: revoking the refresh token kills the whole grant.
    provider.revoke(&refresh_token).await.expect("revoke");
    assert!(!google.token_is_live(&refresh_token));
    let error = provider.refresh(&refresh_token).await.unwrap_err();
    assert!(matches!(error, CalendarError::InvalidGrant), "{error:?}");
    assert!(error.is_broken_connection());
    let error = provider
        .list_changes(&refreshed.access_token, "primary", None)
        .await
        .unwrap_err();
    assert!(matches!(error, CalendarError::Unauthorized), "{error:?}");
    assert!(error.needs_refresh());
    // Revoking a dead token is not an error: the grant is gone, as wanted.
    provider.revoke(&refresh_token).await.expect("revoking twice");

    // Exchange, the reused code, the refresh, the refused refresh.
    assert_eq!(google.count_calls("POST /token"), 4);
    assert_eq!(google.count_calls("POST /revoke"), 2);
}

#[tokio::test]
async fn a_user_who_revokes_access_in_google_breaks_the_connection() {
    let google = FakeGoogle::start().await;
    let provider = google.provider();
    let tokens = common::connect(&google, &provider).await;
    google.revoke_account(ACCOUNT_EMAIL);
    let refresh_token = tokens.refresh_token.unwrap();
    assert!(matches!(
        provider.refresh(&refresh_token).await,
        Err(CalendarError::InvalidGrant)
    ));
    // Connecting again works and grants a new refresh token.
    let again = common::connect(&google, &provider).await;
    assert!(again.refresh_token.is_some_and(|t| t != refresh_token));
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed() {
    let google = FakeGoogle::start().await;
    let provider = google.provider();
    let tokens = common::connect(&google, &provider).await;
    google.expire_access_tokens();
    let error = provider
        .list_changes(&tokens.access_token, "primary", None)
        .await
        .unwrap_err();
    assert!(error.needs_refresh(), "{error:?}");
    let fresh = provider
        .refresh(tokens.refresh_token.as_deref().unwrap())
        .await
        .unwrap();
    provider
        .list_changes(&fresh.access_token, "primary", None)
        .await
        .expect("the new access token works");
}

#[tokio::test]
async fn the_code_is_bound_to_its_pkce_verifier_and_redirect_uri() {
    let google = FakeGoogle::start().await;
    let provider = google.provider();
    let pkce = Pkce::generate();
    let url = provider.authorization_url("s", &pkce.challenge, REDIRECT_URI);

    // A stolen code without the verifier is worthless (and spent).
    let code = google.authorize(url.as_str()).unwrap().code;
    let other = Pkce::generate();
    assert!(matches!(
        provider.exchange_code(&code, &other.verifier, REDIRECT_URI).await,
        Err(CalendarError::InvalidGrant)
    ));
    assert!(matches!(
        provider.exchange_code(&code, &pkce.verifier, REDIRECT_URI).await,
        Err(CalendarError::InvalidGrant)
    ));

    // The redirect URI of the exchange must be the authorization's.
    google.register_redirect_uri("http://127.0.0.1:9/other");
    let code = google.authorize(url.as_str()).unwrap().code;
    let error = provider
        .exchange_code(&code, &pkce.verifier, "http://127.0.0.1:9/other")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CalendarError::Rejected { status: 400, reason, .. } if reason == "redirect_uri_mismatch"),
        "{error:?}"
    );

    // An unregistered redirect URI never gets a code.
    let url = provider.authorization_url("s", &pkce.challenge, "https://evil.example/cb");
    assert_eq!(
        google.authorize(url.as_str()).unwrap_err(),
        "redirect_uri_mismatch"
    );
}

#[tokio::test]
async fn the_consent_screen_checks_the_client_and_offline_pkce() {
    let google = FakeGoogle::start().await;
    let provider = google.provider();
    let pkce = Pkce::generate();
    let url = provider.authorization_url("s", &pkce.challenge, REDIRECT_URI);
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let with = |name: &str, value: Option<&str>| {
        let mut url = url.clone();
        let mut pairs = url.query_pairs_mut();
        pairs.clear();
        for (k, v) in &query {
            if k != name {
                pairs.append_pair(k, v);
            }
        }
        if let Some(value) = value {
            pairs.append_pair(name, value);
        }
        drop(pairs);
        url
    };
    let refused = |url: url::Url| google.authorize(url.as_str()).unwrap_err();
    assert_eq!(refused(with("client_id", Some("someone-else"))), "invalid_client");
    assert!(refused(with("access_type", Some("online"))).starts_with("invalid_request"));
    assert!(refused(with("access_type", None)).starts_with("invalid_request"));
    assert!(refused(with("code_challenge_method", Some("plain"))).starts_with("invalid_request"));
    assert!(refused(with("code_challenge", None)).starts_with("invalid_request"));
    assert!(refused(with("scope", Some("openid https://example.com/x"))).starts_with("invalid_scope"));
    assert_eq!(
        refused(with("response_type", Some("token"))),
        "unsupported_response_type"
    );
    google
        .authorize(url.as_str())
        .expect("the provider's own URL passes");
    assert!(query.iter().any(|(k, v)| k == "client_id" && v == CLIENT_ID));
}

#[tokio::test]
async fn a_user_who_unticks_calendar_access_is_refused_and_the_grant_revoked() {
    let google = FakeGoogle::start().await;
    let provider = google.provider();
    let pkce = Pkce::generate();
    let url = provider.authorization_url("s", &pkce.challenge, REDIRECT_URI);
    let consent = Consent {
        email: "bob@example.com".into(),
        granted_scopes: Some(vec!["openid".into(), "email".into()]),
    };
    let code = google.authorize_with(url.as_str(), &consent).unwrap().code;
    let error = provider
        .exchange_code(&code, &pkce.verifier, REDIRECT_URI)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CalendarError::InsufficientScope { missing } if missing == SCOPE_CALENDAR_EVENTS),
        "{error:?}"
    );
    // The useless grant was revoked rather than left in the user's account.
    assert_eq!(google.count_calls("POST /revoke"), 1);
}

#[tokio::test]
async fn the_consent_page_also_works_over_http() {
    let google = FakeGoogle::start().await;
    google.sign_in_as("carol@example.com");
    let provider = google.provider();
    let pkce = Pkce::generate();
    let url = provider.authorization_url("st", &pkce.challenge, REDIRECT_URI);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(url).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    let location = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    let back: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(back["state"], "st");
    let tokens = provider
        .exchange_code(&back["code"], &pkce.verifier, REDIRECT_URI)
        .await
        .unwrap();
    assert_eq!(
        tokens.account.unwrap().email.as_deref(),
        Some("carol@example.com")
    );

    // A bad request shows Google's error page, no redirect.
    let bad = browser
        .get(format!("{}?client_id=nope", google.auth_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn wrong_client_credentials_are_rejected_not_mistaken_for_a_revoked_grant() {
    let google = FakeGoogle::start().await;
    let tokens = common::connect(&google, &google.provider()).await;
    let wrong = GoogleCalendar::new(GoogleConfig {
        client_secret: "not-the-secret".into(),
        ..google.config()
    })
    .unwrap();
    let error = wrong
        .refresh(tokens.refresh_token.as_deref().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CalendarError::Rejected { status: 401, reason, .. } if reason == "invalid_client"),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unreachable_google_is_unavailable_after_bounded_retries() {
    // A port nothing listens on (the fake's, once it is gone).
    let google = FakeGoogle::start().await;
    let config = google.config();
    drop(google);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let provider = GoogleCalendar::new(config).unwrap();
    let started = std::time::Instant::now();
    let error = provider.refresh("anything").await.unwrap_err();
    assert!(matches!(error, CalendarError::Unavailable(_)), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
