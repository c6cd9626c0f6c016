//! `auth_rate_limits`: fixed one-minute windows of request counts, shared by every replica.

use sqlx::PgExecutor;

/// Counts one request in `bucket`'s current window; the window's count so far.
pub async fn hit<'e>(db: impl PgExecutor<'e>, bucket: &str) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO auth_rate_limits (bucket, window_start, hits)
         VALUES ($1, date_trunc('minute', now()), 1)
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = auth_rate_limits.hits + 1
         RETURNING hits",
    )
    .bind(bucket)
    .fetch_one(db)
    .await
}
