//! Events applied per second by the follower, against the local WorkOS fake and a real
//! Postgres (`TEST_DATABASE_URL`, or the private test cluster).
//!
//! `cargo bench -p qubital-eventsync --bench follow [-- <events>]` (or `cargo xtask bench-eventsync`).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use qubital_eventsync::{follower, EventsyncSettings};
use sqlx::PgPool;
use support::{churn, FakeWorkos, World};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    let steps: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5000);
    let mut world = World::default();
    churn(&mut world, steps, 42);
    let events = world.events.len();
    let fake = FakeWorkos::start(world).await;
    let db = qubital_testkit::fresh_database().await;
    let pool = PgPool::connect(&db.url).await.expect("connect");
    // Straight to the stream (no backfill), as a follower catching up.
    sqlx::query(
        "INSERT INTO event_cursors (stream, backfill_started_at) VALUES ('workos', now() - interval '1 day')",
    )
    .execute(&pool)
    .await
    .expect("seed the cursor");
    let settings = EventsyncSettings {
        page_size: 100,
        webhook_secret: None,
        webhook_tolerance_secs: 300,
    };
    let started = Instant::now();
    follower::follow(&pool, &fake.workos(), &settings, &CancellationToken::new())
        .await
        .expect("follow");
    let elapsed = started.elapsed().as_secs_f64();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM event_inbox")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(applied as usize, events, "every event processed");
    println!(
        "eventsync follow: {events} events in {elapsed:.2} s = {:.0} events/s (page size 100)",
        events as f64 / elapsed
    );
}
