//! Invitations through WorkOS and the organization's invite link (tag `Invitations`).

use chrono::{DateTime, Utc};
use platform_workos::{Workos, WorkosError};
use poem::{web::Data, Request};
use poem_openapi::{param::Path, payload::Json, Enum, Object, OpenApi, Tags};
use qubital_auth::{crypto::random_token, flows, flows::Entrant, validate, workos_problem, User};
use qubital_plugin::{
    auth::{CookieAuth, Role},
    AppContext, Page, Problem,
};
use sqlx::Row;
use uuid::Uuid;

use qubital_plugin::list::default_limit;

use crate::{
    permissions::{EDIT_USER, INVITE_MEMBER, MANAGE_ORGANIZATION},
    problems::{ALREADY_MEMBER, INVITATION_PENDING},
};
use qubital_auth::problems::{INVITATION_NOT_PENDING, ORGANIZATION_NOT_IN_WORKOS};

#[derive(Tags)]
enum InvitationsTag {
    /// Invitations by email (through WorkOS) and the organization's invite link.
    Invitations,
}

/// Days an invitation stays valid (WorkOS's default).
const INVITATION_DAYS: i64 = 7;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum InvitationState {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Invitation {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub state: InvitationState,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// User id of the member who sent it, if still known.
    pub invited_by: Option<String>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct CreateInvitationRequest {
    #[oai(validator(max_length = 320))]
    email: String,
    /// Defaults to `member`. Cannot exceed the inviter's own role.
    role: Option<Role>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct ListInvitationsRequest {
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
struct AcceptInvitationRequest {
    /// The invitation token from the invitation email.
    #[oai(validator(min_length = 1, max_length = 512))]
    token: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct InviteLink {
    /// Anyone holding it can join the organization as a member (until it is rotated).
    invite_id: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct JoinByLinkRequest {
    #[oai(validator(min_length = 1, max_length = 128))]
    invite_id: String,
}

const COLUMNS: &str = "id, email, role, state, expires_at, created_at, inviter_user_id";

fn invitation_of(row: &sqlx::postgres::PgRow) -> Invitation {
    let expires_at: DateTime<Utc> = row.get("expires_at");
    let state = match row.get::<&str, _>("state") {
        "accepted" => InvitationState::Accepted,
        "revoked" => InvitationState::Revoked,
        _ if expires_at <= Utc::now() => InvitationState::Expired,
        _ => InvitationState::Pending,
    };
    Invitation {
        id: row.get::<Uuid, _>("id").to_string(),
        email: row.get("email"),
        role: row.get("role"),
        state,
        expires_at,
        created_at: row.get("created_at"),
        invited_by: row
            .get::<Option<i64>, _>("inviter_user_id")
            .map(|id| id.to_string()),
    }
}

fn pending_conflict() -> Problem {
    Problem::new(&INVITATION_PENDING)
}

#[derive(Default)]
pub struct InvitationsApi;

#[OpenApi(tag = "InvitationsTag::Invitations")]
impl InvitationsApi {
    /// Invite an email address to the current organization with a role; WorkOS sends the email.
    ///
    /// Permission: InviteMember.
    #[oai(
        path = "/invitations/create",
        method = "post",
        operation_id = "create-invitation"
    )]
    async fn create(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<CreateInvitationRequest>,
    ) -> Result<Json<Invitation>, Problem> {
        let caller = auth.0;
        caller.require(&INVITE_MEMBER)?;
        let body = body.0;
        let email = validate::email("body.email", &body.email)?;
        let role = body.role.unwrap_or(Role::Member);
        if role > caller.role {
            return Err(Problem::forbidden(EDIT_USER.name)
                .with_detail("You cannot invite someone with a role above your own."));
        }
        let workos = ctx.get::<Workos>();
        if !workos.is_enabled() {
            return Err(Problem::integration_disabled("WorkOS"));
        }
        let mut tx = ctx.db().begin().await?;
        let org = sqlx::query("SELECT workos_org_id FROM organizations WHERE id = $1 FOR UPDATE")
            .bind(caller.organization_id)
            .fetch_one(&mut *tx)
            .await?;
        let Some(workos_org_id) = org.get::<Option<String>, _>("workos_org_id") else {
            return Err(Problem::new(&ORGANIZATION_NOT_IN_WORKOS)
                .with_detail("Invitations are sent by WorkOS; sign in through WorkOS to invite."));
        };
        let already_member: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM user_organizations m JOIN users u ON u.id = m.user_id
                            WHERE m.org_id = $1 AND m.status = 'active' AND lower(u.email) = lower($2))",
        )
        .bind(caller.organization_id)
        .bind(&email)
        .fetch_one(&mut *tx)
        .await?;
        if already_member {
            return Err(Problem::new(&ALREADY_MEMBER));
        }
        let pending: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM invitations
                            WHERE org_id = $1 AND state = 'pending' AND lower(email) = lower($2)
                              AND expires_at > now())",
        )
        .bind(caller.organization_id)
        .bind(&email)
        .fetch_one(&mut *tx)
        .await?;
        if pending {
            return Err(pending_conflict());
        }
        // An expired pending row would block the unique index: close it.
        sqlx::query(
            "UPDATE invitations SET state = 'revoked', updated_at = now()
             WHERE org_id = $1 AND state = 'pending' AND lower(email) = lower($2)",
        )
        .bind(caller.organization_id)
        .bind(&email)
        .execute(&mut *tx)
        .await?;
        let inviter: Option<String> = sqlx::query_scalar("SELECT workos_id FROM users WHERE id = $1")
            .bind(caller.user_id)
            .fetch_one(&mut *tx)
            .await?;
        let sent = match workos
            .send_invitation(
                &email,
                &workos_org_id,
                role.as_str(),
                inviter.as_deref(),
                Some(INVITATION_DAYS),
            )
            .await
        {
            Ok(sent) => sent,
            Err(WorkosError::Rejected { code, .. })
                if code.as_deref().is_some_and(|c| c.contains("already")) =>
            {
                return Err(pending_conflict())
            }
            Err(other) => return Err(workos_problem(other)),
        };
        let expires_at = DateTime::parse_from_rfc3339(&sent.expires_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| Utc::now() + chrono::Duration::days(INVITATION_DAYS));
        let row = sqlx::query(&format!(
            "INSERT INTO invitations (id, org_id, workos_invitation_id, email, role, state, inviter_user_id, expires_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)
             RETURNING {COLUMNS}"
        ))
        .bind(Uuid::new_v4())
        .bind(caller.organization_id)
        .bind(&sent.id)
        .bind(&email)
        .bind(role)
        .bind(caller.user_id)
        .bind(expires_at)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Json(invitation_of(&row)))
    }

    /// Invitations of the current organization, newest first.
    ///
    /// Permission: InviteMember.
    #[oai(
        path = "/invitations/list",
        method = "post",
        operation_id = "list-invitations"
    )]
    async fn list(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<ListInvitationsRequest>,
    ) -> Result<Json<Page<Invitation>>, Problem> {
        auth.0.require(&INVITE_MEMBER)?;
        let body = body.0;
        let mut conn = ctx.db().acquire().await?;
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM invitations WHERE org_id = $1")
            .bind(auth.0.organization_id)
            .fetch_one(&mut *conn)
            .await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM invitations WHERE org_id = $1
             ORDER BY created_at DESC, id LIMIT $2 OFFSET $3"
        ))
        .bind(auth.0.organization_id)
        .bind(body.limit as i64)
        .bind(body.offset as i64)
        .fetch_all(&mut *conn)
        .await?;
        Ok(Json(Page::new(
            rows.iter().map(invitation_of).collect(),
            body.limit,
            body.offset,
            total,
        )))
    }

    /// Revoke a pending invitation (WorkOS first, then here).
    ///
    /// Permission: InviteMember.
    #[oai(
        path = "/invitations/:id/revoke",
        method = "post",
        operation_id = "revoke-invitation"
    )]
    async fn revoke(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        id: Path<String>,
    ) -> Result<Json<Invitation>, Problem> {
        let caller = auth.0;
        caller.require(&INVITE_MEMBER)?;
        let id = Uuid::parse_str(&id.0).map_err(|_| Problem::not_found())?;
        let mut tx = ctx.db().begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, workos_invitation_id FROM invitations WHERE id = $1 AND org_id = $2 FOR UPDATE"
        ))
        .bind(id)
        .bind(caller.organization_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(Problem::not_found)?;
        if invitation_of(&row).state != InvitationState::Pending {
            return Err(Problem::new(&INVITATION_NOT_PENDING));
        }
        if let Some(workos_id) = row.get::<Option<String>, _>("workos_invitation_id") {
            match ctx.get::<Workos>().revoke_invitation(&workos_id).await {
                Ok(()) => {}
                // Already gone or no longer pending at WorkOS: it cannot be used either way.
                Err(WorkosError::Rejected {
                    status: 400 | 404 | 422,
                    ..
                }) => {}
                Err(other) => return Err(workos_problem(other)),
            }
        }
        let row = sqlx::query(&format!(
            "UPDATE invitations SET state = 'revoked', updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
        ))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Json(invitation_of(&row)))
    }

    /// Accept an invitation (the token from the email) addressed to the signed-in user's email:
    /// joins its organization and switches the session into it.
    ///
    /// Permission: none (any signed-in user; the invitation must be theirs).
    #[oai(
        path = "/invitations/accept",
        method = "post",
        operation_id = "accept-invitation"
    )]
    async fn accept(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        body: Json<AcceptInvitationRequest>,
    ) -> Result<Json<User>, Problem> {
        let token = validate::token("body.token", &body.0.token)?;
        Ok(Json(
            flows::join_by_invitation(&ctx, req, Entrant::Session(auth.0.session_id), &token).await?,
        ))
    }

    /// The current organization's invite link id (created on first read).
    ///
    /// Permission: InviteMember.
    #[oai(
        path = "/invitations/link/get",
        method = "post",
        operation_id = "get-invite-link"
    )]
    async fn link_get(&self, ctx: Data<&AppContext>, auth: CookieAuth) -> Result<Json<InviteLink>, Problem> {
        auth.0.require(&INVITE_MEMBER)?;
        let invite_id: String = sqlx::query_scalar(
            "UPDATE organizations SET invite_id = COALESCE(invite_id, $2) WHERE id = $1 RETURNING invite_id",
        )
        .bind(auth.0.organization_id)
        .bind(random_token(24))
        .fetch_one(ctx.db())
        .await?;
        Ok(Json(InviteLink { invite_id }))
    }

    /// Replace the invite link: the old one stops working.
    ///
    /// Permission: ManageOrganization.
    #[oai(
        path = "/invitations/link/rotate",
        method = "post",
        operation_id = "rotate-invite-link"
    )]
    async fn link_rotate(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
    ) -> Result<Json<InviteLink>, Problem> {
        auth.0.require(&MANAGE_ORGANIZATION)?;
        let invite_id: String = sqlx::query_scalar(
            "UPDATE organizations SET invite_id = $2, updated_at = now() WHERE id = $1 RETURNING invite_id",
        )
        .bind(auth.0.organization_id)
        .bind(random_token(24))
        .fetch_one(ctx.db())
        .await?;
        Ok(Json(InviteLink { invite_id }))
    }

    /// Join an organization through its invite link (as a member) and switch the session into
    /// it. Already a member: just switches.
    ///
    /// Permission: none (any signed-in user holding the link).
    #[oai(
        path = "/invitations/link/join",
        method = "post",
        operation_id = "join-by-invite-link"
    )]
    async fn link_join(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        body: Json<JoinByLinkRequest>,
    ) -> Result<Json<User>, Problem> {
        let invite_id = validate::token("body.inviteId", &body.0.invite_id)?;
        Ok(Json(
            flows::join_by_invite_link(&ctx, req, Entrant::Session(auth.0.session_id), &invite_id).await?,
        ))
    }
}
