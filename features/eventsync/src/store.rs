//! Every SQL statement of eventsync, on its own tables only: the stream's position
//! (`event_cursors`), the event inbox (`event_inbox`) and the tombstones of deleted WorkOS
//! objects (`workos_tombstones`). The mirrored rows are the identity feature's, written
//! through `qubital_auth::store::mirror`.
//!
//! Functions taking a `PgConnection` run in the caller's transaction, so that an event's
//! effects and this bookkeeping commit together.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::{
    apply::{Outcome, Source},
    objects::{Event, ObjectKind},
};

/// The stream's row in `event_cursors`.
const STREAM: &str = "workos";

/// Where the follower stands in the stream.
#[derive(Debug, sqlx::FromRow)]
pub struct Position {
    /// The id of the last applied event.
    pub cursor: Option<String>,
    /// When the last full backfill began: without a cursor, the stream is read from there.
    pub backfill_started_at: Option<DateTime<Utc>>,
}

/// The stream's position (its row is created on first use).
pub async fn position(db: &PgPool) -> sqlx::Result<Position> {
    sqlx::query("INSERT INTO event_cursors (stream) VALUES ($1) ON CONFLICT (stream) DO NOTHING")
        .bind(STREAM)
        .execute(db)
        .await?;
    sqlx::query_as("SELECT cursor, backfill_started_at FROM event_cursors WHERE stream = $1")
        .bind(STREAM)
        .fetch_one(db)
        .await
}

/// Locks the stream's row until the transaction ends (a second follower waits here); the
/// cursor it holds.
pub async fn lock_cursor(conn: &mut PgConnection) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT cursor FROM event_cursors WHERE stream = $1 FOR UPDATE")
        .bind(STREAM)
        .fetch_one(conn)
        .await
}

/// Moves the cursor to `event_id`, which happened at `event_at`.
pub async fn advance_cursor(
    conn: &mut PgConnection,
    event_id: &str,
    event_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE event_cursors SET cursor = $2, last_event_at = $3, updated_at = now() WHERE stream = $1",
    )
    .bind(STREAM)
    .bind(event_id)
    .bind(event_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets the position: the next run backfills again.
pub async fn reset_position(db: &PgPool) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE event_cursors SET cursor = NULL, backfill_started_at = NULL, updated_at = now() WHERE stream = $1",
    )
    .bind(STREAM)
    .execute(db)
    .await?;
    Ok(())
}

/// Records a backfill that began at `started`: the stream is read from there, with no cursor.
pub async fn record_backfill(db: &PgPool, started: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE event_cursors SET backfill_started_at = $2, cursor = NULL, updated_at = now() WHERE stream = $1",
    )
    .bind(STREAM)
    .bind(started)
    .execute(db)
    .await?;
    Ok(())
}

/// Records a drained page.
pub async fn record_poll(db: &PgPool) -> sqlx::Result<()> {
    sqlx::query("UPDATE event_cursors SET last_polled_at = now() WHERE stream = $1")
        .bind(STREAM)
        .execute(db)
        .await?;
    Ok(())
}

/// Records `event` in the inbox as `skipped`, unless it was already applied or found stale;
/// `false` then (a duplicate). A skipped event is claimed again: it may apply now. The row
/// stays locked until the transaction ends, so two transactions never apply one event.
pub async fn claim_event(conn: &mut PgConnection, event: &Event, source: Source) -> sqlx::Result<bool> {
    let claimed = sqlx::query(
        "INSERT INTO event_inbox (event_id, event_type, source, outcome, occurred_at)
         VALUES ($1, $2, $3, 'skipped', $4)
         ON CONFLICT (event_id) DO UPDATE SET source = EXCLUDED.source
             WHERE event_inbox.outcome = 'skipped'",
    )
    .bind(&event.id)
    .bind(&event.event)
    .bind(source.as_str())
    .bind(event.created_at)
    .execute(conn)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Records what applying event `event_id` did.
pub async fn record_outcome(conn: &mut PgConnection, event_id: &str, outcome: Outcome) -> sqlx::Result<()> {
    sqlx::query("UPDATE event_inbox SET outcome = $2 WHERE event_id = $1")
        .bind(event_id)
        .bind(outcome.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Serialises, until the transaction ends, every change to WorkOS object `workos_id`: the
/// tombstone check and the mirror's write of an upsert are two statements, and a delete of the
/// same object must not slip between them.
pub async fn lock_object(conn: &mut PgConnection, kind: ObjectKind, workos_id: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('qubital.eventsync.object:' || $1::text || ':' || $2::text, 0))")
        .bind(kind.as_str())
        .bind(workos_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Remembers that object `workos_id` was deleted at `at` (the latest deletion wins).
pub async fn tombstone(
    conn: &mut PgConnection,
    kind: ObjectKind,
    workos_id: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO workos_tombstones (object_type, workos_id, deleted_at) VALUES ($1, $2, $3)
         ON CONFLICT (object_type, workos_id)
         DO UPDATE SET deleted_at = GREATEST(workos_tombstones.deleted_at, EXCLUDED.deleted_at)",
    )
    .bind(kind.as_str())
    .bind(workos_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether object `workos_id` was deleted at or after `updated_at`: a version that old must
/// not bring it back.
pub async fn deleted_since(
    conn: &mut PgConnection,
    kind: ObjectKind,
    workos_id: &str,
    updated_at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM workos_tombstones
                        WHERE object_type = $1 AND workos_id = $2 AND deleted_at >= $3)",
    )
    .bind(kind.as_str())
    .bind(workos_id)
    .bind(updated_at)
    .fetch_one(conn)
    .await
}
