//! Entering an organization: switching to one the user belongs to, creating one, joining one by
//! invitation or by invite link — from a live session or from a pending sign-up.
//!
//! This is the API the organizations feature calls (create, accept an invitation, join by
//! link); `/auth/switch-organization` and `/auth/sign-up` call it too. Every way in ends the
//! same way ([`finish`]): a WorkOS session exchanges its refresh token for one scoped to the
//! organization, the session row points at it (or, for a sign-up, the session starts), and the
//! cookie is re-issued.
//!
//! Each way in has three steps: take the entrant's refresh-token lease ([`crate::token_lease`]:
//! WorkOS refresh tokens are single use, so two enters of one session, or an enter and a token
//! refresh, must not spend the same token), read what is needed and call WorkOS holding no
//! transaction or pooled connection, then write everything locally in one transaction that first
//! checks the lease is still the entrant's. A failure gives the lease back.

use platform_workos::{AuthOutcome, Invitation, Workos, WorkosError};
use poem::Request;
use qubital_audit::{Action, Actor, AuditEvent, Target};
use qubital_plugin::{auth::Role, AppContext, Problem};
use sqlx::{PgConnection, Postgres, Transaction};

use crate::token_lease::{Lease, TokenHolder};
use uuid::Uuid;

use crate::{
    directory::{role_from_slug, Organization, OrganizationMirror, User},
    sessions::{self, session_ended, NewSession, SessionKind, Started, REFRESH_TOKEN_CONTEXT},
    sign_in::{pending_invalid, PENDING_CONTEXT},
    state::{workos_problem, AuthState},
    store,
};

/// Who is entering an organization.
#[derive(Clone, Debug)]
pub enum Entrant {
    /// A signed-in session (switch, create another organization, accept an invitation).
    Session(Uuid),
    /// A user WorkOS authenticated who has no organization yet (`sign-up-required`): the
    /// handle of their pending sign-up.
    SignUp(String),
}

/// The entrant, read (and locked) with what entering needs.
struct Entering {
    user_id: i64,
    email: String,
    workos_user_id: Option<String>,
    kind: SessionKind,
    /// The WorkOS refresh token (opened), for WorkOS sessions and sign-ups.
    refresh_token: Option<String>,
    workos_session_id: Option<String>,
}

impl Entrant {
    fn holder(&self) -> TokenHolder {
        match self {
            Entrant::Session(session_id) => TokenHolder::Session(*session_id),
            Entrant::SignUp(handle) => TokenHolder::SignUp(handle.clone()),
        }
    }
}

/// Takes the entrant's refresh-token lease (waiting for a concurrent enter or refresh of the
/// same session), then reads the entrant.
async fn claim(ctx: &AppContext, entrant: &Entrant) -> Result<(Lease, Entering), Problem> {
    let lease = Lease::take(ctx, entrant.holder()).await?;
    let state = ctx.get::<AuthState>();
    let entering = match entrant {
        Entrant::Session(session_id) => load_session(ctx, state, *session_id).await,
        Entrant::SignUp(handle) => load_sign_up(ctx, state, handle).await,
    };
    match entering {
        Ok(entering) => Ok((lease, entering)),
        Err(problem) => {
            lease.give_back(ctx).await;
            Err(problem)
        }
    }
}

async fn load_session(ctx: &AppContext, state: &AuthState, session_id: Uuid) -> Result<Entering, Problem> {
    let session = store::sessions::entering(ctx.db(), session_id)
        .await?
        .ok_or_else(session_ended)?;
    let refresh_token = match session.refresh_token {
        Some(sealed) => Some(
            state
                .sealer()
                .open(&sealed, REFRESH_TOKEN_CONTEXT)
                .map_err(|_| session_ended())?,
        ),
        None => None,
    };
    Ok(Entering {
        user_id: session.user_id,
        email: session.email,
        workos_user_id: session.workos_id,
        kind: SessionKind::parse(&session.kind),
        refresh_token,
        workos_session_id: session.workos_session_id,
    })
}

