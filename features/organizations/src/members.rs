//! Members of the current organization: list, change role, remove (tag `Members`).

use platform_livekit::LiveKit;
use platform_workos::Workos;
use poem::web::Data;
use poem_openapi::{param::Path, payload::Json, ApiResponse, Enum, Object, OpenApi, Tags};
use qubital_auth::{directory::fallback_display_name, sessions, workos_problem};
use qubital_plugin::{
    auth::{CookieAuth, Role},
    AppContext, Page, Problem,
};
use qubital_spaces::occupancy;
use sqlx::{PgConnection, Row};

use qubital_plugin::list::{contains_pattern, default_limit};

use crate::{
    permissions::{BAN_USER, EDIT_USER},
    problems::LAST_ADMIN,
};
use qubital_auth::permissions::VIEW_ORGANIZATION;

#[derive(Tags)]
enum MembersTag {
    /// The users of the current organization.
    Members,
}

/// Presence as shown in member lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum PresenceStatus {
    Offline,
    Online,
    Away,
    Busy,
}

/// A member of the organization.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Member {
    /// Stringified internal user id (the same id as `User.id`).
    pub id: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub email: String,
    pub role: Role,
    /// `offline` until the presence feature reports otherwise.
    pub presence_status: PresenceStatus,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct ListMembersRequest {
    /// Case-insensitive substring of the display name or the email.
    #[oai(validator(max_length = 200))]
    query: Option<String>,
    #[oai(
        default = "default_limit",
        validator(minimum(value = "1"), maximum(value = "100"))
    )]
    limit: u32,
    #[oai(default, validator(maximum(value = "1000000")))]
    offset: u32,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct UpdateMemberRequest {
    role: Role,
}

#[derive(ApiResponse)]
enum Removed {
    /// The member is removed and their sessions in this organization have ended.
    #[oai(status = 204)]
    Done,
}

fn member_of(row: &sqlx::postgres::PgRow) -> Member {
    let email: String = row.get("email");
    let display: Option<String> = row.get("display_name");
    let first: Option<String> = row.get("first_name");
    let last: Option<String> = row.get("last_name");
    Member {
        id: row.get::<i64, _>("id").to_string(),
        display_name: display
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| fallback_display_name(first.as_deref(), last.as_deref(), &email)),
        avatar_url: row.get("avatar_url"),
        email,
        role: row.get("role"),
        presence_status: PresenceStatus::Offline,
    }
}

const MEMBER_COLUMNS: &str = "u.id, u.email, u.first_name, u.last_name, u.workos_id, m.display_name,
     m.avatar_url, m.role, m.workos_membership_id";

/// A member id on the wire; anything unparseable cannot be a member (404).
fn parse_id(id: &str) -> Result<i64, Problem> {
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(Problem::not_found)
}

/// Locks the organization's admins (in id order) and refuses to take away the last one.
async fn guard_last_admin(conn: &mut PgConnection, org_id: i64, target: i64) -> Result<(), Problem> {
    let admins: Vec<i64> = sqlx::query_scalar(
        "SELECT user_id FROM user_organizations
         WHERE org_id = $1 AND role = 'admin' AND status = 'active'
         ORDER BY user_id FOR UPDATE",
    )
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    if admins.contains(&target) && admins.len() <= 1 {
        return Err(Problem::new(&LAST_ADMIN).with_detail("Make another member an admin first."));
    }
    Ok(())
}

/// The WorkOS membership id of a member of a mirrored organization (looked up when unknown).
async fn workos_membership(
    conn: &mut PgConnection,
    workos: &Workos,
    row: &sqlx::postgres::PgRow,
    org_id: i64,
) -> Result<Option<String>, Problem> {
    let workos_org_id: Option<String> =
        sqlx::query_scalar("SELECT workos_org_id FROM organizations WHERE id = $1")
            .bind(org_id)
            .fetch_one(&mut *conn)
            .await?;
    let (Some(workos_org_id), Some(workos_user_id)) =
        (workos_org_id, row.get::<Option<String>, _>("workos_id"))
    else {
        return Ok(None);
    };
    if let Some(id) = row.get::<Option<String>, _>("workos_membership_id") {
        return Ok(Some(id));
    }
    let found = workos
        .find_membership(&workos_user_id, &workos_org_id)
        .await
        .map_err(workos_problem)?;
    Ok(found.map(|m| m.id))
}

#[derive(Default)]
pub struct MembersApi;

