//! Members of the current organization: list, change role, remove (tag `Members`).

use std::sync::OnceLock;

use platform_workos::Workos;
use poem::{web::Data, Request};
use poem_openapi::{param::Path, payload::Json, ApiResponse, Object, OpenApi, Tags};
use qubital_audit::{Action, AuditEvent, Target};
use qubital_auth::{
    directory::{shown_name, PresenceStatus},
    permissions::VIEW_ORGANIZATION,
    sessions,
    store::{self, memberships::Member as MemberRow},
    workos_problem,
};
use qubital_plugin::{
    auth::{CookieAuth, Role},
    list::{contains_pattern, default_limit},
    wire, AppContext, DirectJson, Page, Problem,
};
use sqlx::PgConnection;

use crate::{
    conference::disconnect_from_conferences,
    permissions::{BAN_USER, EDIT_USER},
    problems::LAST_ADMIN,
};

#[derive(Tags)]
enum MembersTag {
    /// The users of the current organization.
    Members,
}

/// A member of the organization.
// Serialised with serde for the list (`DirectJson`: the same form, checked in debug builds).
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// Stringified internal user id (the same id as `User.id`).
    pub id: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub email: String,
    pub role: Role,
    /// The presence feature's effective status: the member's manual status, else online while
    /// heartbeats arrive, else offline.
    pub presence_status: PresenceStatus,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct ListMembersRequest {
    /// Case-insensitive substring of the display name or the email.
    query: Option<wire::FreeText<200>>,
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

impl From<MemberRow> for Member {
    fn from(row: MemberRow) -> Self {
        Member {
            id: row.user_id.to_string(),
            display_name: shown_name(
                row.display_name,
                row.first_name.as_deref(),
                row.last_name.as_deref(),
                &row.email,
            ),
            avatar_url: row.avatar_url,
            email: row.email,
            role: row.role,
            presence_status: PresenceStatus::Offline,
        }
    }
}

impl Member {
    /// The member with the presence feature's effective status (`None`: never seen, offline).
    fn with_presence(mut self, status: Option<PresenceStatus>) -> Self {
        self.presence_status = status.unwrap_or(PresenceStatus::Offline);
        self
    }
}

/// A member id on the wire; anything unparseable cannot be a member (404).
fn parse_id(id: &str) -> Result<i64, Problem> {
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(Problem::not_found)
}

/// The active member `user_id` of the organization (no lock); 404 for anyone else.
async fn find_member(conn: &mut PgConnection, org_id: i64, user_id: i64) -> Result<MemberRow, Problem> {
    store::memberships::member(conn, org_id, user_id)
        .await?
        .ok_or_else(Problem::not_found)
}

/// The active member `user_id` of the organization, locked until the transaction ends; 404 for
/// anyone else.
async fn lock_member_or_404(
    conn: &mut PgConnection,
    org_id: i64,
    user_id: i64,
) -> Result<MemberRow, Problem> {
    store::memberships::lock_member(conn, org_id, user_id)
        .await?
        .ok_or_else(Problem::not_found)
}

fn last_admin() -> Problem {
    Problem::new(&LAST_ADMIN).with_detail("Make another member an admin first.")
}

/// Refuses to take away the last admin (a read: the decision is taken again under lock, see
/// [`guard_last_admin`]).
async fn check_last_admin(conn: &mut PgConnection, org_id: i64, target: i64) -> Result<(), Problem> {
    let admins = store::memberships::admins(conn, org_id).await?;
    if admins.contains(&target) && admins.len() <= 1 {
        return Err(last_admin());
    }
    Ok(())
}

/// Refuses to take away the last of `admins` (locked by the caller's transaction).
fn guard_last_admin(admins: &[i64], target: i64) -> Result<(), Problem> {
    if admins.contains(&target) && admins.len() <= 1 {
        return Err(last_admin());
    }
    Ok(())
}

/// Where a member of a mirrored organization is in WorkOS (read from the database); `None` for
/// local-only organizations and users.
struct WorkosMember {
    organization: String,
    user: String,
    /// Looked up in WorkOS when the mirror does not know it.
    membership: Option<String>,
}

async fn workos_member(
    conn: &mut PgConnection,
    member: &MemberRow,
    org_id: i64,
) -> Result<Option<WorkosMember>, Problem> {
    let organization = store::organizations::workos_org_id(conn, org_id, false).await?;
    let (Some(organization), Some(user)) = (organization, member.workos_id.clone()) else {
        return Ok(None);
    };
    Ok(Some(WorkosMember {
        organization,
        user,
        membership: member.workos_membership_id.clone(),
    }))
}

impl WorkosMember {
    /// The WorkOS membership id (asked of WorkOS when unknown; `None`: WorkOS has none).
    async fn membership_id(&self, workos: &Workos) -> Result<Option<String>, Problem> {
        if let Some(id) = &self.membership {
            return Ok(Some(id.clone()));
        }
        let found = workos
            .find_membership(&self.user, &self.organization)
            .await
            .map_err(workos_problem)?;
        Ok(found.map(|m| m.id))
    }
}

#[derive(Default)]
pub struct MembersApi;

#[OpenApi(tag = "MembersTag::Members")]
impl MembersApi {
    /// List members
    ///
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
    ) -> Result<DirectJson<Page<Member>>, Problem> {
        auth.0.require(&VIEW_ORGANIZATION)?;
        let body = body.0;
        let pattern = body
            .query
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(contains_pattern);
        let org_id = auth.0.organization_id;
        let (limit, offset) = (body.limit as i64, body.offset as i64);
        // Members, their presence and the total in one query.
        static PRESENCE: OnceLock<String> = OnceLock::new();
        let presence =
            PRESENCE.get_or_init(|| qubital_presence::effective_status_sql("m.user_id", "m.org_id"));
        let mut conn = ctx.db().acquire().await?;
        let page =
            store::memberships::page(&mut conn, org_id, pattern.as_deref(), limit, offset, presence).await?;
        let members = page
            .members
            .into_iter()
            .map(|(row, status)| {
                Member::from(row).with_presence(status.as_deref().map(PresenceStatus::parse))
            })
            .collect();
        Ok(DirectJson(Page::new(
            members,
            body.limit,
            body.offset,
            page.total,
        )))
    }

    /// Change a member's role
    ///
    /// Change a member's role (WorkOS first, then here). The last admin cannot be demoted. The
    /// member's connections to the organization's conferences get the new role's grants at once.
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
        req: &Request,
        auth: CookieAuth,
        id: Path<String>,
        body: Json<UpdateMemberRequest>,
    ) -> Result<Json<Member>, Problem> {
        let caller = auth.0;
        caller.require(&EDIT_USER)?;
        let target = parse_id(&id.0)?;
        let role = body.0.role;
        let org_id = caller.organization_id;
        // No transaction or pooled connection is held across the WorkOS call: read, call
        // WorkOS, then write in a short transaction that decides again under lock.
        let (before, in_workos) = {
            let mut conn = ctx.db().acquire().await?;
            let member = find_member(&mut conn, org_id, target).await?;
            if member.role == role {
                return Ok(Json(member.into()));
            }
            if member.role == Role::Admin {
                check_last_admin(&mut conn, org_id, target).await?;
            }
            let in_workos = workos_member(&mut conn, &member, org_id).await?;
            (member.role, in_workos)
        };
        let workos = ctx.get::<Workos>();
        let mut changed_in_workos = None;
        if let Some(in_workos) = &in_workos {
            if let Some(membership_id) = in_workos.membership_id(workos).await? {
                workos
                    .update_membership_role(&membership_id, role.as_str())
                    .await
                    .map_err(workos_problem)?;
                changed_in_workos = Some(membership_id);
            }
        }
        // WorkOS has the new role now. If this write fails on the database, the follower mirrors
        // WorkOS's `organization_membership.updated` (the answer is the database's 503).
        let mut tx = ctx.db().begin().await?;
        // The admins first (in id order), then the member: every role change and removal locks
        // in this one order, so two admins demoting each other at once queue instead of each
        // holding one row the other waits for (a deadlock).
        let admins = store::memberships::lock_admins(&mut tx, org_id).await?;
        let member = lock_member_or_404(&mut tx, org_id, target).await?;
        if member.role == Role::Admin && role != Role::Admin {
            if let Err(problem) = guard_last_admin(&admins, target) {
                // Another change took the other admin meanwhile: WorkOS gets the role back.
                drop(tx);
                if let Some(membership_id) = changed_in_workos {
                    if let Err(error) = workos
                        .update_membership_role(&membership_id, before.as_str())
                        .await
                    {
                        tracing::error!(%error, user_id = target, "could not put back a member's role in WorkOS");
                    }
                }
                return Err(problem);
            }
        }
        let member = store::memberships::set_role(&mut *tx, org_id, target, role).await?;
        // The new role is the second target (`role`), so a filter on it finds every promotion.
        qubital_audit::record(
            &mut tx,
            AuditEvent::by(&caller, Action::MemberRoleUpdated, req)
                .target(Target::new("member", target).named(&member.email))
                .target(Target::new("role", role.as_str())),
        )
        .await?;
        tx.commit().await?;
        // Their live conference connections get the new role's grants now (best effort).
        qubital_realtime::conference::apply_role(&ctx, org_id, target, role).await;
        Ok(Json(member.into()))
    }

    /// Remove a member
    ///
    /// Remove a member from the organization (WorkOS first, then here), end their sessions in
    /// it and disconnect them from its conferences they are in. The last admin cannot be
    /// removed.
    ///
    /// Permission: BanUser.
    #[oai(path = "/members/:id/remove", method = "post", operation_id = "remove-member")]
    async fn remove(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        id: Path<String>,
    ) -> Result<Removed, Problem> {
        let caller = auth.0;
        caller.require(&BAN_USER)?;
        let target = parse_id(&id.0)?;
        let org_id = caller.organization_id;
        // As for a role change: read, call WorkOS with no connection held, then write in a
        // short transaction that decides again under lock.
        let (before, in_workos) = {
            let mut conn = ctx.db().acquire().await?;
            let member = find_member(&mut conn, org_id, target).await?;
            if member.role == Role::Admin {
                check_last_admin(&mut conn, org_id, target).await?;
            }
            let in_workos = workos_member(&mut conn, &member, org_id).await?;
            (member, in_workos)
        };
        let workos = ctx.get::<Workos>();
        let mut deleted_in_workos = false;
        if let Some(in_workos) = &in_workos {
            if let Some(membership_id) = in_workos.membership_id(workos).await? {
                workos
                    .delete_membership(&membership_id)
                    .await
                    .map_err(workos_problem)?;
                deleted_in_workos = true;
            }
        }
        // WorkOS has removed them now. If this write fails on the database, the follower mirrors
        // WorkOS's `organization_membership.deleted`, which ends their sessions and retires the
        // invite link the same way (the answer is the database's 503; a retry finds the
        // membership gone in WorkOS and finishes here).
        let mut tx = ctx.db().begin().await?;
        // The admins first, then the member (the one lock order, see the role change).
        let admins = store::memberships::lock_admins(&mut tx, org_id).await?;
        // Gone already when the follower applied WorkOS's deletion first: finish all the same.
        let member = store::memberships::lock_member(&mut tx, org_id, target).await?;
        if member.as_ref().is_some_and(|m| m.role == Role::Admin) {
            if let Err(problem) = guard_last_admin(&admins, target) {
                // Another change took the other admin meanwhile: the membership is made again in
                // WorkOS (no transaction held across the call), and the mirror follows the new one.
                drop(tx);
                if let (true, Some(in_workos)) = (deleted_in_workos, &in_workos) {
                    match workos
                        .create_membership(&in_workos.user, &in_workos.organization, before.role.as_str())
                        .await
                    {
                        Ok(made) => {
                            store::memberships::set_workos_membership_id(ctx.db(), org_id, target, &made.id)
                                .await?;
                        }
                        Err(error) => {
                            tracing::error!(%error, user_id = target, "could not make a member's WorkOS membership again")
                        }
                    }
                }
                return Err(problem);
            }
        }
        store::memberships::remove(&mut tx, org_id, target).await?;
        qubital_audit::record(
            &mut tx,
            AuditEvent::by(&caller, Action::MemberRemoved, req)
                .target(Target::new("member", target).named(&before.email)),
        )
        .await?;
        let ended =
            sessions::end_membership_sessions(&mut tx, target, org_id, sessions::reason::MEMBER_REMOVED)
                .await?;
        tx.commit().await?;
        sessions::revoke_with_workos(workos, ended);
        disconnect_from_conferences(&ctx, org_id, target).await;
        Ok(Removed::Done)
    }
}
