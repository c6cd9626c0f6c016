//! Entering an organization: switching to one the user belongs to, creating one, joining one by
//! invitation or by invite link — from a live session or from a pending sign-up.
//!
//! This is the API the organizations feature calls (create, accept an invitation, join by
//! link); `/auth/switch-organization` and `/auth/sign-up` call it too. Every way in ends the
//! same way ([`finish`]): a WorkOS session exchanges its refresh token for one scoped to the
//! organization, the session row points at it (or, for a sign-up, the session starts), and the
//! cookie is re-issued.
//!
//! Write paths call WorkOS first and then write locally in one transaction; the session row (or
//! the pending sign-up) is locked for the whole flow so concurrent calls serialise.

use platform_workos::{AuthOutcome, Invitation, Workos, WorkosError};
use poem::Request;
use qubital_audit::{Action, Actor, AuditEvent, Target};
use qubital_plugin::{auth::Role, AppContext, Problem};
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use crate::{
    directory::{mirror_organization, role_from_slug, Organization, User},
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

/// Reads and locks the entrant's session or pending sign-up until the transaction ends.
async fn load(conn: &mut PgConnection, state: &AuthState, entrant: &Entrant) -> Result<Entering, Problem> {
    match entrant {
        Entrant::Session(session_id) => load_session(conn, state, *session_id).await,
        Entrant::SignUp(handle) => load_sign_up(conn, state, handle).await,
    }
}

async fn load_session(
    conn: &mut PgConnection,
    state: &AuthState,
    session_id: Uuid,
) -> Result<Entering, Problem> {
    let session = store::sessions::lock_entering(conn, session_id)
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

async fn load_sign_up(conn: &mut PgConnection, state: &AuthState, handle: &str) -> Result<Entering, Problem> {
    let sign_up = store::sign_in::lock_sign_up(conn, handle)
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

/// Moves the entrant into `org` (its local membership must exist), commits, and signs the
/// browser in there.
async fn finish(
    mut tx: Transaction<'static, Postgres>,
    ctx: &AppContext,
    req: &Request,
    entrant: &Entrant,
    entering: Entering,
    org: &Organization,
) -> Result<User, Problem> {
    let scoped = scope_to(ctx, req, &entering, org).await?;
    let state = ctx.get::<AuthState>();
    let started = match entrant {
        Entrant::Session(session_id) => {
            move_session(&mut tx, state, *session_id, &entering, org, scoped).await?
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

/// A WorkOS entrant exchanges its refresh token for one scoped to `org`; a development session
/// has nothing to exchange.
async fn scope_to(
    ctx: &AppContext,
    req: &Request,
    entering: &Entering,
    org: &Organization,
) -> Result<Scoped, Problem> {
    let workos_session_id = entering.workos_session_id.clone();
    if entering.kind != SessionKind::Workos {
        return Ok(Scoped {
            refresh_token: None,
            workos_session_id,
        });
    }
    let workos_org_id = org.workos_org_id.as_deref().ok_or_else(not_in_workos)?;
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

/// Switches a session to another organization the user belongs to (404 for any other).
pub async fn switch_organization(
    ctx: &AppContext,
    req: &Request,
    session_id: Uuid,
    user_id: i64,
    organization_id: &str,
) -> Result<User, Problem> {
    let mut tx = ctx.db().begin().await?;
    let org = Organization::by_public_id(&mut tx, organization_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    let entrant = Entrant::Session(session_id);
    let entering = load(&mut tx, ctx.get::<AuthState>(), &entrant).await?;
    if store::memberships::role(&mut *tx, user_id, org.id)
        .await?
        .is_none()
    {
        mirror_workos_membership(&mut tx, ctx.get::<Workos>(), &entering, &org).await?;
    }
    finish(tx, ctx, req, &entrant, entering, &org).await
}

/// Mirrors the entrant's membership of `org` that WorkOS knows but this server does not yet (say,
/// one WorkOS offered at selection); 404 when WorkOS has no active one either.
async fn mirror_workos_membership(
    conn: &mut PgConnection,
    workos: &Workos,
    entering: &Entering,
    org: &Organization,
) -> Result<(), Problem> {
    let remote = match (&entering.workos_user_id, &org.workos_org_id, entering.kind) {
        (Some(workos_user_id), Some(workos_org_id), SessionKind::Workos) => workos
            .find_membership(workos_user_id, workos_org_id)
            .await
            .map_err(workos_problem)?
            .filter(|m| m.status == "active"),
        _ => None,
    };
    let Some(remote) = remote else {
        return Err(Problem::not_found());
    };
    let role = role_from_slug(&remote.role_slug);
    store::memberships::upsert(conn, entering.user_id, org.id, role, Some(&remote.id), true).await?;
    Ok(())
}

/// Creates an organization with the entrant as its admin (in WorkOS too, for WorkOS sessions)
/// and moves the entrant into it.
pub async fn create_organization(
    ctx: &AppContext,
    req: &Request,
    entrant: Entrant,
    name: &str,
) -> Result<User, Problem> {
    let mut tx = ctx.db().begin().await?;
    let entering = load(&mut tx, ctx.get::<AuthState>(), &entrant).await?;
    let org = if entering.kind == SessionKind::Workos {
        create_in_workos(&mut tx, ctx.get::<Workos>(), &entering, name).await?
    } else {
        let org = Organization::insert_local(&mut tx, name).await?;
        store::memberships::upsert(&mut *tx, entering.user_id, org.id, Role::Admin, None, true).await?;
        org
    };
    finish(tx, ctx, req, &entrant, entering, &org).await
}

/// Creates the organization and the entrant's admin membership in WorkOS, then mirrors both.
async fn create_in_workos(
    conn: &mut PgConnection,
    workos: &Workos,
    entering: &Entering,
    name: &str,
) -> Result<Organization, Problem> {
    let workos_user_id = entering
        .workos_user_id
        .clone()
        .ok_or_else(|| Problem::internal("a WorkOS session's user has no WorkOS id"))?;
    let remote = workos.create_organization(name).await.map_err(workos_problem)?;
    let membership = workos
        .create_membership(&workos_user_id, &remote.id, Role::Admin.as_str())
        .await
        .map_err(workos_problem)?;
    let org = Organization::upsert_from_workos(conn, &remote.id, &remote.name, true).await?;
    store::memberships::upsert(
        conn,
        entering.user_id,
        org.id,
        Role::Admin,
        Some(&membership.id),
        true,
    )
    .await?;
    Ok(org)
}

/// Accepts a WorkOS invitation (the token from the invitation email) addressed to the entrant's
/// email, and moves the entrant into its organization.
pub async fn join_by_invitation(
    ctx: &AppContext,
    req: &Request,
    entrant: Entrant,
    token: &str,
) -> Result<User, Problem> {
    let workos = ctx.get::<Workos>();
    let mut tx = ctx.db().begin().await?;
    let entering = load(&mut tx, ctx.get::<AuthState>(), &entrant).await?;
    if entering.kind != SessionKind::Workos {
        return Err(workos_account_required());
    }
    let (invitation, workos_org_id) = redeem_invitation(workos, token, &entering.email).await?;
    let org = mirror_organization(&mut tx, workos, &workos_org_id).await?;
    let local_id = join_invited(&mut tx, workos, &entering, &invitation, &org).await?;
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
    finish(tx, ctx, req, &entrant, entering, &org).await
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

/// Records an accepted invitation here: its mirror is accepted, and the entrant a member of
/// `org` with the invitation's role. The mirror's id, when there is one.
async fn join_invited(
    conn: &mut PgConnection,
    workos: &Workos,
    entering: &Entering,
    invitation: &Invitation,
    org: &Organization,
) -> Result<Option<Uuid>, Problem> {
    let mirrored = store::invitations::accept(&mut *conn, &invitation.id).await?;
    let local_id = mirrored.map(|(id, _)| id);
    let role = mirrored
        .map(|(_, role)| role)
        .unwrap_or_else(|| role_from_slug(invitation.role_slug.as_deref().unwrap_or("member")));
    let workos_user_id = entering.workos_user_id.clone().unwrap_or_default();
    let workos_org_id = org.workos_org_id.as_deref().unwrap_or_default();
    let membership_id = match workos.find_membership(&workos_user_id, workos_org_id).await {
        Ok(found) => found.map(|m| m.id),
        Err(error) => {
            tracing::warn!(%error, "could not read the new WorkOS membership; its id is looked up later");
            None
        }
    };
    store::memberships::upsert(
        conn,
        entering.user_id,
        org.id,
        role,
        membership_id.as_deref(),
        false,
    )
    .await?;
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
    let mut tx = ctx.db().begin().await?;
    let org = store::organizations::by_invite_id(&mut *tx, invite_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    let entering = load(&mut tx, ctx.get::<AuthState>(), &entrant).await?;
    if store::memberships::role(&mut *tx, entering.user_id, org.id)
        .await?
        .is_none()
    {
        join_as_member(&mut tx, ctx.get::<Workos>(), &entering, &org).await?;
    }
    finish(tx, ctx, req, &entrant, entering, &org).await
}

/// Makes the entrant a member of `org` (in WorkOS too, for WorkOS entrants).
async fn join_as_member(
    conn: &mut PgConnection,
    workos: &Workos,
    entering: &Entering,
    org: &Organization,
) -> Result<(), Problem> {
    let membership_id = if entering.kind == SessionKind::Workos {
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
    store::memberships::upsert(
        conn,
        entering.user_id,
        org.id,
        Role::Member,
        membership_id.as_deref(),
        true,
    )
    .await?;
    Ok(())
}