#[OpenApi(tag = "MembersTag::Members")]
impl MembersApi {
    /// Members of the current organization, ordered by display name, optionally filtered by a
    /// case-insensitive substring of the display name or email.
    ///
    /// Permission: ViewOrganization.
    #[oai(path = "/members/list", method = "post", operation_id = "list-members")]
    async fn list(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<ListMembersRequest>,
    ) -> Result<Json<Page<Member>>, Problem> {
        auth.0.require(&VIEW_ORGANIZATION)?;
        let body = body.0;
        let pattern = body
            .query
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(contains_pattern);
        let filter = "m.org_id = $1 AND m.status = 'active'
             AND ($2::text IS NULL
                  OR u.email ILIKE $2
                  OR m.display_name ILIKE $2
                  OR (COALESCE(m.display_name, '') = '' AND concat_ws(' ', u.first_name, u.last_name) ILIKE $2))";
        let mut conn = ctx.db().acquire().await?;
        let total: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM user_organizations m JOIN users u ON u.id = m.user_id WHERE {filter}"
        ))
        .bind(auth.0.organization_id)
        .bind(&pattern)
        .fetch_one(&mut *conn)
        .await?;
        let rows = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS} FROM user_organizations m JOIN users u ON u.id = m.user_id
             WHERE {filter}
             ORDER BY lower(COALESCE(NULLIF(m.display_name, ''),
                                     NULLIF(concat_ws(' ', u.first_name, u.last_name), ''),
                                     u.email)), u.id
             LIMIT $3 OFFSET $4"
        ))
        .bind(auth.0.organization_id)
        .bind(&pattern)
        .bind(body.limit as i64)
        .bind(body.offset as i64)
        .fetch_all(&mut *conn)
        .await?;
        Ok(Json(Page::new(
            rows.iter().map(member_of).collect(),
            body.limit,
            body.offset,
            total,
        )))
    }

    /// Change a member's role (WorkOS first, then here). The last admin cannot be demoted.
    ///
    /// Permission: EditUser.
    #[oai(
        path = "/members/:id/update",
        method = "post",
        operation_id = "update-member-role"
    )]
    async fn update(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        id: Path<String>,
        body: Json<UpdateMemberRequest>,
    ) -> Result<Json<Member>, Problem> {
        let caller = auth.0;
        caller.require(&EDIT_USER)?;
        let target = parse_id(&id.0)?;
        let role = body.0.role;
        let mut tx = ctx.db().begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS} FROM user_organizations m JOIN users u ON u.id = m.user_id
             WHERE m.org_id = $1 AND m.user_id = $2 AND m.status = 'active' FOR UPDATE OF m"
        ))
        .bind(caller.organization_id)
        .bind(target)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(Problem::not_found)?;
        let current: Role = row.get("role");
        if current == role {
            return Ok(Json(member_of(&row)));
        }
        if current == Role::Admin {
            guard_last_admin(&mut tx, caller.organization_id, target).await?;
        }
        let workos = ctx.get::<Workos>();
        if let Some(membership_id) = workos_membership(&mut tx, workos, &row, caller.organization_id).await? {
            workos
                .update_membership_role(&membership_id, role.as_str())
                .await
                .map_err(workos_problem)?;
        }
        let row = sqlx::query(&format!(
            "WITH updated AS (
                UPDATE user_organizations SET role = $3, updated_at = now()
                WHERE org_id = $1 AND user_id = $2
                RETURNING *)
             SELECT {MEMBER_COLUMNS} FROM updated m JOIN users u ON u.id = m.user_id"
        ))
        .bind(caller.organization_id)
        .bind(target)
        .bind(role)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Json(member_of(&row)))
    }

    /// Remove a member from the organization (WorkOS first, then here), end their sessions in
    /// it and disconnect them from its conferences they are in. The last admin cannot be
    /// removed.
    ///
    /// Permission: BanUser.
    #[oai(path = "/members/:id/remove", method = "post", operation_id = "remove-member")]
    async fn remove(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        id: Path<String>,
    ) -> Result<Removed, Problem> {
        let caller = auth.0;
        caller.require(&BAN_USER)?;
        let target = parse_id(&id.0)?;
        let mut tx = ctx.db().begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS} FROM user_organizations m JOIN users u ON u.id = m.user_id
             WHERE m.org_id = $1 AND m.user_id = $2 AND m.status = 'active' FOR UPDATE OF m"
        ))
        .bind(caller.organization_id)
        .bind(target)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(Problem::not_found)?;
        if row.get::<Role, _>("role") == Role::Admin {
            guard_last_admin(&mut tx, caller.organization_id, target).await?;
        }
        let workos = ctx.get::<Workos>();
        if let Some(membership_id) = workos_membership(&mut tx, workos, &row, caller.organization_id).await? {
            workos
                .delete_membership(&membership_id)
                .await
                .map_err(workos_problem)?;
        }
        sqlx::query("DELETE FROM user_organizations WHERE org_id = $1 AND user_id = $2")
            .bind(caller.organization_id)
            .bind(target)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE users SET last_organization_id = NULL WHERE id = $1 AND last_organization_id = $2",
        )
        .bind(target)
        .bind(caller.organization_id)
        .execute(&mut *tx)
        .await?;
        let ended = sessions::end_membership_sessions(
            &mut tx,
            target,
            caller.organization_id,
            sessions::reason::MEMBER_REMOVED,
        )
        .await?;
        tx.commit().await?;
        sessions::revoke_with_workos(workos, ended);
        disconnect_from_conferences(&ctx, caller.organization_id, target).await;
        Ok(Removed::Done)
    }
}

/// Disconnects a removed member from the organization's conferences they are in now. Their
/// sessions have ended, so they cannot get a new conference token; this ends the connection they
/// hold. Best effort, in the background: LiveKit being slow or down must not fail or delay the
/// removal (it is logged). Nothing to do when the conference is not configured.
async fn disconnect_from_conferences(ctx: &AppContext, org_id: i64, user_id: i64) {
    let Some(livekit) = ctx.try_get::<LiveKit>().filter(|l| l.is_enabled()).cloned() else {
        return;
    };
    let spaces = match occupancy::spaces_occupied_by(ctx.db(), org_id, user_id).await {
        Ok(spaces) => spaces,
        Err(error) => {
            tracing::warn!(%error, user_id, "could not read where a removed member is");
            return;
        }
    };
    if spaces.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let identity = user_id.to_string();
        for space in spaces {
            match livekit.remove_participant(&space.to_string(), &identity).await {
                Ok(true) => {
                    tracing::info!(user_id, space_id = %space, "removed member disconnected from the conference")
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, user_id, space_id = %space, "could not disconnect a removed member")
                }
            }
        }
    });
}
