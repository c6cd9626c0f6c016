//! `invitations`: the local mirror of invitations sent through WorkOS, so that they have a
//! public id and can be listed without WorkOS. Managed by the organizations feature; here so
//! that a sign-in that redeems one can mark it accepted.

use chrono::{DateTime, Utc};
use qubital_plugin::auth::Role;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// An invitation row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Invitation {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    /// `pending`, `accepted` or `revoked` (a pending one past `expires_at` has expired).
    pub state: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub inviter_user_id: Option<i64>,
    pub workos_invitation_id: Option<String>,
}

const COLUMNS: &str = "id, email, role, state, expires_at, created_at, inviter_user_id, workos_invitation_id";

/// Marks the mirror of a WorkOS invitation accepted, if it is pending (a sign-in redeemed it).
pub async fn accept_if_pending<'e>(
    db: impl PgExecutor<'e>,
    workos_invitation_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE invitations SET state = 'accepted', updated_at = now()
         WHERE workos_invitation_id = $1 AND state = 'pending'",
    )
    .bind(workos_invitation_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Marks the mirror of a WorkOS invitation accepted (WorkOS accepted it); its id and the role
/// it carried, when it is mirrored here.
pub async fn accept<'e>(
    db: impl PgExecutor<'e>,
    workos_invitation_id: &str,
) -> Result<Option<(Uuid, Role)>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE invitations SET state = 'accepted', updated_at = now()
         WHERE workos_invitation_id = $1 RETURNING id, role",
    )
    .bind(workos_invitation_id)
    .fetch_optional(db)
    .await
}

/// Whether `email` has a pending, unexpired invitation to `org_id` (case-insensitively).
pub async fn any_pending<'e>(db: impl PgExecutor<'e>, org_id: i64, email: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM invitations
                        WHERE org_id = $1 AND state = 'pending' AND lower(email) = lower($2)
                          AND expires_at > now())",
    )
    .bind(org_id)
    .bind(email)
    .fetch_one(db)
    .await
}

/// Closes the pending invitations of `email` to `org_id` (expired ones: a pending row would
/// block the one-pending-invitation-per-address index).
pub async fn revoke_pending<'e>(
    db: impl PgExecutor<'e>,
    org_id: i64,
    email: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE invitations SET state = 'revoked', updated_at = now()
         WHERE org_id = $1 AND state = 'pending' AND lower(email) = lower($2)",
    )
    .bind(org_id)
    .bind(email)
    .execute(db)
    .await?;
    Ok(())
}

/// An invitation WorkOS sent, to mirror.
pub struct NewInvitation<'a> {
    pub org_id: i64,
    pub workos_invitation_id: &'a str,
    pub email: &'a str,
    pub role: Role,
    pub inviter_user_id: i64,
    pub expires_at: DateTime<Utc>,
}

/// Mirrors a sent invitation (pending, with a new public id).
pub async fn insert<'e>(db: impl PgExecutor<'e>, new: NewInvitation<'_>) -> Result<Invitation, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO invitations (id, org_id, workos_invitation_id, email, role, state, inviter_user_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)
         RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(new.org_id)
    .bind(new.workos_invitation_id)
    .bind(new.email)
    .bind(new.role)
    .bind(new.inviter_user_id)
    .bind(new.expires_at)
    .fetch_one(db)
    .await
}

/// How many invitations the organization has (any state).
pub async fn count<'e>(db: impl PgExecutor<'e>, org_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM invitations WHERE org_id = $1")
        .bind(org_id)
        .fetch_one(db)
        .await
}

/// A page of the organization's invitations, newest first.
pub async fn page<'e>(
    db: impl PgExecutor<'e>,
    org_id: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<Invitation>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM invitations WHERE org_id = $1
         ORDER BY created_at DESC, id LIMIT $2 OFFSET $3"
    ))
    .bind(org_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

/// The invitation `id` of organization `org_id`.
pub async fn find(conn: &mut PgConnection, org_id: i64, id: Uuid) -> Result<Option<Invitation>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM invitations WHERE id = $1 AND org_id = $2"
    ))
    .bind(id)
    .bind(org_id)
    .fetch_optional(conn)
    .await
}

/// The invitation `id` of `org_id`, locked until the caller's transaction ends.
pub async fn lock(conn: &mut PgConnection, org_id: i64, id: Uuid) -> Result<Option<Invitation>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM invitations WHERE id = $1 AND org_id = $2 FOR UPDATE"
    ))
    .bind(id)
    .bind(org_id)
    .fetch_optional(conn)
    .await
}

/// Marks an invitation revoked; the invitation as it is now.
pub async fn revoke<'e>(db: impl PgExecutor<'e>, id: Uuid) -> Result<Invitation, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE invitations SET state = 'revoked', updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .fetch_one(db)
    .await
}
