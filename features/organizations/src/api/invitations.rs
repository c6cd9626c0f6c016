//! Invitations through WorkOS and the organization's invite link (tag `Invitations`).

use chrono::{DateTime, Utc};
use platform_workos::{Workos, WorkosError};
use poem::{web::Data, Request};
use poem_openapi::{param::Path, payload::Json, Enum, Object, OpenApi, Tags};
use qubital_audit::{Action, AuditEvent, Target};
use qubital_auth::{
    crypto::random_token,
    enter::{self, Entrant},
    problems::{INVITATION_NOT_PENDING, ORGANIZATION_NOT_IN_WORKOS},
    store::{
        self,
        invitations::{Invitation as InvitationRow, NewInvitation},
    },
    validate, workos_problem, User,
};
use qubital_plugin::{
    auth::{Caller, CookieAuth, Role},
    list::default_limit,
    wire, AppContext, Page, Problem,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    permissions::{EDIT_USER, INVITE_MEMBER, MANAGE_ORGANIZATION},
    problems::{ALREADY_MEMBER, INVITATION_PENDING},
};

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
    email: wire::Email,
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
    token: wire::Token<512>,
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
    invite_id: wire::Token<128>,
}

/// An invitation's state as shown: a pending one past its expiry has expired.
fn state_of(row: &InvitationRow) -> InvitationState {
    match row.state.as_str() {
        "accepted" => InvitationState::Accepted,
        "revoked" => InvitationState::Revoked,
        _ if row.expires_at <= Utc::now() => InvitationState::Expired,
        _ => InvitationState::Pending,
    }
}

impl From<InvitationRow> for Invitation {
    fn from(row: InvitationRow) -> Self {
        let state = state_of(&row);
        Invitation {
            id: row.id.to_string(),
            email: row.email,
            role: row.role,
            state,
            expires_at: row.expires_at,
            created_at: row.created_at,
            invited_by: row.inviter_user_id.map(|id| id.to_string()),
        }
    }
}

fn pending_conflict() -> Problem {
    Problem::new(&INVITATION_PENDING)
}

/// The role to invite with (default: member): never above the inviter's own.
fn invitable_role(caller: &Caller, role: Option<Role>) -> Result<Role, Problem> {
    let role = role.unwrap_or(Role::Member);
    if role > caller.role {
        return Err(Problem::forbidden(EDIT_USER.name)
            .with_detail("You cannot invite someone with a role above your own."));
    }
    Ok(role)
}

/// The organization's WorkOS id; with `lock`, its row locked until the transaction ends (the
/// invitations of one organization are written one at a time). A local-only organization
/// cannot invite: WorkOS sends invitations.
async fn workos_organization(conn: &mut PgConnection, org_id: i64, lock: bool) -> Result<String, Problem> {
    store::organizations::workos_org_id(conn, org_id, lock)
        .await?
        .ok_or_else(|| {
            Problem::new(&ORGANIZATION_NOT_IN_WORKOS)
                .with_detail("Invitations are sent by WorkOS; sign in through WorkOS to invite.")
        })
}

/// Refuses to invite a member or an address with a pending invitation, and closes the expired
/// pending one an address may still have (it would block the one-pending-per-address index).
async fn check_invitable(conn: &mut PgConnection, org_id: i64, email: &str) -> Result<(), Problem> {
    if store::memberships::any_with_email(&mut *conn, org_id, email).await? {
        return Err(Problem::new(&ALREADY_MEMBER));
    }
    if store::invitations::any_pending(&mut *conn, org_id, email).await? {
        return Err(pending_conflict());
    }
    store::invitations::revoke_pending(&mut *conn, org_id, email).await?;
    Ok(())
}

