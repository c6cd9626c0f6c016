//! Events applied per second by the follower, against the local WorkOS fake and a real
//! Postgres (`TEST_DATABASE_URL`, or the private test cluster).
//!
//! `cargo bench -p qubital-eventsync --bench follow [-- <events>]` (or `cargo xtask bench-eventsync`).

// The tests' steps; a bench cannot depend on a test target, so it includes the file.
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use qubital_eventsync::follower;
use sqlx::PgPool;
use support::{inbox_count, settings, workos};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    let steps: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5000);
    let fake = workos().await;
    fake.churn(steps, 42);
    let events = fake.events().len();
    let db = qubital_testkit::fresh_database().await;
    let pool = PgPool::connect(&db.url).await.expect("connect");
    // Straight to the stream (no backfill), as a follower catching up.
    sqlx::query(
        "INSERT INTO event_cursors (stream, backfill_started_at) VALUES ('workos', now() - interval '1 day')",
    )
    .execute(&pool)
    .await
    .expect("seed the cursor");
    let started = Instant::now();
    follower::follow(&pool, &fake.workos(), &settings(100), &CancellationToken::new())
        .await
        .expect("follow");
    let elapsed = started.elapsed().as_secs_f64();
    let applied = inbox_count(&pool).await;
    assert_eq!(applied as usize, events, "every event processed");
    println!(
        "eventsync follow: {events} events in {elapsed:.2} s = {:.0} events/s (page size 100)",
        events as f64 / elapsed
    );
}
