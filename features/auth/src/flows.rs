//! The identity flows shared by several operations (and by the organizations feature):
//! finishing a WorkOS authentication, entering an organization (switch, create, join by
//! invitation, join by invite link) from a live session or from a pending sign-up.
//!
//! Write paths call WorkOS first and then write locally in one transaction; the session row (or
//! the pending sign-up) is locked for the whole flow so concurrent calls serialise.

use platform_workos::{AuthOutcome, Authentication, Workos, WorkosError};
use poem::Request;
use poem_openapi::{Object, Union};
use qubital_plugin::{auth::Role, AppContext, Problem};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::{
    crypto::{handle_hash, random_token},
    directory::{self, Organization, OrganizationRef, User},
    sessions::{self, session_ended, NewSession, SessionKind, Started, REFRESH_TOKEN_CONTEXT},
    state::{sign_in_problem, workos_problem, AuthState},
};

/// Associated data of sealed secrets of pending sign-ins.
const PENDING_CONTEXT: &str = "pending_sign_ins.secret";

/// How long a pending sign-in (organization selection, sign-up) waits for its next step.
const PENDING_TTL_MINUTES: i32 = 15;

/// Signed in: the cookie is set.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SignedIn {
    pub user: User,
}

/// The user belongs to several organizations: choose one with `/auth/select-organization`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct OrganizationSelectionRequired {
    /// Opaque, single-use handle for `/auth/select-organization` (valid 15 minutes).
    pub selection_id: String,
    pub organizations: Vec<OrganizationRef>,
}

/// The user has no organization yet: finish with `/auth/sign-up` (create one, or join by
/// invitation or invite link).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SignUpRequired {
    /// Opaque, single-use handle for `/auth/sign-up` (valid 15 minutes).
    pub sign_up_id: String,
    pub email: String,
}

/// The outcome of a sign-in: `status` says which.
#[derive(Debug, Union)]
#[oai(discriminator_name = "status")]
pub enum AuthResult {
    #[oai(mapping = "signed-in")]
    SignedIn(SignedIn),
    #[oai(mapping = "organization-selection-required")]
    OrganizationSelectionRequired(OrganizationSelectionRequired),
    #[oai(mapping = "sign-up-required")]
    SignUpRequired(SignUpRequired),
}

fn state_of(ctx: &AppContext) -> (&AuthState, &Workos) {
    (ctx.get::<AuthState>(), ctx.get::<Workos>())
}

pub(crate) fn pending_invalid() -> Problem {
    Problem::new(&crate::problems::SIGN_IN_STEP_INVALID).with_detail("Start the sign-in again.")
}