async fn load_sign_up(ctx: &AppContext, state: &AuthState, handle: &str) -> Result<Entering, Problem> {
    let sign_up = store::sign_in::sign_up(ctx.db(), handle)
        .await?
        .ok_or_else(pending_invalid)?;
    let refresh_token = state
        .sealer()
        .open(&sign_up.secret, PENDING_CONTEXT)
        .map_err(|_| pending_invalid())?;
    Ok(Entering {
        user_id: sign_up.user_id,
        email: sign_up.email,
        workos_user_id: sign_up.workos_id,
        kind: SessionKind::Workos,
        refresh_token: Some(refresh_token),
        workos_session_id: sign_up.workos_session_id,
    })
}

/// The transaction that writes an enter's outcome, begun by checking (and ending) the lease.
async fn begin_writing(ctx: &AppContext, lease: &Lease) -> Result<Transaction<'static, Postgres>, Problem> {
    let mut tx = ctx.db().begin().await?;
    lease.finish(&mut tx).await?;
    Ok(tx)
}

fn not_in_workos() -> Problem {
    Problem::new(&crate::problems::ORGANIZATION_NOT_IN_WORKOS)
        .with_detail("It was created by the development sign-in and cannot hold a WorkOS session.")
}

fn workos_account_required() -> Problem {
    Problem::new(&crate::problems::WORKOS_ACCOUNT_REQUIRED)
        .with_detail("Development sessions cannot use WorkOS invitations.")
}

fn invitation_not_pending() -> Problem {
    Problem::new(&crate::problems::INVITATION_NOT_PENDING)
}

/// Moves the entrant into `org` (its local membership must exist in `tx`) with the WorkOS session
/// `scoped` to it, commits, and signs the browser in there.
async fn finish(
    mut tx: Transaction<'static, Postgres>,
    ctx: &AppContext,
    req: &Request,
    entrant: &Entrant,
    entering: &Entering,
    org: &Organization,
    scoped: Scoped,
) -> Result<User, Problem> {
    let state = ctx.get::<AuthState>();
    let started = match entrant {
        Entrant::Session(session_id) => {
            move_session(&mut tx, state, *session_id, entering, org, scoped).await?
        }
        Entrant::SignUp(handle) => {
            store::sign_in::delete_pending(&mut *tx, handle).await?;
            let new = NewSession {
                user_id: entering.user_id,
                org_id: org.id,
                kind: entering.kind,
                refresh_token: scoped.refresh_token.as_deref(),
                workos_session_id: scoped.workos_session_id.as_deref(),
            };
            sessions::create(&mut tx, state, new).await?
        }
    };
    tx.commit().await?;
    sessions::signed_in(ctx, req, &started, org.id).await
}

/// The WorkOS side of a session in its new organization.
struct Scoped {
    /// A refresh token scoped to the organization (`None`: unchanged, a development session).
    refresh_token: Option<String>,
    workos_session_id: Option<String>,
}

/// A WorkOS entrant exchanges its refresh token for one scoped to the WorkOS organization
/// `workos_org_id` (`None`: a local-only organization, which a WorkOS session cannot enter); a
/// development session has nothing to exchange.
async fn scope_to(
    ctx: &AppContext,
    req: &Request,
    entering: &Entering,
    workos_org_id: Option<&str>,
) -> Result<Scoped, Problem> {
    let workos_session_id = entering.workos_session_id.clone();
    if entering.kind != SessionKind::Workos {
        return Ok(Scoped {
            refresh_token: None,
            workos_session_id,
        });
    }
    let workos_org_id = workos_org_id.ok_or_else(not_in_workos)?;
    let refresh_token = entering.refresh_token.as_deref().ok_or_else(session_ended)?;
    let client = ctx.get::<AuthState>().client_info(req);
    match ctx
        .get::<Workos>()
        .authenticate_with_refresh_token(refresh_token, Some(workos_org_id), &client)
        .await
    {
        Ok(AuthOutcome::Authenticated(auth)) => Ok(Scoped {
            refresh_token: Some(auth.refresh_token),
            workos_session_id: auth.session_id.or(workos_session_id),
        }),
        Ok(AuthOutcome::OrganizationSelectionRequired { .. }) => Err(Problem::not_found()),
        Err(WorkosError::Rejected {
            status: 400 | 401, ..
        }) => Err(session_ended()),
        Err(WorkosError::Rejected { .. }) => Err(Problem::not_found()),
        Err(other) => Err(workos_problem(other)),
    }
}

