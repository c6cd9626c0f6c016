//! The mirror of WorkOS's organizations, users and memberships in the identity tables, for the
//! feature that follows WorkOS (eventsync): upserts and deletes keyed by WorkOS id, **newer
//! wins**.
//!
//! Each mirrored row stores the WorkOS `updated_at` it was written from (`workos_updated_at`);
//! an upsert writes only when the incoming version is strictly newer, so events applied late or
//! twice change nothing. Every function is one statement in the caller's connection: the
//! caller runs it inside its own transaction, together with its bookkeeping (event inbox,
//! stream cursor, tombstones), so the effects and the bookkeeping commit together or not at
//! all. What was deleted in WorkOS (and must not come back) is the caller's to remember.

use chrono::{DateTime, Utc};
use qubital_plugin::auth::Role;
use sqlx::PgConnection;

use crate::directory::new_public_id;

/// The local ids of a user and an organization: what a membership joins, and what its
/// sessions are ended by (`sessions::end_membership_sessions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MembershipKey {
    pub user_id: i64,
    pub org_id: i64,
}

/// WorkOS sends a missing name as `""`: stored as no name.
fn name(value: Option<&str>) -> Option<&str> {
    value.filter(|s| !s.is_empty())
}

/// Writes organization `workos_id` as of `updated_at` (created as initialized, since WorkOS
/// named it); `false` when the mirror already holds this version or a newer one.
pub async fn upsert_organization(
    conn: &mut PgConnection,
    workos_id: &str,
    name: &str,
    updated_at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let written: Option<i64> = sqlx::query_scalar(
        "INSERT INTO organizations (public_id, name, workos_org_id, workos_updated_at, initialized)
         VALUES ($4, $2, $1, $3, true)
         ON CONFLICT (workos_org_id) DO UPDATE
           SET name = EXCLUDED.name, workos_updated_at = EXCLUDED.workos_updated_at, updated_at = now()
           WHERE organizations.workos_updated_at IS NULL OR organizations.workos_updated_at < EXCLUDED.workos_updated_at
         RETURNING id",
    )
    .bind(workos_id)
    .bind(name)
    .bind(updated_at)
    .bind(new_public_id())
    .fetch_optional(conn)
    .await?;
    Ok(written.is_some())
}

