//! eventsync's test steps, over `qubital_testkit` and `platform_workos`'s WorkOS fake: the
//! follower run against a database, what the mirror should hold next to what it holds, and
//! webhook deliveries made through the test client.
//!
//! Also included by `benches/follow.rs`, which cannot depend on a test target.

#![allow(dead_code)] // each test binary (and the bench) uses a part of it

use std::collections::BTreeMap;

use platform_workos::fake::{webhook_delivery, FakeWorkos, WebhookDelivery};
use qubital_eventsync::{follower, EventsyncSettings};
use qubital_testkit::{read, Client, TestApp};
use serde_json::Value;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// The secret of the webhook endpoint in these tests.
pub const WEBHOOK_SECRET: &str = "whsec_test_eventsync";

/// A WorkOS fake for the follower. The follower asks for the event types it mirrors; the fake
/// serves every type, so that the tests see how one it did not expect is handled (recorded as
/// skipped, never fatal).
pub async fn workos() -> FakeWorkos {
    let fake = FakeWorkos::start().await;
    fake.serve_all_event_types();
    fake
}

pub fn settings(page_size: u32) -> EventsyncSettings {
    EventsyncSettings {
        page_size,
        webhook_secret: None,
        webhook_tolerance_secs: 300,
    }
}

/// One run of the follower until the stream is drained.
pub async fn follow(db: &PgPool, fake: &FakeWorkos, page_size: u32) {
    follower::follow(
        db,
        &fake.workos(),
        &settings(page_size),
        &CancellationToken::new(),
    )
    .await
    .expect("the follower runs");
}

/// Positions the follower on the stream (as after a backfill long ago), so it reads every event.
pub async fn skip_backfill(pool: &PgPool) {
    sqlx::query(
        "INSERT INTO event_cursors (stream, backfill_started_at) VALUES ('workos', '2026-10-01T00:00:00Z')",
    )
    .execute(pool)
    .await
    .unwrap();
}

/// A fresh database whose follower starts on the stream.
pub async fn database_following_the_stream() -> (qubital_testkit::TestDatabase, PgPool) {
    let db = qubital_testkit::fresh_database().await;
    let pool = PgPool::connect(&db.url).await.unwrap();
    skip_backfill(&pool).await;
    (db, pool)
}

/// Events processed, by either path.
pub async fn inbox_count(db: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM event_inbox")
        .fetch_one(db)
        .await
        .unwrap()
}

/// The id of the last event WorkOS recorded.
pub fn last_event_id(fake: &FakeWorkos) -> Option<String> {
    fake.events()
        .last()
        .and_then(|e| e["id"].as_str())
        .map(str::to_owned)
}

/// What the mirror holds (or must hold): organizations (id → name), users (id → (email, first
/// name)), memberships ((user, org) → (role, status)), by WorkOS ids.
#[derive(Debug, PartialEq, Eq)]
pub struct Mirror {
    pub organizations: BTreeMap<String, String>,
    pub users: BTreeMap<String, (String, Option<String>)>,
    pub memberships: BTreeMap<(String, String), (String, String)>,
}

/// What the mirror must hold to be in step with `fake` (a `pending` membership is mirrored as
/// `inactive`).
pub fn expected(fake: &FakeWorkos) -> Mirror {
    Mirror {
        organizations: fake.organizations().into_iter().collect(),
        users: fake
            .users()
            .into_iter()
            .map(|u| (u.id, (u.email, u.first_name)))
            .collect(),
        memberships: fake
            .memberships()
            .into_iter()
            .map(|m| {
                let status = if m.status == "active" {
                    "active"
                } else {
                    "inactive"
                };
                ((m.user_id, m.organization_id), (m.role_slug, status.to_owned()))
            })
            .collect(),
    }
}

/// The mirror's content.
pub async fn mirrored(db: &PgPool) -> Mirror {
    let organizations: Vec<(String, String)> =
        sqlx::query_as("SELECT workos_org_id, name FROM organizations WHERE workos_org_id IS NOT NULL")
            .fetch_all(db)
            .await
            .unwrap();
    let users: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT workos_id, email, first_name FROM users WHERE workos_id IS NOT NULL")
            .fetch_all(db)
            .await
            .unwrap();
    let memberships: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT u.workos_id, o.workos_org_id, m.role, m.status FROM user_organizations m
         JOIN users u ON u.id = m.user_id JOIN organizations o ON o.id = m.org_id",
    )
    .fetch_all(db)
    .await
    .unwrap();
    Mirror {
        organizations: organizations.into_iter().collect(),
        users: users
            .into_iter()
            .map(|(id, email, first)| (id, (email, first)))
            .collect(),
        memberships: memberships
            .into_iter()
            .map(|(u, o, role, status)| ((u, o), (role, status)))
            .collect(),
    }
}

/// Asserts the mirror equals `expected`, reporting only the differences.
pub fn assert_same(actual: &Mirror, expected: &Mirror, context: &str) {
    fn diff<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
        name: &str,
        actual: &BTreeMap<K, V>,
        expected: &BTreeMap<K, V>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for (k, v) in expected {
            match actual.get(k) {
                None => out.push(format!("{name} {k:?} missing (expected {v:?})")),
                Some(a) if a != v => out.push(format!("{name} {k:?} is {a:?}, expected {v:?}")),
                _ => {}
            }
        }
        for (k, a) in actual {
            if !expected.contains_key(k) {
                out.push(format!("{name} {k:?} should not exist (is {a:?})"));
            }
        }
        out
    }
    let mut problems = diff("organization", &actual.organizations, &expected.organizations);
    problems.extend(diff("user", &actual.users, &expected.users));
    problems.extend(diff("membership", &actual.memberships, &expected.memberships));
    assert!(
        problems.is_empty(),
        "{context}: {} differences:\n{}",
        problems.len(),
        problems.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// An app whose webhook endpoint has [`WEBHOOK_SECRET`].
pub async fn app_with_webhooks() -> TestApp {
    TestApp::builder()
        .arg("--workos-webhook-secret")
        .arg(WEBHOOK_SECRET)
        .spawn()
        .await
}

/// Posts a delivery to `/webhooks/workos` as WorkOS does; the status and the JSON answer (an
/// error is checked to be a problem).
pub async fn deliver_signed(client: &Client, body: &[u8], signature: Option<&str>) -> (u16, Value) {
    let mut request = client
        .http
        .post(client.url("/webhooks/workos"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("WorkOS-Signature", signature);
    }
    read(request.send().await.expect("the app answers")).await
}

/// Delivers `event` signed with [`WEBHOOK_SECRET`], now.
pub async fn deliver(client: &Client, event: &Value) -> (u16, Value) {
    let WebhookDelivery { body, signature } = webhook_delivery(WEBHOOK_SECRET, event);
    deliver_signed(client, &body, Some(&signature)).await
}

/// Delivers `event`, expecting a 200; what the delivery did (`applied`, `stale`, …).
pub async fn outcome(client: &Client, event: &Value) -> String {
    let (status, answer) = deliver(client, event).await;
    assert_eq!(status, 200, "{answer}");
    answer["outcome"].as_str().unwrap().to_owned()
}