/// Points a live session at `org` and makes it the user's last organization.
async fn move_session(
    conn: &mut PgConnection,
    state: &AuthState,
    session_id: Uuid,
    entering: &Entering,
    org: &Organization,
    scoped: Scoped,
) -> Result<Started, Problem> {
    let sealed = scoped
        .refresh_token
        .as_deref()
        .map(|token| state.sealer().seal(token, REFRESH_TOKEN_CONTEXT));
    let expires_at = store::sessions::move_to_organization(
        &mut *conn,
        session_id,
        org.id,
        sealed,
        scoped.workos_session_id.as_deref(),
    )
    .await?;
    store::users::set_last_organization(conn, entering.user_id, org.id).await?;
    Ok(Started {
        session_id,
        user_id: entering.user_id,
        expires_at,
    })
}

/// A membership to record with the enter: its role and WorkOS id.
struct NewMembership {
    role: Role,
    workos_membership_id: Option<String>,
    /// Whether the role replaces the one of an existing membership.
    overwrite_role: bool,
}

impl NewMembership {
    async fn record(&self, conn: &mut PgConnection, user_id: i64, org_id: i64) -> Result<(), Problem> {
        let id = self.workos_membership_id.as_deref();
        store::memberships::upsert(conn, user_id, org_id, self.role, id, self.overwrite_role).await?;
        Ok(())
    }
}