/// Deletes organization `workos_id`, with its memberships and sessions (cascade); `false` when
/// it was not there.
pub async fn delete_organization(conn: &mut PgConnection, workos_id: &str) -> sqlx::Result<bool> {
    // What the session cache holds may change: see crate::session_cache.
    crate::session_cache::invalidate();
    let deleted = sqlx::query("DELETE FROM organizations WHERE workos_org_id = $1")
        .bind(workos_id)
        .execute(conn)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

/// Writes user `workos_id` as of `updated_at`; `false` when the mirror already holds this
/// version or a newer one.
pub async fn upsert_user(
    conn: &mut PgConnection,
    workos_id: &str,
    email: &str,
    first_name: Option<&str>,
    last_name: Option<&str>,
    updated_at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    // What the participant cache holds may change: see crate::session_cache.
    crate::session_cache::invalidate();
    let written: Option<i64> = sqlx::query_scalar(
        "INSERT INTO users (workos_id, email, first_name, last_name, workos_updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (workos_id) DO UPDATE
           SET email = EXCLUDED.email, first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,
               workos_updated_at = EXCLUDED.workos_updated_at, updated_at = now()
           WHERE users.workos_updated_at IS NULL OR users.workos_updated_at < EXCLUDED.workos_updated_at
         RETURNING id",
    )
    .bind(workos_id)
    .bind(email)
    .bind(name(first_name))
    .bind(name(last_name))
    .bind(updated_at)
    .fetch_optional(conn)
    .await?;
    Ok(written.is_some())
}

/// Deletes user `workos_id`; their memberships and sessions go with the row (cascade), so
/// access ends on their next request. Like the removal of each membership, it retires the
/// invite link of every organization they were in (an account made again with the same address
/// must not walk back in through a link the deleted one knew). `false` when they were not there.
pub async fn delete_user(conn: &mut PgConnection, workos_id: &str) -> sqlx::Result<bool> {
    // What the session cache holds may change: see crate::session_cache.
    crate::session_cache::invalidate();
    let organizations: Vec<i64> = sqlx::query_scalar(
        "DELETE FROM user_organizations m USING users u
         WHERE m.user_id = u.id AND u.workos_id = $1
         RETURNING m.org_id",
    )
    .bind(workos_id)
    .fetch_all(&mut *conn)
    .await?;
    for org_id in organizations {
        super::organizations::retire_invite_id(&mut *conn, org_id).await?;
    }
    let deleted = sqlx::query("DELETE FROM users WHERE workos_id = $1")
        .bind(workos_id)
        .execute(conn)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

/// The local ids of WorkOS user `user_workos_id` and organization `org_workos_id`, when the
/// mirror holds both.
pub async fn membership_key(
    conn: &mut PgConnection,
    user_workos_id: &str,
    org_workos_id: &str,
) -> sqlx::Result<Option<MembershipKey>> {
    let ids: Option<(i64, i64)> = sqlx::query_as(
        "SELECT u.id, o.id FROM users u, organizations o WHERE u.workos_id = $1 AND o.workos_org_id = $2",
    )
    .bind(user_workos_id)
    .bind(org_workos_id)
    .fetch_optional(conn)
    .await?;
    Ok(ids.map(|(user_id, org_id)| MembershipKey { user_id, org_id }))
}

/// Writes membership `workos_id` of `key` as of `updated_at` (one membership per user and
/// organization: a newer WorkOS membership replaces an older one); `false` when the mirror
/// already holds this version or a newer one. An inactive membership gives no access; ending
/// the sessions it had is the caller's step.
pub async fn upsert_membership(
    conn: &mut PgConnection,
    key: MembershipKey,
    workos_id: &str,
    role: Role,
    active: bool,
    updated_at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    // What the session cache holds may change: see crate::session_cache.
    crate::session_cache::invalidate();
    let written: Option<i64> = sqlx::query_scalar(
        "INSERT INTO user_organizations (user_id, org_id, role, status, workos_membership_id, workos_updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (user_id, org_id) DO UPDATE
           SET role = EXCLUDED.role, status = EXCLUDED.status, workos_membership_id = EXCLUDED.workos_membership_id,
               workos_updated_at = EXCLUDED.workos_updated_at, updated_at = now()
           WHERE user_organizations.workos_updated_at IS NULL OR user_organizations.workos_updated_at < EXCLUDED.workos_updated_at
         RETURNING user_id",
    )
    .bind(key.user_id)
    .bind(key.org_id)
    .bind(role.as_str())
    .bind(if active { "active" } else { "inactive" })
    .bind(workos_id)
    .bind(updated_at)
    .fetch_optional(conn)
    .await?;
    Ok(written.is_some())
}

/// Deletes membership `workos_id` — or, for a membership made here without a WorkOS id, the
/// membership of the same user and organization if nothing newer than `at` was written to it.
/// Never a row carrying another WorkOS membership: that is a newer membership, which a late
/// delete of an older one must not remove. The key of what was removed, to end its sessions.
///
/// Like a removal through the API (`memberships::remove`), it retires the organization's invite
/// link (so the removed member cannot walk back in through the link they joined with) and the
/// organization stops being the user's last one.
pub async fn delete_membership(
    conn: &mut PgConnection,
    workos_id: &str,
    user_workos_id: &str,
    org_workos_id: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<Option<MembershipKey>> {
    // What the session cache holds may change: see crate::session_cache.
    crate::session_cache::invalidate();
    let removed: Option<(i64, i64)> = sqlx::query_as(
        "DELETE FROM user_organizations m USING users u, organizations o
         WHERE m.user_id = u.id AND m.org_id = o.id
           AND (m.workos_membership_id = $1
                OR (m.workos_membership_id IS NULL AND u.workos_id = $2 AND o.workos_org_id = $3
                    AND (m.workos_updated_at IS NULL OR m.workos_updated_at <= $4)))
         RETURNING m.user_id, m.org_id",
    )
    .bind(workos_id)
    .bind(user_workos_id)
    .bind(org_workos_id)
    .bind(at)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((user_id, org_id)) = removed else {
        return Ok(None);
    };
    super::organizations::retire_invite_id(&mut *conn, org_id).await?;
    super::users::forget_last_organization(&mut *conn, user_id, org_id).await?;
    Ok(Some(MembershipKey { user_id, org_id }))
}
