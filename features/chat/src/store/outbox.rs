//! `chat_outbox`: the publications waiting for the relay, and the relay's lock.

use serde_json::Value;
use sqlx::PgConnection;

/// An undelivered publication, in id order.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct PendingRow {
    pub id: i64,
    pub channel: String,
    pub data: Value,
    pub attempts: i32,
    /// Whether its backoff has elapsed.
    pub due: bool,
}

/// Adds a publication (in the caller's transaction). Returns its id.
pub(crate) async fn insert(conn: &mut PgConnection, channel: &str, data: &Value) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO chat_outbox (channel, data) VALUES ($1, $2) RETURNING id")
        .bind(channel)
        .bind(data)
        .fetch_one(conn)
        .await
}

/// The oldest `limit` undelivered publications, in id order.
pub(crate) async fn pending(conn: &mut PgConnection, limit: i64) -> Result<Vec<PendingRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, channel, data, attempts, next_attempt_at <= now() AS due FROM chat_outbox
         WHERE published_at IS NULL AND dead_at IS NULL ORDER BY id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub(crate) async fn mark_published(conn: &mut PgConnection, ids: &[i64]) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query("UPDATE chat_outbox SET published_at = now(), last_error = NULL WHERE id = ANY($1)")
        .bind(ids)
        .execute(conn)
        .await?;
    Ok(())
}

/// A failed attempt: the next one after an exponential backoff (250 ms doubling, capped at 30 s).
pub(crate) async fn mark_failed(conn: &mut PgConnection, id: i64, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE chat_outbox SET attempts = attempts + 1, last_error = $2,
                next_attempt_at = now() + least(interval '250 milliseconds' * power(2, least(attempts, 10)),
                                                interval '30 seconds')
         WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// Refused for good: never retried.
pub(crate) async fn mark_dead(conn: &mut PgConnection, id: i64, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE chat_outbox SET dead_at = now(), attempts = attempts + 1, last_error = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// Undelivered publications and the age of the oldest, in seconds.
pub(crate) async fn backlog(conn: &mut PgConnection) -> Result<(i64, f64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at))::float8, 0)
         FROM chat_outbox WHERE published_at IS NULL AND dead_at IS NULL",
    )
    .fetch_one(conn)
    .await
}

/// The relay's session lock (held by the connection that takes it).
const RELAY_LOCK: &str = "qubital.chat.relay";

pub(crate) async fn try_lock_relay(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
        .bind(RELAY_LOCK)
        .fetch_one(conn)
        .await
}

pub(crate) async fn unlock_relay(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
        .bind(RELAY_LOCK)
        .execute(conn)
        .await?;
    Ok(())
}