/// Switches a session to another organization the user belongs to (404 for any other).
pub async fn switch_organization(
    ctx: &AppContext,
    req: &Request,
    session_id: Uuid,
    organization_id: &str,
) -> Result<User, Problem> {
    let org = Organization::by_public_id(ctx.db(), organization_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    enter_existing(
        ctx,
        req,
        Entrant::Session(session_id),
        &org,
        IfNotMember::MirrorWorkos,
    )
    .await
}

/// How an entrant who is not a member of an existing organization becomes one.
enum IfNotMember {
    /// Only through a membership WorkOS already has ([`workos_membership`]).
    MirrorWorkos,
    /// As a member, made in WorkOS too ([`join_as_member`]).
    JoinAsMember,
}

/// Moves the entrant into an existing organization, making them a member first as
/// `if_not_member` says when they are not one yet.
async fn enter_existing(
    ctx: &AppContext,
    req: &Request,
    entrant: Entrant,
    org: &Organization,
    if_not_member: IfNotMember,
) -> Result<User, Problem> {
    let (lease, entering) = claim(ctx, &entrant).await?;
    let outcome = async {
        let workos = ctx.get::<Workos>();
        let joining = match store::memberships::role(ctx.db(), entering.user_id, org.id).await? {
            Some(_) => None,
            None => Some(match if_not_member {
                IfNotMember::MirrorWorkos => workos_membership(workos, &entering, org).await?,
                IfNotMember::JoinAsMember => join_as_member(workos, &entering, org).await?,
            }),
        };
        let scoped = scope_to(ctx, req, &entering, org.workos_org_id.as_deref()).await?;
        let mut tx = begin_writing(ctx, &lease).await?;
        if let Some(membership) = joining {
            membership.record(&mut tx, entering.user_id, org.id).await?;
        }
        finish(tx, ctx, req, &entrant, &entering, org, scoped).await
    }
    .await;
    lease.settle(ctx, outcome).await
}

/// The entrant's membership of `org` that WorkOS knows but this server does not yet (say, one
/// WorkOS offered at selection); 404 when WorkOS has no active one either.
async fn workos_membership(
    workos: &Workos,
    entering: &Entering,
    org: &Organization,
) -> Result<NewMembership, Problem> {
    let remote = match (&entering.workos_user_id, &org.workos_org_id, entering.kind) {
        (Some(workos_user_id), Some(workos_org_id), SessionKind::Workos) => workos
            .find_membership(workos_user_id, workos_org_id)
            .await
            .map_err(workos_problem)?
            .filter(|m| m.status == "active"),
        _ => None,
    };
    let remote = remote.ok_or_else(Problem::not_found)?;
    Ok(NewMembership {
        role: role_from_slug(&remote.role_slug),
        workos_membership_id: Some(remote.id),
        overwrite_role: true,
    })
}

/// Creates an organization with the entrant as its admin (in WorkOS too, for WorkOS sessions)
/// and moves the entrant into it.
pub async fn create_organization(
    ctx: &AppContext,
    req: &Request,
    entrant: Entrant,
    name: &str,
) -> Result<User, Problem> {
    let (lease, entering) = claim(ctx, &entrant).await?;
    let outcome = async {
        let admin = |workos_membership_id| NewMembership {
            role: Role::Admin,
            workos_membership_id,
            overwrite_role: true,
        };
        let (remote, membership) = if entering.kind == SessionKind::Workos {
            let (remote, membership_id) = create_in_workos(ctx.get::<Workos>(), &entering, name).await?;
            (Some(remote), admin(Some(membership_id)))
        } else {
            (None, admin(None))
        };
        let workos_org_id = remote.as_ref().map(|r| r.id.as_str());
        let scoped = scope_to(ctx, req, &entering, workos_org_id).await?;
        let mut tx = begin_writing(ctx, &lease).await?;
        let org = match &remote {
            Some(remote) => Organization::upsert_from_workos(&mut tx, &remote.id, &remote.name, true).await?,
            None => Organization::insert_local(&mut tx, name).await?,
        };
        membership.record(&mut tx, entering.user_id, org.id).await?;
        finish(tx, ctx, req, &entrant, &entering, &org, scoped).await
    }
    .await;
    lease.settle(ctx, outcome).await
}

/// Creates the organization and the entrant's admin membership in WorkOS: the organization and
/// the membership's id.
async fn create_in_workos(
    workos: &Workos,
    entering: &Entering,
    name: &str,
) -> Result<(platform_workos::Organization, String), Problem> {
    let workos_user_id = entering
        .workos_user_id
        .as_deref()
        .ok_or_else(|| Problem::internal("a WorkOS session's user has no WorkOS id"))?;
    let remote = workos.create_organization(name).await.map_err(workos_problem)?;
    let membership = workos
        .create_membership(workos_user_id, &remote.id, Role::Admin.as_str())
        .await
        .map_err(workos_problem)?;
    Ok((remote, membership.id))
}

/// Accepts a WorkOS invitation (the token from the invitation email) addressed to the entrant's
/// email, and moves the entrant into its organization.
pub async fn join_by_invitation(
    ctx: &AppContext,
    req: &Request,
    entrant: Entrant,
    token: &str,
) -> Result<User, Problem> {
    let (lease, entering) = claim(ctx, &entrant).await?;
    let outcome = async {
        if entering.kind != SessionKind::Workos {
            return Err(workos_account_required());
        }
        let workos = ctx.get::<Workos>();
        let (invitation, workos_org_id) = redeem_invitation(workos, token, &entering.email).await?;
        let mirror = OrganizationMirror::find(ctx.db(), workos, &workos_org_id).await?;
        let membership_id = invited_membership_id(workos, &entering, &workos_org_id).await;
        let scoped = scope_to(ctx, req, &entering, Some(&workos_org_id)).await?;

        let mut tx = begin_writing(ctx, &lease).await?;
        let org = mirror.record(&mut tx).await?;
        let local_id = join_invited(&mut tx, &entering, &invitation, membership_id, &org).await?;
        let mut event = AuditEvent::new(
            org.id,
            Actor::user(entering.user_id),
            Action::InvitationAccepted,
            req,
        );
        if let Some(id) = local_id {
            event = event.target(Target::new("invitation", id).named(&invitation.email));
        }
        event = event.target(Target::new("organization", &org.public_id).named(&org.name));
        qubital_audit::record(&mut tx, event).await?;
        finish(tx, ctx, req, &entrant, &entering, &org, scoped).await
    }
    .await;
    lease.settle(ctx, outcome).await
}

/// Finds the invitation of `token` and accepts it in WorkOS; it and its organization's WorkOS
/// id. Someone else's invitation, or an unknown one, is 404.
async fn redeem_invitation(
    workos: &Workos,
    token: &str,
    email: &str,
) -> Result<(Invitation, String), Problem> {
    let invitation = match workos.find_invitation_by_token(token).await {
        Ok(invitation) => invitation,
        Err(WorkosError::Rejected {
            status: 400 | 404 | 422,
            ..
        }) => return Err(Problem::not_found()),
        Err(other) => return Err(workos_problem(other)),
    };
    // Someone else's invitation is not theirs to see.
    if !invitation.email.eq_ignore_ascii_case(email) {
        return Err(Problem::not_found());
    }
    let workos_org_id = invitation
        .organization_id
        .clone()
        .ok_or_else(Problem::not_found)?;
    if invitation.state != "pending" {
        return Err(invitation_not_pending());
    }
    match workos.accept_invitation(&invitation.id).await {
        Ok(()) => Ok((invitation, workos_org_id)),
        Err(WorkosError::Rejected {
            status: 400 | 404 | 409 | 422,
            ..
        }) => Err(invitation_not_pending()),
        Err(other) => Err(workos_problem(other)),
    }
}

/// The id of the WorkOS membership an accepted invitation made (best effort: when WorkOS does not
/// answer, eventsync's membership events fill it in later).
async fn invited_membership_id(workos: &Workos, entering: &Entering, workos_org_id: &str) -> Option<String> {
    let workos_user_id = entering.workos_user_id.as_deref().unwrap_or_default();
    match workos.find_membership(workos_user_id, workos_org_id).await {
        Ok(found) => found.map(|m| m.id),
        Err(error) => {
            tracing::warn!(%error, "could not read the new WorkOS membership; its id is looked up later");
            None
        }
    }
}

/// Records an accepted invitation here: its mirror is accepted, and the entrant a member of
/// `org` with the invitation's role. The mirror's id, when there is one.
async fn join_invited(
    conn: &mut PgConnection,
    entering: &Entering,
    invitation: &Invitation,
    workos_membership_id: Option<String>,
    org: &Organization,
) -> Result<Option<Uuid>, Problem> {
    let mirrored = store::invitations::accept(&mut *conn, &invitation.id).await?;
    let local_id = mirrored.map(|(id, _)| id);
    let role = mirrored
        .map(|(_, role)| role)
        .unwrap_or_else(|| role_from_slug(invitation.role_slug.as_deref().unwrap_or("member")));
    let membership = NewMembership {
        role,
        workos_membership_id,
        overwrite_role: false,
    };
    membership.record(conn, entering.user_id, org.id).await?;
    Ok(local_id)
}

/// Joins an organization through its invite link (as a member; already a member: just enters)
/// and moves the entrant into it.
pub async fn join_by_invite_link(
    ctx: &AppContext,
    req: &Request,
    entrant: Entrant,
    invite_id: &str,
) -> Result<User, Problem> {
    let org = store::organizations::by_invite_id(ctx.db(), invite_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    enter_existing(ctx, req, entrant, &org, IfNotMember::JoinAsMember).await
}

/// The member's membership the entrant gets through an invite link (made in WorkOS first, for
/// WorkOS entrants).
async fn join_as_member(
    workos: &Workos,
    entering: &Entering,
    org: &Organization,
) -> Result<NewMembership, Problem> {
    let workos_membership_id = if entering.kind == SessionKind::Workos {
        let workos_org_id = org.workos_org_id.as_deref().ok_or_else(not_in_workos)?;
        let workos_user_id = entering.workos_user_id.clone().unwrap_or_default();
        match workos
            .create_membership(&workos_user_id, workos_org_id, Role::Member.as_str())
            .await
        {
            Ok(m) => Some(m.id),
            Err(error) if error.code() == Some("organization_membership_already_exists") => workos
                .find_membership(&workos_user_id, workos_org_id)
                .await
                .map_err(workos_problem)?
                .map(|m| m.id),
            Err(other) => return Err(workos_problem(other)),
        }
    } else {
        None
    };
    Ok(NewMembership {
        role: Role::Member,
        workos_membership_id,
        overwrite_role: true,
    })
}