/// Finishes a WorkOS authentication (code, magic code, organization selection).
///
/// `accepted_invitation` is the WorkOS id of an invitation the authentication redeemed (its
/// token came with the sign-in); its local mirror is marked accepted.
pub(crate) async fn complete_sign_in(
    ctx: &AppContext,
    req: &Request,
    outcome: AuthOutcome,
    accepted_invitation: Option<&str>,
) -> Result<AuthResult, Problem> {
    let (state, workos) = state_of(ctx);
    let mut tx = ctx.db().begin().await?;
    match outcome {
        AuthOutcome::Authenticated(auth) => {
            let user_id = directory::upsert_workos_user(&mut tx, &auth.user).await?;
            if let Some(invitation) = accepted_invitation {
                sqlx::query(
                    "UPDATE invitations SET state = 'accepted', updated_at = now()
                     WHERE workos_invitation_id = $1 AND state = 'pending'",
                )
                .bind(invitation)
                .execute(&mut *tx)
                .await?;
            }
            let Some(workos_org_id) = auth.organization_id.clone() else {
                let handle = random_token(32);
                sqlx::query(
                    "INSERT INTO pending_sign_ins (handle_hash, kind, user_id, secret, workos_session_id, expires_at)
                     VALUES ($1, 'sign-up', $2, $3, $4, now() + make_interval(mins => $5))",
                )
                .bind(handle_hash(&handle))
                .bind(user_id)
                .bind(state.sealer().seal(&auth.refresh_token, PENDING_CONTEXT))
                .bind(&auth.session_id)
                .bind(PENDING_TTL_MINUTES)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(AuthResult::SignUpRequired(SignUpRequired {
                    sign_up_id: handle,
                    email: auth.user.email,
                }));
            };
            let org = mirror_organization(&mut tx, workos, &workos_org_id).await?;
            ensure_membership(&mut tx, workos, user_id, &auth, &org).await?;
            let started = sessions::create(
                &mut tx,
                state,
                NewSession {
                    user_id,
                    org_id: org.id,
                    kind: SessionKind::Workos,
                    refresh_token: Some(&auth.refresh_token),
                    workos_session_id: auth.session_id.as_deref(),
                },
            )
            .await?;
            tx.commit().await?;
            let user = signed_in(ctx, req, &started, org.id).await?;
            Ok(AuthResult::SignedIn(SignedIn { user }))
        }
        AuthOutcome::OrganizationSelectionRequired {
            pending_authentication_token,
            user,
            organizations,
        } => {
            let user_id = directory::upsert_workos_user(&mut tx, &user).await?;
            let mut offered = Vec::with_capacity(organizations.len());
            for org in &organizations {
                offered.push(Organization::upsert_from_workos(&mut tx, &org.id, &org.name, false).await?);
            }
            let handle = random_token(32);
            sqlx::query(
                "INSERT INTO pending_sign_ins (handle_hash, kind, user_id, secret, organization_ids, expires_at)
                 VALUES ($1, 'organization-selection', $2, $3, $4, now() + make_interval(mins => $5))",
            )
            .bind(handle_hash(&handle))
            .bind(user_id)
            .bind(state.sealer().seal(&pending_authentication_token, PENDING_CONTEXT))
            .bind(offered.iter().map(|o| o.id).collect::<Vec<_>>())
            .bind(PENDING_TTL_MINUTES)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(AuthResult::OrganizationSelectionRequired(
                OrganizationSelectionRequired {
                    selection_id: handle,
                    organizations: offered
                        .into_iter()
                        .map(|o| OrganizationRef {
                            id: o.public_id,
                            name: o.name,
                            logo_url: None,
                        })
                        .collect(),
                },
            ))
        }
    }
}

/// Finishes an organization selection.
pub(crate) async fn select_organization(
    ctx: &AppContext,
    req: &Request,
    selection_id: &str,
    organization_id: &str,
) -> Result<User, Problem> {
    let (state, workos) = state_of(ctx);
    let mut tx = ctx.db().begin().await?;
    let row = sqlx::query(
        "DELETE FROM pending_sign_ins
         WHERE handle_hash = $1 AND kind = 'organization-selection'
         RETURNING secret, organization_ids, expires_at > now() AS live",
    )
    .bind(handle_hash(selection_id))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row.filter(|r| r.get::<bool, _>("live")) else {
        return Err(pending_invalid());
    };
    let offered: Vec<i64> = row.get("organization_ids");
    let org = Organization::by_public_id(&mut tx, organization_id)
        .await?
        .filter(|o| offered.contains(&o.id))
        .ok_or_else(Problem::not_found)?;
    let pending = state
        .sealer()
        .open(row.get("secret"), PENDING_CONTEXT)
        .map_err(|_| pending_invalid())?;
    // The handle is single use whatever WorkOS answers (its token is single use too).
    tx.commit().await?;
    let workos_org_id = org.workos_org_id.clone().ok_or_else(Problem::not_found)?;
    let outcome = workos
        .authenticate_with_organization_selection(&pending, &workos_org_id, &state.client_info(req))
        .await
        .map_err(sign_in_problem)?;
    match complete_sign_in(ctx, req, outcome, None).await? {
        AuthResult::SignedIn(SignedIn { user }) => Ok(user),
        _ => Err(Problem::internal(
            "WorkOS asked for another step after organization selection",
        )),
    }
}

/// The organization `workos_org_id`, mirrored locally (fetched from WorkOS the first time).
async fn mirror_organization(
    conn: &mut PgConnection,
    workos: &Workos,
    workos_org_id: &str,
) -> Result<Organization, Problem> {
    if let Some(org) = Organization::by_workos_id(conn, workos_org_id).await? {
        return Ok(org);
    }
    let remote = workos
        .get_organization(workos_org_id)
        .await
        .map_err(workos_problem)?;
    Ok(Organization::upsert_from_workos(conn, &remote.id, &remote.name, false).await?)
}

