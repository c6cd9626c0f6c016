//! The session cache's bounds (docs/identity.md, "Sessions"): a change to a session or a
//! membership made anywhere is seen at once where it is announced, and within
//! `SESSION_CACHE_SECS` where it is not. One test, run alone in its binary: every sign-in
//! anywhere in a process forgets that process's cached sessions, so a test beside it would
//! make the stale read below a fresh one.

extern crate qubital_auth;

// Registers the test-only `/test/whoami` operation.
mod support;

use std::time::{Duration, Instant};

use qubital_auth::test_support::sign_in;
use qubital_testkit::{seen_within, Client, TestApp};
use serde_json::{json, Value};

async fn role(client: &Client) -> String {
    let me: Value = client.ok("/test/whoami", json!({})).await;
    me["role"].as_str().unwrap().to_owned()
}

/// Signs in as an admin, lets the notifications of the sign-in arrive, and caches the session.
async fn cached_admin(app: &TestApp, email: &str) -> Client {
    let client = sign_in(&app.address, email, "Acme", "admin").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(role(&client).await, "admin");
    client
}

/// Makes the user a member behind the server's back.
async fn demote(app: &TestApp, client: &Client) {
    sqlx::query("UPDATE user_organizations SET role = 'member' WHERE user_id = $1")
        .bind(client.user_id().parse::<i64>().unwrap())
        .execute(app.db())
        .await
        .unwrap();
}

/// How long after `since` the role reads `member`, polled for up to `limit`.
async fn seen_after(client: &Client, since: Instant, limit: Duration) -> Duration {
    seen_within(since, limit, "the role `member`", || async {
        role(client).await == "member"
    })
    .await
}

#[tokio::test]
async fn a_change_is_seen_at_once_when_announced_and_within_the_age_limit_when_not() {
    // Announced (the trigger's NOTIFY): long before the 5 s age limit.
    let app = TestApp::builder()
        .arg("--session-cache-secs")
        .arg("5")
        .spawn()
        .await;
    let ada = cached_admin(&app, "ada@acme.test").await;
    let changed = Instant::now();
    demote(&app, &ada).await;
    let seen = seen_after(&ada, changed, Duration::from_secs(5)).await;
    assert!(seen < Duration::from_secs(2), "the notification took {seen:?}");

    // Not announced (trigger dropped): the cached role is still used — the request read no
    // session row — until the entry's 2 s are over, and not longer.
    let app = TestApp::builder()
        .arg("--session-cache-secs")
        .arg("2")
        .spawn()
        .await;
    sqlx::query("DROP TRIGGER user_organizations_changed ON user_organizations")
        .execute(app.db())
        .await
        .unwrap();
    let bob = cached_admin(&app, "bob@acme.test").await;
    let cached_at = Instant::now();
    demote(&app, &bob).await;
    assert_eq!(role(&bob).await, "admin", "served from the cache");
    let seen = seen_after(&bob, cached_at, Duration::from_secs(4)).await;
    assert!(
        seen <= Duration::from_millis(2_500),
        "seen after {seen:?}, beyond the 2 s age limit"
    );
}
