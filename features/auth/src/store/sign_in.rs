//! The short-lived state of sign-ins in progress: `oauth_states` (an OAuth start waiting for its
//! finalize) and `pending_sign_ins` (a sign-in waiting for an organization selection or a
//! sign-up). Both are single use. Pending sign-ins are keyed by the SHA-256 of the handle the
//! client holds; the handle itself is never stored.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::crypto::handle_hash;

/// An OAuth start to remember. Secrets are sealed by the caller.
pub struct NewOAuthState<'a> {
    pub state: &'a str,
    /// `web` or `desktop`.
    pub client: &'a str,
    /// Web: the backend-generated PKCE verifier, sealed.
    pub sealed_verifier: Option<Vec<u8>>,
    /// Desktop: the client's S256 challenge.
    pub code_challenge: Option<&'a str>,
    pub redirect_uri: &'a str,
    pub sealed_invitation_token: Option<Vec<u8>>,
    pub ttl_secs: f64,
}

/// Records an OAuth start; its expiry.
pub async fn insert_oauth_state<'e>(
    db: impl PgExecutor<'e>,
    new: NewOAuthState<'_>,
) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO oauth_states (state, client, code_verifier, code_challenge, redirect_uri, invitation_token, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
         RETURNING expires_at",
    )
    .bind(new.state)
    .bind(new.client)
    .bind(new.sealed_verifier)
    .bind(new.code_challenge)
    .bind(new.redirect_uri)
    .bind(new.sealed_invitation_token)
    .bind(new.ttl_secs)
    .fetch_one(db)
    .await
}

/// A remembered OAuth start.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OAuthState {
    pub client: String,
    pub code_verifier: Option<Vec<u8>>,
    pub code_challenge: Option<String>,
    pub invitation_token: Option<Vec<u8>>,
    /// Not expired yet.
    pub live: bool,
}

/// Takes (deletes) an OAuth start, expired or not: a state is single use whatever happens next.
pub async fn take_oauth_state<'e>(
    db: impl PgExecutor<'e>,
    state: &str,
) -> Result<Option<OAuthState>, sqlx::Error> {
    sqlx::query_as(
        "DELETE FROM oauth_states WHERE state = $1
         RETURNING client, code_verifier, code_challenge, invitation_token, expires_at > now() AS live",
    )
    .bind(state)
    .fetch_optional(db)
    .await
}

/// Records a sign-up step: WorkOS authenticated `user_id`, who belongs to no organization yet.
/// `sealed_refresh_token` is their WorkOS refresh token, sealed.
pub async fn insert_sign_up<'e>(
    db: impl PgExecutor<'e>,
    handle: &str,
    user_id: i64,
    sealed_refresh_token: Vec<u8>,
    workos_session_id: Option<&str>,
    ttl_minutes: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO pending_sign_ins (handle_hash, kind, user_id, secret, workos_session_id, expires_at)
         VALUES ($1, 'sign-up', $2, $3, $4, now() + make_interval(mins => $5))",
    )
    .bind(handle_hash(handle))
    .bind(user_id)
    .bind(sealed_refresh_token)
    .bind(workos_session_id)
    .bind(ttl_minutes)
    .execute(db)
    .await?;
    Ok(())
}

/// Records an organization-selection step: `user_id` must choose one of `organization_ids`.
/// `sealed_pending_token` is WorkOS's pending-authentication token, sealed.
pub async fn insert_selection<'e>(
    db: impl PgExecutor<'e>,
    handle: &str,
    user_id: i64,
    sealed_pending_token: Vec<u8>,
    organization_ids: &[i64],
    ttl_minutes: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO pending_sign_ins (handle_hash, kind, user_id, secret, organization_ids, expires_at)
         VALUES ($1, 'organization-selection', $2, $3, $4, now() + make_interval(mins => $5))",
    )
    .bind(handle_hash(handle))
    .bind(user_id)
    .bind(sealed_pending_token)
    .bind(organization_ids)
    .bind(ttl_minutes)
    .execute(db)
    .await?;
    Ok(())
}

/// A remembered organization-selection step.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Selection {
    pub secret: Vec<u8>,
    pub organization_ids: Vec<i64>,
    /// Not expired yet.
    pub live: bool,
}

/// Takes (deletes) an organization-selection step, expired or not.
pub async fn take_selection<'e>(
    db: impl PgExecutor<'e>,
    handle: &str,
) -> Result<Option<Selection>, sqlx::Error> {
    sqlx::query_as(
        "DELETE FROM pending_sign_ins
         WHERE handle_hash = $1 AND kind = 'organization-selection'
         RETURNING secret, organization_ids, expires_at > now() AS live",
    )
    .bind(handle_hash(handle))
    .fetch_optional(db)
    .await
}

/// A live sign-up step, with its user.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SignUp {
    pub user_id: i64,
    pub secret: Vec<u8>,
    pub workos_session_id: Option<String>,
    pub email: String,
    /// The user's WorkOS id.
    pub workos_id: Option<String>,
}

/// Reads a live sign-up step. (Spending its refresh token needs its lease: see
/// `crate::token_lease`.)
pub async fn sign_up<'e>(db: impl PgExecutor<'e>, handle: &str) -> Result<Option<SignUp>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.user_id, p.secret, p.workos_session_id, u.email, u.workos_id
         FROM pending_sign_ins p JOIN users u ON u.id = p.user_id
         WHERE p.handle_hash = $1 AND p.kind = 'sign-up' AND p.expires_at > now()",
    )
    .bind(handle_hash(handle))
    .fetch_optional(db)
    .await
}

/// Deletes a pending sign-in step (it was used).
pub async fn delete_pending<'e>(db: impl PgExecutor<'e>, handle: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM pending_sign_ins WHERE handle_hash = $1")
        .bind(handle_hash(handle))
        .execute(db)
        .await?;
    Ok(())
}
