//! `user_sessions`: the server-side sessions behind the access tokens.

use chrono::{DateTime, Utc};
use qubital_plugin::auth::Role;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// What kind of sign-in a session came from (the `kind` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    /// Signed in through WorkOS: holds a WorkOS refresh token.
    Workos,
    /// The development sign-in: no vendor behind it.
    Development,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Workos => "workos",
            SessionKind::Development => "development",
        }
    }

    pub fn parse(value: &str) -> Self {
        if value == "workos" {
            SessionKind::Workos
        } else {
            SessionKind::Development
        }
    }
}

/// A session row to insert. The refresh token is sealed by the caller.
pub struct NewRow<'a> {
    pub session_id: Uuid,
    pub user_id: i64,
    pub org_id: i64,
    pub kind: SessionKind,
    pub sealed_refresh_token: Option<Vec<u8>>,
    pub workos_session_id: Option<&'a str>,
    pub ttl_days: i32,
}

/// Inserts a session; its absolute expiry.
pub async fn insert<'e>(db: impl PgExecutor<'e>, new: NewRow<'_>) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO user_sessions (session_id, user_id, org_id, kind, refresh_token, workos_session_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(days => $7))
         RETURNING expires_at",
    )
    .bind(new.session_id)
    .bind(new.user_id)
    .bind(new.org_id)
    .bind(new.kind.as_str())
    .bind(new.sealed_refresh_token)
    .bind(new.workos_session_id)
    .bind(new.ttl_days)
    .fetch_one(db)
    .await
}

/// A live session whose user is still an active member of its organization.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Live {
    pub user_id: i64,
    pub org_id: i64,
    pub role: Role,
    /// Its absolute expiry.
    pub expires_at: DateTime<Utc>,
}

/// The session `session_id` if it is live: not ended, not past its absolute expiry, and its user
/// still an active member of its organization. Read on every request.
pub async fn live<'e>(db: impl PgExecutor<'e>, session_id: Uuid) -> Result<Option<Live>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.user_id, s.org_id, m.role, s.expires_at
         FROM user_sessions s
         JOIN user_organizations m
           ON m.user_id = s.user_id AND m.org_id = s.org_id AND m.status = 'active'
         WHERE s.session_id = $1 AND s.ended_at IS NULL AND s.expires_at > now()",
    )
    .bind(session_id)
    .fetch_optional(db)
    .await
}

/// A session about to be refreshed.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ToRefresh {
    pub user_id: i64,
    pub kind: String,
    pub refresh_token: Option<Vec<u8>>,
    pub expires_at: DateTime<Utc>,
    /// Refreshed already after the expiry of the token that asks (by a concurrent request).
    pub fresh: bool,
    pub workos_org_id: Option<String>,
}

/// Reads a live session for a refresh of a token that expired at `token_exp` (Unix seconds).
/// (Spending its refresh token needs its lease: see `crate::token_lease`.)
pub async fn to_refresh<'e>(
    db: impl PgExecutor<'e>,
    session_id: Uuid,
    token_exp: i64,
) -> Result<Option<ToRefresh>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.user_id, s.kind, s.refresh_token, s.expires_at,
                s.refreshed_at >= to_timestamp($2) AS fresh,
                o.workos_org_id
         FROM user_sessions s JOIN organizations o ON o.id = s.org_id
         WHERE s.session_id = $1 AND s.ended_at IS NULL AND s.expires_at > now()",
    )
    .bind(session_id)
    .bind(token_exp as f64)
    .fetch_optional(db)
    .await
}

/// Records a refresh that rotated the WorkOS refresh token.
pub async fn store_rotated_token<'e>(
    db: impl PgExecutor<'e>,
    session_id: Uuid,
    sealed_refresh_token: Vec<u8>,
    workos_session_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE user_sessions
         SET refresh_token = $2, refreshed_at = now(), updated_at = now(),
             workos_session_id = COALESCE($3, workos_session_id)
         WHERE session_id = $1",
    )
    .bind(session_id)
    .bind(sealed_refresh_token)
    .bind(workos_session_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Records a refresh that needed no vendor (a development session).
pub async fn mark_refreshed<'e>(db: impl PgExecutor<'e>, session_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE user_sessions SET refreshed_at = now(), updated_at = now() WHERE session_id = $1")
        .bind(session_id)
        .execute(db)
        .await?;
    Ok(())
}