/// Makes sure the local membership of a user WorkOS signed into `org` exists, with the role
/// WorkOS records.
async fn ensure_membership(
    conn: &mut PgConnection,
    workos: &Workos,
    user_id: i64,
    auth: &Authentication,
    org: &Organization,
) -> Result<(), Problem> {
    if directory::membership_role(conn, user_id, org.id).await?.is_some() {
        return Ok(());
    }
    let workos_org_id = org.workos_org_id.as_deref().unwrap_or_default();
    let remote = workos
        .find_membership(&auth.user.id, workos_org_id)
        .await
        .map_err(workos_problem)?;
    let (role, membership_id) = match &remote {
        Some(m) => (directory::role_from_slug(&m.role_slug), Some(m.id.as_str())),
        None => (Role::Member, None),
    };
    directory::upsert_membership(conn, user_id, org.id, role, membership_id, true).await?;
    Ok(())
}

/// Sets the cookie of `started` and returns the User DTO.
async fn signed_in(ctx: &AppContext, req: &Request, started: &Started, org_id: i64) -> Result<User, Problem> {
    let state = ctx.get::<AuthState>();
    sessions::set_cookie(state, req, started);
    let mut conn = ctx.db().acquire().await?;
    directory::load_user(&mut conn, started.user_id, org_id).await
}

/// Who is entering an organization.
#[derive(Clone, Debug)]
pub enum Entrant {
    /// A signed-in session (switch, create another organization, accept an invitation).
    Session(Uuid),
    /// A user WorkOS authenticated who has no organization yet (`sign-up-required`).
    SignUp(String),
}

struct Loaded {
    user_id: i64,
    email: String,
    workos_user_id: Option<String>,
    kind: SessionKind,
    refresh_token: Option<String>,
    workos_session_id: Option<String>,
}

