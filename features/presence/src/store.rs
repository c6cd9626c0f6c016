//! Every SQL statement of the presence feature: `user_presence` only. Writes return the row
//! (locked until the transaction ends), so the caller decides whether to publish.

use sqlx::PgConnection;

/// A member's presence after a write.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct PresenceRow {
    pub org_id: i64,
    pub user_id: i64,
    pub manual_status: Option<String>,
    pub automatic_status: String,
    pub published_status: String,
}

impl PresenceRow {
    /// manual ?? automatic.
    pub fn effective(&self) -> &str {
        self.manual_status.as_deref().unwrap_or(&self.automatic_status)
    }
}

const ROW: &str = "org_id, user_id, manual_status, automatic_status, published_status";

/// A heartbeat: automatically online as of now.
pub(crate) async fn heartbeat(
    conn: &mut PgConnection,
    org_id: i64,
    user_id: i64,
) -> Result<PresenceRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO user_presence (org_id, user_id, automatic_status, last_heartbeat_at)
         VALUES ($1, $2, 'online', now())
         ON CONFLICT (org_id, user_id) DO UPDATE
         SET automatic_status = 'online', last_heartbeat_at = now(), updated_at = now()
         RETURNING {ROW}"
    ))
    .bind(org_id)
    .bind(user_id)
    .fetch_one(conn)
    .await
}

/// Sets (or with `None` clears) the manual status.
pub(crate) async fn set_manual(
    conn: &mut PgConnection,
    org_id: i64,
    user_id: i64,
    status: Option<&str>,
) -> Result<PresenceRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO user_presence (org_id, user_id, manual_status) VALUES ($1, $2, $3)
         ON CONFLICT (org_id, user_id) DO UPDATE SET manual_status = $3, updated_at = now()
         RETURNING {ROW}"
    ))
    .bind(org_id)
    .bind(user_id)
    .bind(status)
    .fetch_one(conn)
    .await
}

/// Records the effective status just queued for publication.
pub(crate) async fn mark_published(
    conn: &mut PgConnection,
    org_id: i64,
    user_id: i64,
    status: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE user_presence SET published_status = $3 WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .bind(status)
        .execute(conn)
        .await?;
    Ok(())
}

/// `(user, manual, automatic)` of the users among `users` with a row in the organization.
pub(crate) async fn statuses(
    conn: &mut PgConnection,
    org_id: i64,
    users: &[i64],
) -> Result<Vec<(i64, Option<String>, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT user_id, manual_status, automatic_status FROM user_presence
         WHERE org_id = $1 AND user_id = ANY($2)",
    )
    .bind(org_id)
    .bind(users)
    .fetch_all(conn)
    .await
}

/// Turns up to `limit` members whose last heartbeat is older than `stale_secs` offline;
/// returns their rows (locked until the transaction ends).
pub(crate) async fn expire_stale(
    conn: &mut PgConnection,
    stale_secs: f64,
    limit: i64,
) -> Result<Vec<PresenceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE user_presence SET automatic_status = 'offline', updated_at = now()
         WHERE (org_id, user_id) IN (
             SELECT org_id, user_id FROM user_presence
             WHERE automatic_status = 'online' AND last_heartbeat_at < now() - make_interval(secs => $1)
             ORDER BY last_heartbeat_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING {ROW}"
    ))
    .bind(stale_secs)
    .bind(limit)
    .fetch_all(conn)
    .await
}