/// Revokes an invitation WorkOS sent that is not recorded here (best effort: a failure is
/// logged; the invitation then expires at WorkOS, and eventsync mirrors it meanwhile).
async fn revoke_at_workos(workos: &Workos, workos_invitation_id: &str) {
    if let Err(error) = workos.revoke_invitation(workos_invitation_id).await {
        tracing::warn!(%error, workos_invitation_id, "could not revoke an invitation sent twice");
    }
}

/// An invitation WorkOS sent: its WorkOS id and expiry.
struct Sent {
    workos_invitation_id: String,
    expires_at: DateTime<Utc>,
}

/// Asks WorkOS to send the invitation email, on behalf of the inviter (their WorkOS user id,
/// when they are a WorkOS user). An address WorkOS already invited is a pending conflict.
async fn send_with_workos(
    workos: &Workos,
    inviter: Option<&str>,
    email: &str,
    role: Role,
    workos_org_id: &str,
) -> Result<Sent, Problem> {
    let sent = match workos
        .send_invitation(
            email,
            workos_org_id,
            role.as_str(),
            inviter,
            Some(INVITATION_DAYS),
        )
        .await
    {
        Ok(sent) => sent,
        Err(WorkosError::Rejected { code, .. }) if code.as_deref().is_some_and(|c| c.contains("already")) => {
            return Err(pending_conflict())
        }
        Err(other) => return Err(workos_problem(other)),
    };
    let expires_at = DateTime::parse_from_rfc3339(&sent.expires_at)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now() + chrono::Duration::days(INVITATION_DAYS));
    Ok(Sent {
        workos_invitation_id: sent.id,
        expires_at,
    })
}

#[derive(Default)]
pub struct InvitationsApi;

