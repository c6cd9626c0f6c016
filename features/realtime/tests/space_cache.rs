//! The space cache's bounds (features/spaces/src/cache.rs): a conference token stops being
//! issued for a deleted space at once when it is deleted through the API, within moments when it
//! is deleted elsewhere (announced by a trigger), and within `SPACE_CACHE_SECS` when nothing
//! announces it. One test, run alone in its binary: any deletion or rename of a space in a
//! process forgets that process's cached spaces, so a test beside it would make the stale read
//! below a fresh one.

extern crate qubital_auth;
extern crate qubital_realtime;
extern crate qubital_spaces;

mod support;

use std::time::{Duration, Instant};

use qubital_testkit::{seen_within, Client, TestApp};
use serde_json::json;
use support::{create_space, sign_in, with_livekit};

/// The status of a conference token request for `space`.
async fn token_status(client: &Client, space: &str) -> u16 {
    client
        .post("/realtime/conference-token", json!({"spaceId": space}))
        .await
        .0
}

/// A new space of `client`'s organization, cached by a first token.
async fn cached_space(client: &Client, name: &str) -> String {
    let space = create_space(client, name).await;
    assert_eq!(token_status(client, &space).await, 200);
    space
}

/// Deletes the space behind the server's back (another replica, a manual `DELETE`).
async fn delete_elsewhere(app: &TestApp, space: &str) {
    sqlx::query("DELETE FROM rooms WHERE room_id = $1")
        .bind(space.parse::<uuid::Uuid>().unwrap())
        .execute(app.db())
        .await
        .unwrap();
}

/// How long after `since` a token for `space` is refused, polled for up to `limit`.
async fn refused_after(client: &Client, space: &str, since: Instant, limit: Duration) -> Duration {
    seen_within(since, limit, "a 404 for the deleted space", || async {
        token_status(client, space).await == 404
    })
    .await
}

#[tokio::test]
async fn a_deleted_space_gets_no_token_at_once_when_announced_and_within_the_age_limit_when_not() {
    let app = with_livekit(TestApp::builder())
        .arg("--space-cache-secs")
        .arg("5")
        .spawn()
        .await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    // Let the sign-in's notifications arrive before anything is cached.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Through the API: this process forgets at once.
    let space = cached_space(&ada, "Deleted through the API").await;
    let (status, _) = ada.post(&format!("/spaces/{space}/delete"), json!({})).await;
    assert_eq!(status, 204);
    assert_eq!(token_status(&ada, &space).await, 404);

    // Elsewhere, announced (the trigger's NOTIFY): long before the 5 s age limit.
    let space = cached_space(&ada, "Deleted elsewhere").await;
    let deleted = Instant::now();
    delete_elsewhere(&app, &space).await;
    let seen = refused_after(&ada, &space, deleted, Duration::from_secs(5)).await;
    assert!(seen < Duration::from_secs(2), "the notification took {seen:?}");

    // Elsewhere, not announced (trigger dropped): the cached space is still used — the request
    // read no space — until the entry's 2 s are over, and not longer.
    let app = with_livekit(TestApp::builder())
        .arg("--space-cache-secs")
        .arg("2")
        .spawn()
        .await;
    sqlx::query("DROP TRIGGER rooms_changed ON rooms")
        .execute(app.db())
        .await
        .unwrap();
    let bob = sign_in(&app.address, "bob@acme.test", "Acme", "admin").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let space = cached_space(&bob, "Deleted unannounced").await;
    let cached_at = Instant::now();
    delete_elsewhere(&app, &space).await;
    assert_eq!(token_status(&bob, &space).await, 200, "served from the cache");
    let seen = refused_after(&bob, &space, cached_at, Duration::from_secs(4)).await;
    assert!(
        seen <= Duration::from_millis(2_500),
        "refused after {seen:?}, beyond the 2 s age limit"
    );
}
