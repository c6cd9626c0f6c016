//! The development sign-in: any email, no WorkOS (its operation exists only in development; see
//! `api/dev.rs`). Users are local and found again by email; organizations are local and found
//! by name.

use poem::Request;
use qubital_plugin::{auth::Role, AppContext, Problem};
use sqlx::PgConnection;

use crate::{
    directory::{Organization, User},
    sessions::{self, NewSession, SessionKind},
    state::AuthState,
    store,
};

/// Signs `email` in to the organization named `organization_name` (created if none; default:
/// their last organization, else a new "Development"), as `role` (default: admin for the first
/// member, member after; given for an existing member, it changes their role).
pub async fn sign_in(
    ctx: &AppContext,
    req: &Request,
    email: &str,
    organization_name: Option<&str>,
    role: Option<Role>,
) -> Result<User, Problem> {
    let mut tx = ctx.db().begin().await?;
    let user_id = store::users::upsert_local(&mut *tx, email).await?;
    let org = match organization_name {
        Some(name) => organization_named(&mut tx, name).await?,
        None => usual_organization(&mut tx, user_id).await?,
    };
    join(&mut tx, user_id, &org, role).await?;
    let new = NewSession {
        user_id,
        org_id: org.id,
        kind: SessionKind::Development,
        refresh_token: None,
        workos_session_id: None,
    };
    let started = sessions::create(&mut tx, ctx.get::<AuthState>(), new).await?;
    tx.commit().await?;
    sessions::signed_in(ctx, req, &started, org.id).await
}

/// The organization of that name (case-insensitively), created if there is none.
async fn organization_named(conn: &mut PgConnection, name: &str) -> Result<Organization, Problem> {
    match store::organizations::lock_by_name(conn, name).await? {
        Some(org) => Ok(org),
        None => Ok(Organization::insert_local(conn, name).await?),
    }
}

/// The user's last organization, else a new one named "Development".
async fn usual_organization(conn: &mut PgConnection, user_id: i64) -> Result<Organization, Problem> {
    match store::memberships::usual_organization(&mut *conn, user_id).await? {
        Some(id) => Organization::by_id(conn, id)
            .await?
            .ok_or_else(Problem::not_found),
        None => Ok(Organization::insert_local(conn, "Development").await?),
    }
}

/// Makes the user a member of `org` with `role`, or keeps their membership (changing its role
/// when one is given).
async fn join(
    conn: &mut PgConnection,
    user_id: i64,
    org: &Organization,
    role: Option<Role>,
) -> Result<(), Problem> {
    // Serialise joins of the same organization so "first member is admin" holds.
    store::organizations::lock(conn, org.id).await?;
    let existing = store::memberships::role(&mut *conn, user_id, org.id).await?;
    let role = match (existing, role) {
        (Some(_), None) => return Ok(()),
        (Some(_), Some(role)) => role,
        (None, Some(role)) => role,
        (None, None) if store::memberships::any_active(&mut *conn, org.id).await? => Role::Member,
        (None, None) => Role::Admin,
    };
    store::memberships::upsert(conn, user_id, org.id, role, None, true).await?;
    Ok(())
}