/// A live session about to enter another organization, with its user.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Entering {
    pub user_id: i64,
    pub kind: String,
    pub refresh_token: Option<Vec<u8>>,
    pub workos_session_id: Option<String>,
    pub email: String,
    /// The user's WorkOS id.
    pub workos_id: Option<String>,
}

/// Reads a live session about to enter another organization. (Spending its refresh token needs
/// its lease: see `crate::token_lease`.)
pub async fn entering<'e>(
    db: impl PgExecutor<'e>,
    session_id: Uuid,
) -> Result<Option<Entering>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.user_id, s.kind, s.refresh_token, s.workos_session_id, u.email, u.workos_id
         FROM user_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.session_id = $1 AND s.ended_at IS NULL AND s.expires_at > now()",
    )
    .bind(session_id)
    .fetch_optional(db)
    .await
}

/// Points a session at another organization (with a refresh token scoped to it, when there is
/// one); the session's absolute expiry.
pub async fn move_to_organization<'e>(
    db: impl PgExecutor<'e>,
    session_id: Uuid,
    org_id: i64,
    sealed_refresh_token: Option<Vec<u8>>,
    workos_session_id: Option<&str>,
) -> Result<DateTime<Utc>, sqlx::Error> {
    // What the session cache holds may change: see crate::session_cache.
    crate::session_cache::invalidate();
    sqlx::query_scalar(
        "UPDATE user_sessions
         SET org_id = $2, refresh_token = COALESCE($3, refresh_token), refreshed_at = now(),
             workos_session_id = $4, updated_at = now()
         WHERE session_id = $1
         RETURNING expires_at",
    )
    .bind(session_id)
    .bind(org_id)
    .bind(sealed_refresh_token)
    .bind(workos_session_id)
    .fetch_one(db)
    .await
}

/// Ends the live sessions matching a condition (`$1` is the reason; the condition's parameters
/// follow), forgetting their refresh tokens; yields the WorkOS session ids that ended, to revoke
/// with WorkOS.
fn ending(condition: &str) -> String {
    format!(
        "UPDATE user_sessions
         SET ended_at = now(), end_reason = $1, refresh_token = NULL, updated_at = now()
         WHERE ended_at IS NULL AND {condition}
         RETURNING workos_session_id"
    )
}

/// Ends one session. Returns the WorkOS session ids that ended.
pub async fn end_session(
    conn: &mut PgConnection,
    session_id: Uuid,
    reason: &str,
) -> Result<Vec<String>, sqlx::Error> {
    // What the session cache holds may change: see crate::session_cache.
    crate::session_cache::invalidate();
    let ended: Vec<Option<String>> = sqlx::query_scalar(&ending("session_id = $2"))
        .bind(reason)
        .bind(session_id)
        .fetch_all(conn)
        .await?;
    Ok(ended.into_iter().flatten().collect())
}

/// Ends every session of a user (user deleted, signed out everywhere).
pub async fn end_user_sessions(
    conn: &mut PgConnection,
    user_id: i64,
    reason: &str,
) -> Result<Vec<String>, sqlx::Error> {
    // What the session cache holds may change: see crate::session_cache.
    crate::session_cache::invalidate();
    let ended: Vec<Option<String>> = sqlx::query_scalar(&ending("user_id = $2"))
        .bind(reason)
        .bind(user_id)
        .fetch_all(conn)
        .await?;
    Ok(ended.into_iter().flatten().collect())
}

/// Ends the sessions of a user that act in an organization (member removed).
pub async fn end_membership_sessions(
    conn: &mut PgConnection,
    user_id: i64,
    org_id: i64,
    reason: &str,
) -> Result<Vec<String>, sqlx::Error> {
    // What the session cache holds may change: see crate::session_cache.
    crate::session_cache::invalidate();
    let ended: Vec<Option<String>> = sqlx::query_scalar(&ending("user_id = $2 AND org_id = $3"))
        .bind(reason)
        .bind(user_id)
        .bind(org_id)
        .fetch_all(conn)
        .await?;
    Ok(ended.into_iter().flatten().collect())
}
