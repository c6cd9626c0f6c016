//! The SQL of conference usage (`conference_activity_days`) and of LiveKit webhook deliveries
//! (`livekit_webhook_events`). Who is in a space now is the spaces feature's
//! (`qubital_spaces::occupancy`).

use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection};

/// Records a delivery's event id. Returns whether it is the first delivery of that event (a
/// redelivery finds it and must change nothing).
pub(crate) async fn first_delivery(
    conn: &mut PgConnection,
    event_id: &str,
    event: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO livekit_webhook_events (event_id, event) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(event_id)
    .bind(event)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// The foreign key of `conference_activity_days.user_id` (into the identity feature's users).
const ACTIVITY_USER_FOREIGN_KEY: &str = "conference_activity_days_user_id_fkey";

/// `user_id` joined a conference of organization `org_id` on the UTC day of `at` (once a day
/// counts). Returns whether `user_id` is a user at all: an identity that merely looks like a
/// user id (a deleted user, a token minted elsewhere) is refused by the row's foreign key.
///
/// The foreign key is the check, so this feature never reads the identity feature's table and
/// the answer cannot race with a user's deletion. The refused insert is rolled back to a
/// savepoint, so the caller's transaction goes on.
pub(crate) async fn record_activity(
    conn: &mut PgConnection,
    org_id: i64,
    user_id: i64,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let mut savepoint = conn.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO conference_activity_days (org_id, day, user_id)
         VALUES ($1, ($2::timestamptz AT TIME ZONE 'UTC')::date, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(org_id)
    .bind(at)
    .bind(user_id)
    .execute(&mut *savepoint)
    .await;
    match inserted {
        Ok(_) => {
            savepoint.commit().await?;
            Ok(true)
        }
        Err(sqlx::Error::Database(error)) if error.constraint() == Some(ACTIVITY_USER_FOREIGN_KEY) => {
            savepoint.rollback().await?;
            Ok(false)
        }
        Err(error) => Err(error),
    }
}

/// Distinct users who joined a conference, per organization (internal id) with any in the last
/// 30 UTC days: `(organization, last 7 days, last 30 days)`, today included.
pub(crate) async fn active_users(conn: &mut PgConnection) -> Result<Vec<(i64, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "WITH today AS (SELECT (now() AT TIME ZONE 'UTC')::date AS day)
         SELECT a.org_id,
                count(DISTINCT a.user_id) FILTER (WHERE a.day > today.day - 7),
                count(DISTINCT a.user_id)
         FROM conference_activity_days a, today
         WHERE a.day > today.day - 30
         GROUP BY a.org_id",
    )
    .fetch_all(conn)
    .await
}
