//! Retention: `event_inbox` keeps 35 days of event ids and `workos_tombstones` 35 days of
//! deletions (the host's housekeeping job applies the rules), and forgetting an older event id
//! changes nothing about how the mirror applies events.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use qubital_eventsync::{
    apply::{self, Outcome, Source},
    objects::Event,
    EVENTSYNC,
};
use qubital_testkit::{fresh_database, TestApp};
use serde_json::json;
use sqlx::PgPool;

/// An app whose process does not run the housekeeping job (it belongs to `serve`), so the only
/// prune is the test's own.
async fn worker() -> TestApp {
    TestApp::builder().role(EVENTSYNC).spawn().await
}

/// Inserts one inbox row received `received_days_ago` days ago (fractional days allowed).
async fn inbox_row(db: &PgPool, event_id: &str, occurred_days_ago: f64, received_days_ago: f64) {
    sqlx::query(
        "INSERT INTO event_inbox (event_id, event_type, source, outcome, occurred_at, received_at)
         VALUES ($1, 'user.updated', 'webhook', 'applied',
                 now() - make_interval(secs => $2 * 86400), now() - make_interval(secs => $3 * 86400))",
    )
    .bind(event_id)
    .bind(occurred_days_ago)
    .bind(received_days_ago)
    .execute(db)
    .await
    .unwrap();
}

async fn inbox_ids(db: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT event_id FROM event_inbox ORDER BY event_id")
        .fetch_all(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn prune_deletes_exactly_the_inbox_rows_received_more_than_35_days_ago() {
    let app = worker().await;
    let db = app.db();
    // More expired rows than one batch holds, from both sources.
    sqlx::query(
        "INSERT INTO event_inbox (event_id, event_type, source, outcome, occurred_at, received_at)
         SELECT 'event_expired_' || lpad(i::text, 5, '0'), 'organization.updated',
                CASE WHEN i % 2 = 0 THEN 'stream' ELSE 'webhook' END, 'applied',
                now() - interval '36 days' - make_interval(mins => i),
                now() - interval '36 days' - make_interval(mins => i)
         FROM generate_series(1, 12001) AS i",
    )
    .execute(db)
    .await
    .unwrap();
    inbox_row(db, "event_a_just_expired", 35.01, 35.01).await;
    inbox_row(db, "event_b_almost_expired", 34.99, 34.99).await;
    inbox_row(db, "event_c_today", 0.0, 0.0).await;
    // Received recently although it happened long ago: kept, the clock is the receipt.
    inbox_row(db, "event_d_old_but_received_today", 40.0, 0.0).await;

    // Asked to stop before the first batch: nothing is deleted.
    assert_eq!(app.prune_until("eventsync", || true).await, 0);
    assert_eq!(inbox_ids(db).await.len(), 12_005);

    let pruned_before = qubital_plugin::tables::pruned_rows_total("event_inbox");
    let deleted = app.prune("eventsync").await;
    assert_eq!(deleted, 12_002);
    assert_eq!(
        inbox_ids(db).await,
        [
            "event_b_almost_expired",
            "event_c_today",
            "event_d_old_but_received_today"
        ]
    );
    assert!(qubital_plugin::tables::pruned_rows_total("event_inbox") >= pruned_before + 12_002);

    // Idempotent.
    assert_eq!(app.prune("eventsync").await, 0);
    assert_eq!(inbox_ids(db).await.len(), 3);
}

/// An instant `hours` ago, as WorkOS writes timestamps.
fn hours_ago(hours: i64) -> String {
    (Utc::now() - chrono::Duration::hours(hours)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn event(id: &str, kind: &str, org_id: &str, name: &str, at: &str) -> Event {
    serde_json::from_value(json!({
        "id": id, "event": kind, "created_at": at,
        "data": {"object": "organization", "id": org_id, "name": name, "domains": [],
                 "created_at": hours_ago(24), "updated_at": at},
    }))
    .unwrap()
}

async fn apply(db: &PgPool, event: &Event) -> Option<Outcome> {
    let mut tx = db.begin().await.unwrap();
    let outcome = apply::apply_event(&mut tx, event, Source::Stream).await.unwrap();
    tx.commit().await.unwrap();
    outcome
}

async fn organization_name(db: &PgPool, workos_id: &str) -> Option<String> {
    sqlx::query_scalar("SELECT name FROM organizations WHERE workos_org_id = $1")
        .bind(workos_id)
        .fetch_optional(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_event_seen_again_after_its_inbox_row_expired_is_stale_and_changes_nothing() {
    let app = worker().await;
    let db = app.db();
    let created = event("event_1", "organization.created", "org_1", "Acme", &hours_ago(4));
    let renamed = event(
        "event_2",
        "organization.updated",
        "org_1",
        "Acme GmbH",
        &hours_ago(3),
    );
    let gone_created = event("event_3", "organization.created", "org_2", "Gone", &hours_ago(4));
    let gone_deleted = event("event_4", "organization.deleted", "org_2", "Gone", &hours_ago(2));
    for e in [&created, &renamed, &gone_created, &gone_deleted] {
        assert_eq!(apply(db, e).await, Some(Outcome::Applied), "{}", e.id);
    }
    assert_eq!(apply(db, &created).await, None, "a duplicate while remembered");

    sqlx::query("UPDATE event_inbox SET received_at = now() - interval '40 days'")
        .execute(db)
        .await
        .unwrap();
    assert_eq!(app.prune("eventsync").await, 4);

    // Forgotten by the inbox, so no longer a duplicate; the mirror's own clocks still refuse it.
    assert_eq!(apply(db, &created).await, Some(Outcome::Stale));
    assert_eq!(organization_name(db, "org_1").await.as_deref(), Some("Acme GmbH"));
    assert_eq!(apply(db, &gone_created).await, Some(Outcome::Stale));
    assert_eq!(organization_name(db, "org_2").await, None, "the tombstone holds");
}

#[tokio::test]
async fn the_api_process_prunes_the_inbox_on_its_own() {
    let database = fresh_database().await;
    let pool = PgPool::connect(&database.url).await.unwrap();
    inbox_row(&pool, "event_expired", 36.0, 36.0).await;
    inbox_row(&pool, "event_fresh", 1.0, 1.0).await;
    pool.close().await;

    // `serve` runs the housekeeping job as soon as it starts (then hourly).
    let app = TestApp::builder().database(database).spawn().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while inbox_ids(app.db()).await != ["event_fresh"] {
        assert!(
            Instant::now() < deadline,
            "the API never pruned the inbox: {:?}",
            inbox_ids(app.db()).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn tombstones_are_kept_35_days_after_the_deletion() {
    let app = worker().await;
    let db = app.db();
    sqlx::query(
        "INSERT INTO workos_tombstones (object_type, workos_id, deleted_at) VALUES
            ('user', 'user_old', now() - interval '36 days'),
            ('user', 'user_recent', now() - interval '34 days'),
            ('organization', 'org_today', now())",
    )
    .execute(db)
    .await
    .unwrap();
    assert_eq!(app.prune("eventsync").await, 1);
    let left: Vec<String> = sqlx::query_scalar("SELECT workos_id FROM workos_tombstones ORDER BY 1")
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(left, ["org_today", "user_recent"]);
}