/// Reads (and locks) the entrant's session or pending sign-up.
async fn load(conn: &mut PgConnection, state: &AuthState, entrant: &Entrant) -> Result<Loaded, Problem> {
    match entrant {
        Entrant::Session(session_id) => {
            let row = sqlx::query(
                "SELECT s.user_id, s.kind, s.refresh_token, s.workos_session_id, u.email, u.workos_id
                 FROM user_sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.session_id = $1 AND s.ended_at IS NULL AND s.expires_at > now()
                 FOR UPDATE OF s",
            )
            .bind(session_id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(session_ended)?;
            let kind = if row.get::<&str, _>("kind") == "workos" {
                SessionKind::Workos
            } else {
                SessionKind::Development
            };
            let refresh_token = match row.get::<Option<Vec<u8>>, _>("refresh_token") {
                Some(sealed) => Some(
                    state
                        .sealer()
                        .open(&sealed, REFRESH_TOKEN_CONTEXT)
                        .map_err(|_| session_ended())?,
                ),
                None => None,
            };
            Ok(Loaded {
                user_id: row.get("user_id"),
                email: row.get("email"),
                workos_user_id: row.get("workos_id"),
                kind,
                refresh_token,
                workos_session_id: row.get("workos_session_id"),
            })
        }
        Entrant::SignUp(handle) => {
            let row = sqlx::query(
                "SELECT p.user_id, p.secret, p.workos_session_id, u.email, u.workos_id
                 FROM pending_sign_ins p JOIN users u ON u.id = p.user_id
                 WHERE p.handle_hash = $1 AND p.kind = 'sign-up' AND p.expires_at > now()
                 FOR UPDATE OF p",
            )
            .bind(handle_hash(handle))
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(pending_invalid)?;
            let refresh_token = state
                .sealer()
                .open(row.get("secret"), PENDING_CONTEXT)
                .map_err(|_| pending_invalid())?;
            Ok(Loaded {
                user_id: row.get("user_id"),
                email: row.get("email"),
                workos_user_id: row.get("workos_id"),
                kind: SessionKind::Workos,
                refresh_token: Some(refresh_token),
                workos_session_id: row.get("workos_session_id"),
            })
        }
    }
}

fn not_in_workos() -> Problem {
    Problem::new(&crate::problems::ORGANIZATION_NOT_IN_WORKOS)
        .with_detail("It was created by the development sign-in and cannot hold a WorkOS session.")
}

fn workos_account_required() -> Problem {
    Problem::new(&crate::problems::WORKOS_ACCOUNT_REQUIRED)
        .with_detail("Development sessions cannot use WorkOS invitations.")
}

/// Moves the entrant into `org` (its local membership must exist): a WorkOS session exchanges
/// its refresh token for one scoped to `org`, then the session row points at `org` (or, for a
/// sign-up, the session is created).
async fn enter(
    conn: &mut PgConnection,
    ctx: &AppContext,
    req: &Request,
    entrant: &Entrant,
    loaded: Loaded,
    org: &Organization,
) -> Result<Started, Problem> {
    let (state, workos) = state_of(ctx);
    let mut new_refresh = None;
    let mut workos_session_id = loaded.workos_session_id.clone();
    if loaded.kind == SessionKind::Workos {
        let workos_org_id = org.workos_org_id.as_deref().ok_or_else(not_in_workos)?;
        let refresh_token = loaded.refresh_token.as_deref().ok_or_else(session_ended)?;
        match workos
            .authenticate_with_refresh_token(refresh_token, Some(workos_org_id), &state.client_info(req))
            .await
        {
            Ok(AuthOutcome::Authenticated(auth)) => {
                workos_session_id = auth.session_id.or(workos_session_id);
                new_refresh = Some(auth.refresh_token);
            }
            Ok(AuthOutcome::OrganizationSelectionRequired { .. }) => return Err(Problem::not_found()),
            Err(WorkosError::Rejected {
                status: 400 | 401, ..
            }) => return Err(session_ended()),
            Err(WorkosError::Rejected { .. }) => return Err(Problem::not_found()),
            Err(other) => return Err(workos_problem(other)),
        }
    }
    match entrant {
        Entrant::Session(session_id) => {
            let sealed = new_refresh
                .as_deref()
                .map(|t| state.sealer().seal(t, REFRESH_TOKEN_CONTEXT));
            let expires_at = sqlx::query_scalar(
                "UPDATE user_sessions
                 SET org_id = $2, refresh_token = COALESCE($3, refresh_token), refreshed_at = now(),
                     workos_session_id = $4, updated_at = now()
                 WHERE session_id = $1
                 RETURNING expires_at",
            )
            .bind(session_id)
            .bind(org.id)
            .bind(sealed)
            .bind(&workos_session_id)
            .fetch_one(&mut *conn)
            .await?;
            sqlx::query("UPDATE users SET last_organization_id = $2 WHERE id = $1")
                .bind(loaded.user_id)
                .bind(org.id)
                .execute(&mut *conn)
                .await?;
            Ok(Started {
                session_id: *session_id,
                user_id: loaded.user_id,
                expires_at,
            })
        }
        Entrant::SignUp(handle) => {
            sqlx::query("DELETE FROM pending_sign_ins WHERE handle_hash = $1")
                .bind(handle_hash(handle))
                .execute(&mut *conn)
                .await?;
            Ok(sessions::create(
                conn,
                state,
                NewSession {
                    user_id: loaded.user_id,
                    org_id: org.id,
                    kind: loaded.kind,
                    refresh_token: new_refresh.as_deref(),
                    workos_session_id: workos_session_id.as_deref(),
                },
            )
            .await?)
        }
    }
}

/// Switches a session to another organization the user belongs to.
pub async fn switch_organization(
    ctx: &AppContext,
    req: &Request,
    session_id: Uuid,
    user_id: i64,
    organization_id: &str,
) -> Result<User, Problem> {
    let state = ctx.get::<AuthState>();
    let mut tx = ctx.db().begin().await?;
    let org = Organization::by_public_id(&mut tx, organization_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    let entrant = Entrant::Session(session_id);
    let loaded = load(&mut tx, state, &entrant).await?;
    if directory::membership_role(&mut tx, user_id, org.id)
        .await?
        .is_none()
    {
        // Not mirrored yet (say, a membership WorkOS offered at selection): ask WorkOS.
        let remote = match (&loaded.workos_user_id, &org.workos_org_id, loaded.kind) {
            (Some(workos_user_id), Some(workos_org_id), SessionKind::Workos) => ctx
                .get::<Workos>()
                .find_membership(workos_user_id, workos_org_id)
                .await
                .map_err(workos_problem)?
                .filter(|m| m.status == "active"),
            _ => None,
        };
        let Some(remote) = remote else {
            return Err(Problem::not_found());
        };
        let role = directory::role_from_slug(&remote.role_slug);
        directory::upsert_membership(&mut tx, user_id, org.id, role, Some(&remote.id), true).await?;
    }
    let started = enter(&mut tx, ctx, req, &entrant, loaded, &org).await?;
    tx.commit().await?;
    signed_in(ctx, req, &started, org.id).await
}

/// Creates an organization with the entrant as its admin (in WorkOS too, for WorkOS sessions)
/// and moves the entrant into it.
pub async fn create_organization(
    ctx: &AppContext,
    req: &Request,
    entrant: Entrant,
    name: &str,
) -> Result<User, Problem> {
    let (state, workos) = state_of(ctx);
    let mut tx = ctx.db().begin().await?;
    let loaded = load(&mut tx, state, &entrant).await?;
    let org = if loaded.kind == SessionKind::Workos {
        let workos_user_id = loaded
            .workos_user_id
            .clone()
            .ok_or_else(|| Problem::internal("a WorkOS session's user has no WorkOS id"))?;
        let remote = workos.create_organization(name).await.map_err(workos_problem)?;
        let membership = workos
            .create_membership(&workos_user_id, &remote.id, Role::Admin.as_str())
            .await
            .map_err(workos_problem)?;
        let org = Organization::upsert_from_workos(&mut tx, &remote.id, &remote.name, true).await?;
        directory::upsert_membership(
            &mut tx,
            loaded.user_id,
            org.id,
            Role::Admin,
            Some(&membership.id),
            true,
        )
        .await?;
        org
    } else {
        let org = Organization::insert_local(&mut tx, name).await?;
        directory::upsert_membership(&mut tx, loaded.user_id, org.id, Role::Admin, None, true).await?;
        org
    };
    let started = enter(&mut tx, ctx, req, &entrant, loaded, &org).await?;
    tx.commit().await?;
    signed_in(ctx, req, &started, org.id).await
}

fn invitation_not_pending() -> Problem {
    Problem::new(&crate::problems::INVITATION_NOT_PENDING)
}

/// Accepts a WorkOS invitation (the token from the invitation email) addressed to the entrant's
/// email, and moves the entrant into its organization.
pub async fn join_by_invitation(
    ctx: &AppContext,
    req: &Request,
    entrant: Entrant,
    token: &str,
) -> Result<User, Problem> {
    let (state, workos) = state_of(ctx);
    let mut tx = ctx.db().begin().await?;
    let loaded = load(&mut tx, state, &entrant).await?;
    if loaded.kind != SessionKind::Workos {
        return Err(workos_account_required());
    }
    let invitation = match workos.find_invitation_by_token(token).await {
        Ok(invitation) => invitation,
        Err(WorkosError::Rejected {
            status: 400 | 404 | 422,
            ..
        }) => return Err(Problem::not_found()),
        Err(other) => return Err(workos_problem(other)),
    };
    // Someone else's invitation is not theirs to see.
    if !invitation.email.eq_ignore_ascii_case(&loaded.email) {
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
        Ok(()) => {}
        Err(WorkosError::Rejected {
            status: 400 | 404 | 409 | 422,
            ..
        }) => return Err(invitation_not_pending()),
        Err(other) => return Err(workos_problem(other)),
    }
    let org = mirror_organization(&mut tx, workos, &workos_org_id).await?;
    let local_role: Option<Role> = sqlx::query_scalar(
        "UPDATE invitations SET state = 'accepted', updated_at = now()
         WHERE workos_invitation_id = $1 RETURNING role",
    )
    .bind(&invitation.id)
    .fetch_optional(&mut *tx)
    .await?;
    let role = local_role
        .unwrap_or_else(|| directory::role_from_slug(invitation.role_slug.as_deref().unwrap_or("member")));
    let workos_user_id = loaded.workos_user_id.clone().unwrap_or_default();
    let membership_id = match workos.find_membership(&workos_user_id, &workos_org_id).await {
        Ok(found) => found.map(|m| m.id),
        Err(error) => {
            tracing::warn!(%error, "could not read the new WorkOS membership; its id is looked up later");
            None
        }
    };
    directory::upsert_membership(
        &mut tx,
        loaded.user_id,
        org.id,
        role,
        membership_id.as_deref(),
        false,
    )
    .await?;
    let started = enter(&mut tx, ctx, req, &entrant, loaded, &org).await?;
    tx.commit().await?;
    signed_in(ctx, req, &started, org.id).await
}

/// Joins an organization through its invite link (as a member) and moves the entrant into it.
pub async fn join_by_invite_link(
    ctx: &AppContext,
    req: &Request,
    entrant: Entrant,
    invite_id: &str,
) -> Result<User, Problem> {
    let (state, workos) = state_of(ctx);
    let mut tx = ctx.db().begin().await?;
    let org_id: i64 = sqlx::query_scalar("SELECT id FROM organizations WHERE invite_id = $1")
        .bind(invite_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(Problem::not_found)?;
    let org = Organization::by_id(&mut tx, org_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    let loaded = load(&mut tx, state, &entrant).await?;
    if directory::membership_role(&mut tx, loaded.user_id, org.id)
        .await?
        .is_none()
    {
        let membership_id = if loaded.kind == SessionKind::Workos {
            let workos_org_id = org.workos_org_id.as_deref().ok_or_else(not_in_workos)?;
            let workos_user_id = loaded.workos_user_id.clone().unwrap_or_default();
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
        directory::upsert_membership(
            &mut tx,
            loaded.user_id,
            org.id,
            Role::Member,
            membership_id.as_deref(),
            true,
        )
        .await?;
    }
    let started = enter(&mut tx, ctx, req, &entrant, loaded, &org).await?;
    tx.commit().await?;
    signed_in(ctx, req, &started, org.id).await
}

/// Signs in through the development sign-in (no WorkOS). See `dev.rs`.
pub(crate) async fn development_sign_in(
    ctx: &AppContext,
    req: &Request,
    email: &str,
    organization_name: Option<&str>,
    role: Option<Role>,
) -> Result<User, Problem> {
    let state = ctx.get::<AuthState>();
    let mut tx = ctx.db().begin().await?;
    let user_id: i64 = sqlx::query_scalar(
        "INSERT INTO users (email) VALUES ($1)
         ON CONFLICT (lower(email)) WHERE workos_id IS NULL DO UPDATE SET updated_at = now()
         RETURNING id",
    )
    .bind(email)
    .fetch_one(&mut *tx)
    .await?;
    let org = match organization_name {
        Some(name) => {
            let existing: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM organizations WHERE lower(name) = lower($1) ORDER BY id LIMIT 1 FOR UPDATE",
            )
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
            match existing {
                Some(id) => Organization::by_id(&mut tx, id)
                    .await?
                    .ok_or_else(Problem::not_found)?,
                None => Organization::insert_local(&mut tx, name).await?,
            }
        }
        None => {
            let last: Option<i64> = sqlx::query_scalar(
                "SELECT m.org_id FROM user_organizations m JOIN users u ON u.id = m.user_id
                 WHERE m.user_id = $1 AND m.status = 'active'
                 ORDER BY (m.org_id = u.last_organization_id) DESC, m.created_at LIMIT 1",
            )
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
            match last {
                Some(id) => Organization::by_id(&mut tx, id)
                    .await?
                    .ok_or_else(Problem::not_found)?,
                None => Organization::insert_local(&mut tx, "Development").await?,
            }
        }
    };
    // Serialise joins of the same organization so "first member is admin" holds.
    sqlx::query("SELECT id FROM organizations WHERE id = $1 FOR UPDATE")
        .bind(org.id)
        .execute(&mut *tx)
        .await?;
    let existing = directory::membership_role(&mut tx, user_id, org.id).await?;
    match (existing, role) {
        (Some(_), None) => {}
        (Some(_), Some(role)) => {
            directory::upsert_membership(&mut tx, user_id, org.id, role, None, true).await?;
        }
        (None, role) => {
            let has_members: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM user_organizations WHERE org_id = $1 AND status = 'active')",
            )
            .bind(org.id)
            .fetch_one(&mut *tx)
            .await?;
            let role = role.unwrap_or(if has_members { Role::Member } else { Role::Admin });
            directory::upsert_membership(&mut tx, user_id, org.id, role, None, true).await?;
        }
    }
    let started = sessions::create(
        &mut tx,
        state,
        NewSession {
            user_id,
            org_id: org.id,
            kind: SessionKind::Development,
            refresh_token: None,
            workos_session_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    signed_in(ctx, req, &started, org.id).await
}