#[OpenApi(tag = "InvitationsTag::Invitations")]
impl InvitationsApi {
    /// Invite someone
    ///
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
        req: &Request,
        auth: CookieAuth,
        body: Json<CreateInvitationRequest>,
    ) -> Result<Json<Invitation>, Problem> {
        let caller = auth.0;
        caller.require(&INVITE_MEMBER)?;
        let body = body.0;
        let email = validate::email("body.email", &body.email)?;
        let role = invitable_role(&caller, body.role)?;
        let workos = ctx.get::<Workos>();
        if !workos.is_enabled() {
            return Err(Problem::integration_disabled("WorkOS"));
        }
        let org_id = caller.organization_id;
        // Checked first with a pooled connection given back before WorkOS is called: no
        // transaction or connection is held across the call (a slow WorkOS must not starve the
        // pool). WorkOS refuses a second pending invitation of one address, and the checks are
        // made again under the organization's lock before the row is written.
        let (workos_org_id, inviter) = {
            let mut conn = ctx.db().acquire().await?;
            let workos_org_id = workos_organization(&mut conn, org_id, false).await?;
            check_invitable(&mut conn, org_id, &email).await?;
            (
                workos_org_id,
                store::users::workos_id(&mut *conn, caller.user_id).await?,
            )
        };
        let sent = send_with_workos(workos, inviter.as_deref(), &email, role, &workos_org_id).await?;
        let mut tx = ctx.db().begin().await?;
        workos_organization(&mut tx, org_id, true).await?;
        if let Err(problem) = check_invitable(&mut tx, org_id, &email).await {
            // Someone was quicker here (or joined): the invitation just sent must not stay usable.
            drop(tx);
            revoke_at_workos(workos, &sent.workos_invitation_id).await;
            return Err(problem);
        }
        let new = NewInvitation {
            org_id,
            workos_invitation_id: &sent.workos_invitation_id,
            email: &email,
            role,
            inviter_user_id: caller.user_id,
            expires_at: sent.expires_at,
        };
        let invitation = store::invitations::insert(&mut *tx, new).await?;
        qubital_audit::record(
            &mut tx,
            AuditEvent::by(&caller, Action::InvitationCreated, req)
                .target(Target::new("invitation", invitation.id).named(&invitation.email)),
        )
        .await?;
        tx.commit().await?;
        Ok(Json(invitation.into()))
    }

    /// List invitations
    ///
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
        let org_id = auth.0.organization_id;
        let mut conn = ctx.db().acquire().await?;
        let total = store::invitations::count(&mut *conn, org_id).await?;
        let rows =
            store::invitations::page(&mut *conn, org_id, body.limit as i64, body.offset as i64).await?;
        Ok(Json(Page::new(
            rows.into_iter().map(Invitation::from).collect(),
            body.limit,
            body.offset,
            total,
        )))
    }

    /// Revoke an invitation
    ///
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
        req: &Request,
        auth: CookieAuth,
        id: Path<String>,
    ) -> Result<Json<Invitation>, Problem> {
        let caller = auth.0;
        caller.require(&INVITE_MEMBER)?;
        let id = Uuid::parse_str(&id.0).map_err(|_| Problem::not_found())?;
        let pending = |invitation: Option<InvitationRow>| {
            let invitation = invitation.ok_or_else(Problem::not_found)?;
            if state_of(&invitation) != InvitationState::Pending {
                return Err(Problem::new(&INVITATION_NOT_PENDING));
            }
            Ok(invitation)
        };
        // Read with a pooled connection given back before WorkOS is called (no transaction or
        // connection across the call), then checked again under the row's lock.
        let invitation = {
            let mut conn = ctx.db().acquire().await?;
            pending(store::invitations::find(&mut conn, caller.organization_id, id).await?)?
        };
        if let Some(workos_id) = &invitation.workos_invitation_id {
            match ctx.get::<Workos>().revoke_invitation(workos_id).await {
                Ok(()) => {}
                // Already gone or no longer pending at WorkOS: it cannot be used either way.
                Err(WorkosError::Rejected {
                    status: 400 | 404 | 422,
                    ..
                }) => {}
                Err(other) => return Err(workos_problem(other)),
            }
        }
        let mut tx = ctx.db().begin().await?;
        pending(store::invitations::lock(&mut tx, caller.organization_id, id).await?)?;
        let invitation = store::invitations::revoke(&mut *tx, id).await?;
        qubital_audit::record(
            &mut tx,
            AuditEvent::by(&caller, Action::InvitationRevoked, req)
                .target(Target::new("invitation", invitation.id).named(&invitation.email)),
        )
        .await?;
        tx.commit().await?;
        Ok(Json(invitation.into()))
    }

    /// Accept an invitation
    ///
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
            enter::join_by_invitation(&ctx, req, Entrant::Session(auth.0.session_id), &token).await?,
        ))
    }

    /// Get the invite link
    ///
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
        let invite_id =
            store::organizations::invite_id(ctx.db(), auth.0.organization_id, &random_token(24)).await?;
        Ok(Json(InviteLink { invite_id }))
    }

    /// Rotate the invite link
    ///
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
        req: &Request,
        auth: CookieAuth,
    ) -> Result<Json<InviteLink>, Problem> {
        let caller = auth.0;
        caller.require(&MANAGE_ORGANIZATION)?;
        let mut tx = ctx.db().begin().await?;
        let invite_id =
            store::organizations::replace_invite_id(&mut *tx, caller.organization_id, &random_token(24))
                .await?;
        // The link itself is a secret: the trail names the organization whose link it is.
        let org = store::organizations::Organization::by_id(&mut *tx, caller.organization_id)
            .await?
            .ok_or_else(Problem::not_found)?;
        qubital_audit::record(
            &mut tx,
            AuditEvent::by(&caller, Action::InviteLinkRotated, req)
                .target(Target::new("invite_link", &org.public_id).named(&org.name)),
        )
        .await?;
        tx.commit().await?;
        Ok(Json(InviteLink { invite_id }))
    }

    /// Join through the invite link
    ///
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
            enter::join_by_invite_link(&ctx, req, Entrant::Session(auth.0.session_id), &invite_id).await?,
        ))
    }
}
