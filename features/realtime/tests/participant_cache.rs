//! The participant cache's bounds (docs/identity.md, "Sessions"): a conference token names its
//! caller as the database does — at once after a rename through the API, within moments after
//! one made elsewhere (announced by a trigger), and within `SESSION_CACHE_SECS` when nothing
//! announces it. One test, run alone in its binary: every sign-in anywhere in a process forgets
//! that process's caches, so a test beside it would make the stale read below a fresh one.

extern crate qubital_auth;
extern crate qubital_realtime;
extern crate qubital_users;

mod support;

use std::time::{Duration, Instant};

use livekit_api::access_token::TokenVerifier;
use qubital_testkit::{seen_within, Client, TestApp};
use serde_json::json;
use support::{create_space, sign_in, with_livekit, LIVEKIT_KEY, LIVEKIT_SECRET};

/// The name the conference token for `space` gives `client`.
async fn token_name(client: &Client, space: &str) -> String {
    let answer = client
        .ok("/realtime/conference-token", json!({"spaceId": space}))
        .await;
    TokenVerifier::with_api_key(LIVEKIT_KEY, LIVEKIT_SECRET)
        .verify(answer["token"].as_str().unwrap())
        .unwrap()
        .name
}

/// Signs in as an admin with a space, lets the notifications of the sign-in arrive, and caches
/// the participant with a first token.
async fn cached_admin(app: &TestApp, email: &str) -> (Client, String) {
    let client = sign_in(&app.address, email, "Acme", "admin").await;
    let space = create_space(&client, "Main").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let shown = client.user["displayName"].as_str().unwrap().to_owned();
    assert_eq!(token_name(&client, &space).await, shown);
    (client, space)
}

/// Renames the member behind the server's back (another replica, a manual `UPDATE`).
async fn rename_elsewhere(app: &TestApp, client: &Client, name: &str) {
    sqlx::query("UPDATE user_organizations SET display_name = $2 WHERE user_id = $1")
        .bind(client.user_id().parse::<i64>().unwrap())
        .bind(name)
        .execute(app.db())
        .await
        .unwrap();
}

/// How long after `since` the token names `name`, polled for up to `limit`.
async fn named_after(client: &Client, space: &str, name: &str, since: Instant, limit: Duration) -> Duration {
    seen_within(since, limit, &format!("the name {name}"), || async {
        token_name(client, space).await == name
    })
    .await
}

#[tokio::test]
async fn a_new_name_is_in_the_next_token_at_once_when_announced_and_within_the_age_limit_when_not() {
    let app = with_livekit(TestApp::builder())
        .arg("--session-cache-secs")
        .arg("5")
        .spawn()
        .await;
    let (ada, space) = cached_admin(&app, "ada@acme.test").await;

    // Through the API: this process forgets at once.
    ada.ok("/user/update", json!({"displayName": "Ada L."})).await;
    assert_eq!(token_name(&ada, &space).await, "Ada L.");

    // Elsewhere, announced (the trigger's NOTIFY): long before the 5 s age limit.
    let changed = Instant::now();
    rename_elsewhere(&app, &ada, "Countess").await;
    let seen = named_after(&ada, &space, "Countess", changed, Duration::from_secs(5)).await;
    assert!(seen < Duration::from_secs(2), "the notification took {seen:?}");

    // Elsewhere, not announced (trigger dropped): the cached name is still used — the request
    // read no participant — until the entry's 2 s are over, and not longer.
    let app = with_livekit(TestApp::builder())
        .arg("--session-cache-secs")
        .arg("2")
        .spawn()
        .await;
    sqlx::query("DROP TRIGGER user_organizations_names_changed ON user_organizations")
        .execute(app.db())
        .await
        .unwrap();
    let (bob, space) = cached_admin(&app, "bob@acme.test").await;
    let cached_at = Instant::now();
    rename_elsewhere(&app, &bob, "Robert").await;
    assert_ne!(token_name(&bob, &space).await, "Robert", "served from the cache");
    let seen = named_after(&bob, &space, "Robert", cached_at, Duration::from_secs(4)).await;
    assert!(
        seen <= Duration::from_millis(2_500),
        "seen after {seen:?}, beyond the 2 s age limit"
    );
}
