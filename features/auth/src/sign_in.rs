//! Signing in through WorkOS: starting and finishing an OAuth sign-in, finishing a Magic Auth
//! one, and turning what WorkOS answers into a session or the next step (choose an
//! organization, or sign up).
//!
//! The next steps are pending sign-ins: the client holds an opaque random handle; the backend
//! keeps its hash with the sealed WorkOS token the step needs (WorkOS tokens never reach the
//! client).

use chrono::{DateTime, Utc};
use platform_workos::{AuthOutcome, Authentication, AuthorizationRequest, Workos};
use poem::{
    web::cookie::{Cookie, SameSite},
    Request,
};
use qubital_plugin::{auth::Role, AppContext, Problem};
use sqlx::PgConnection;

use crate::{
    crypto::{random_token, s256},
    directory::{self, Organization, OrganizationMirror, User},
    sessions::{self, NewSession, SessionKind},
    state::{sign_in_problem, workos_problem, AuthState},
    store::{self, sign_in::NewOAuthState},
};

/// Associated data of sealed secrets of pending sign-ins.
pub(crate) const PENDING_CONTEXT: &str = "pending_sign_ins.secret";

/// How long a pending sign-in (organization selection, sign-up) waits for its next step.
const PENDING_TTL_MINUTES: i32 = 15;

/// Associated data of sealed PKCE verifiers and invitation tokens of OAuth starts.
const STATE_CONTEXT: &str = "oauth_states";

/// How long an OAuth start may wait for its finalize.
const OAUTH_STATE_TTL_SECS: f64 = 600.0;

/// Where a sign-in ended.
pub enum Outcome {
    /// Signed in: the cookie is set.
    SignedIn(User),
    /// The user belongs to several organizations: they choose one of `organizations` with
    /// `selection_id`.
    SelectionRequired {
        selection_id: String,
        organizations: Vec<Organization>,
    },
    /// The user belongs to no organization: they sign up with `sign_up_id`.
    SignUpRequired { sign_up_id: String, email: String },
}

pub(crate) fn pending_invalid() -> Problem {
    start_again(Problem::new(&crate::problems::SIGN_IN_STEP_INVALID))
}

fn start_again(problem: Problem) -> Problem {
    problem.with_detail("Start the sign-in again.")
}

/// How an OAuth sign-in proves it is the one that started (PKCE).
pub enum Pkce {
    /// The web client: the backend generates the verifier and keeps it.
    Server,
    /// The desktop client: it keeps its verifier and sent this S256 challenge.
    Client { challenge: String },
}

/// An OAuth sign-in to start.
pub struct OAuthStart {
    pub pkce: Pkce,
    /// The WorkOS provider name (`GoogleOAuth`, `MicrosoftOAuth`, `authkit`).
    pub provider: &'static str,
    /// A WorkOS invitation this sign-in redeems.
    pub invitation_token: Option<String>,
    pub login_hint: Option<String>,
}

/// A started OAuth sign-in: where to send the browser, and the state it comes back with.
pub struct OAuthStarted {
    pub authorization_url: String,
    pub state: String,
    pub expires_at: DateTime<Utc>,
}

/// The cookie binding a web OAuth sign-in to the browser that started it (login CSRF: without
/// it, an attacker could make a victim's browser finish the attacker's own sign-in). It holds
/// the S256 hash of the `state`, lives as long as the state, and `__Host-` keeps other hosts
/// from setting it (a development server speaks plain HTTP: the host renames it there).
pub const OAUTH_STATE_COOKIE: &str = "__Host-oauth_state";

fn oauth_state_cookie(state: &AuthState, value: &str, max_age: std::time::Duration) -> Cookie {
    let mut cookie = Cookie::new_with_str(OAUTH_STATE_COOKIE, value);
    cookie.set_http_only(true);
    cookie.set_same_site(SameSite::Lax);
    cookie.set_secure(state.secure_cookies());
    cookie.set_path("/");
    cookie.set_max_age(max_age);
    cookie
}

/// Whether `req` comes from the browser that started the web sign-in with `oauth_state`; the
/// binding cookie is cleared either way.
fn started_in_this_browser(state: &AuthState, req: &Request, oauth_state: &str) -> bool {
    let bound = req
        .cookie()
        .get(OAUTH_STATE_COOKIE)
        .is_some_and(|cookie| cookie.value_str() == s256(oauth_state));
    req.cookie()
        .add(oauth_state_cookie(state, "", std::time::Duration::ZERO));
    bound
}

/// Starts an OAuth sign-in: remembers its PKCE verifier (web) or challenge (desktop) under a new
/// single-use state, and builds the WorkOS authorization URL. A web sign-in is bound to this
/// browser ([`OAUTH_STATE_COOKIE`]).
pub async fn start_oauth(
    ctx: &AppContext,
    req: &Request,
    start: OAuthStart,
) -> Result<OAuthStarted, Problem> {
    let (state, workos) = (ctx.get::<AuthState>(), ctx.get::<Workos>());
    let desktop = matches!(start.pkce, Pkce::Client { .. });
    let redirect_uri = redirect_uri(state, desktop)?;
    let (verifier, challenge) = match start.pkce {
        Pkce::Server => {
            let verifier = random_token(48);
            let challenge = s256(&verifier);
            (Some(verifier), challenge)
        }
        Pkce::Client { challenge } => (None, challenge),
    };
    let oauth_state = random_token(32);
    let seal = |secret: &str| state.sealer().seal(secret, STATE_CONTEXT);
    let expires_at = store::sign_in::insert_oauth_state(
        ctx.db(),
        NewOAuthState {
            state: &oauth_state,
            client: if desktop { "desktop" } else { "web" },
            sealed_verifier: verifier.as_deref().map(seal),
            code_challenge: desktop.then_some(challenge.as_str()),
            redirect_uri: &redirect_uri,
            sealed_invitation_token: start.invitation_token.as_deref().map(seal),
            ttl_secs: OAUTH_STATE_TTL_SECS,
        },
    )
    .await?;
    let authorization_url = workos
        .authorization_url(&AuthorizationRequest {
            redirect_uri,
            state: oauth_state.clone(),
            code_challenge: Some(challenge),
            provider: start.provider.to_owned(),
            login_hint: start.login_hint,
        })
        .map_err(workos_problem)?;
    if !desktop {
        let ttl = std::time::Duration::from_secs_f64(OAUTH_STATE_TTL_SECS);
        req.cookie()
            .add(oauth_state_cookie(state, &s256(&oauth_state), ttl));
    }
    Ok(OAuthStarted {
        authorization_url,
        state: oauth_state,
        expires_at,
    })
}

/// The redirect URI of a web or desktop sign-in: from settings, never from the request.
fn redirect_uri(state: &AuthState, desktop: bool) -> Result<String, Problem> {
    let settings = state.settings();
    let web = settings.redirect_uri.clone();
    let uri = if desktop {
        settings.desktop_redirect_uri.clone().or(web)
    } else {
        web
    };
    uri.ok_or_else(|| Problem::integration_disabled("WorkOS (no WORKOS_REDIRECT_URI)"))
}

/// Finishes an OAuth sign-in with the `code` and `state` the redirect carried (and, desktop,
/// the client's PKCE verifier). The state is spent whatever happens.
pub async fn finish_oauth(
    ctx: &AppContext,
    req: &Request,
    code: &str,
    oauth_state: &str,
    code_verifier: Option<String>,
) -> Result<Outcome, Problem> {
    let (state, workos) = (ctx.get::<AuthState>(), ctx.get::<Workos>());
    let started = store::sign_in::take_oauth_state(ctx.db(), oauth_state)
        .await?
        .ok_or_else(|| start_again(Problem::new(&crate::problems::OAUTH_STATE_INVALID)))?;
    if !started.live {
        return Err(start_again(Problem::new(&crate::problems::OAUTH_STATE_EXPIRED)));
    }
    // A desktop sign-in is bound to its client by PKCE (the verifier it kept); a web one by the
    // cookie set at start.
    if started.client == "web" && !started_in_this_browser(state, req, oauth_state) {
        return Err(Problem::new(&crate::problems::OAUTH_STATE_INVALID)
            .with_detail("This sign-in was started in another browser; start it again here."));
    }
    let verifier = pkce_verifier(state, &started, code_verifier)?;
    let invitation = started
        .invitation_token
        .and_then(|sealed| state.sealer().open(&sealed, STATE_CONTEXT).ok());
    let invitation_id = invitation_id(workos, invitation.as_deref()).await;
    let outcome = workos
        .authenticate_with_code(
            code,
            Some(&verifier),
            invitation.as_deref(),
            &state.client_info(req),
        )
        .await
        .map_err(sign_in_problem)?;
    complete(ctx, req, outcome, invitation_id.as_deref()).await
}

/// The PKCE verifier to send WorkOS: the desktop client's (checked against the challenge it
/// started with), or the one the backend kept for a web client.
fn pkce_verifier(
    state: &AuthState,
    started: &store::sign_in::OAuthState,
    code_verifier: Option<String>,
) -> Result<String, Problem> {
    if started.client == "desktop" {
        let verifier = code_verifier
            .ok_or_else(|| Problem::invalid_field("body.codeVerifier", "is required for desktop sign-in"))?;
        if Some(s256(&verifier)) != started.code_challenge {
            return Err(start_again(Problem::new(&crate::problems::PKCE_MISMATCH)));
        }
        return Ok(verifier);
    }
    if code_verifier.is_some() {
        return Err(Problem::invalid_field(
            "body.codeVerifier",
            "must not be sent for web sign-in (the server manages PKCE)",
        ));
    }
    started
        .code_verifier
        .as_deref()
        .and_then(|sealed| state.sealer().open(sealed, STATE_CONTEXT).ok())
        .ok_or_else(|| Problem::internal("an OAuth state's verifier does not open"))
}

/// Finishes a Magic Auth sign-in with the emailed one-time code.
pub async fn finish_magic_auth(
    ctx: &AppContext,
    req: &Request,
    email: &str,
    code: &str,
    invitation: Option<&str>,
) -> Result<Outcome, Problem> {
    let (state, workos) = (ctx.get::<AuthState>(), ctx.get::<Workos>());
    crate::ratelimit::magic_auth_attempt(ctx, email).await?;
    let invitation_id = invitation_id(workos, invitation).await;
    let outcome = workos
        .authenticate_with_magic_auth(email, code, invitation, &state.client_info(req))
        .await
        .map_err(sign_in_problem)?;
    complete(ctx, req, outcome, invitation_id.as_deref()).await
}

/// The WorkOS id of the invitation a sign-in carries, to mark its mirror accepted afterwards
/// (best effort: an unknown token is WorkOS's to refuse at authenticate).
async fn invitation_id(workos: &Workos, token: Option<&str>) -> Option<String> {
    workos.find_invitation_by_token(token?).await.ok().map(|i| i.id)
}

/// Finishes a WorkOS authentication (code, magic code, organization selection): a session in
/// the organization WorkOS signed into, or the next step.
///
/// `accepted_invitation` is the WorkOS id of an invitation the authentication redeemed (its
/// token came with the sign-in); its local mirror is marked accepted.
async fn complete(
    ctx: &AppContext,
    req: &Request,
    outcome: AuthOutcome,
    accepted_invitation: Option<&str>,
) -> Result<Outcome, Problem> {
    let outcome = match outcome {
        AuthOutcome::Authenticated(auth) => {
            // What only WorkOS can tell is asked before the transaction, so none waits on it.
            let signed_into = match auth.organization_id.as_deref() {
                Some(workos_org_id) => Some(SignedInto::find(ctx, &auth, workos_org_id).await?),
                None => None,
            };
            let mut tx = ctx.db().begin().await?;
            let user_id = store::users::upsert_from_workos(&mut *tx, &auth.user).await?;
            if let Some(invitation) = accepted_invitation {
                store::invitations::accept_if_pending(&mut *tx, invitation).await?;
            }
            let Some(signed_into) = signed_into else {
                let outcome = ask_for_sign_up(&mut tx, ctx.get::<AuthState>(), user_id, auth).await?;
                tx.commit().await?;
                return Ok(outcome);
            };
            let (started, org_id) = start_workos_session(&mut tx, ctx, user_id, &auth, signed_into).await?;
            tx.commit().await?;
            Outcome::SignedIn(sessions::signed_in(ctx, req, &started, org_id).await?)
        }
        AuthOutcome::OrganizationSelectionRequired {
            pending_authentication_token,
            user,
            organizations,
        } => {
            let mut tx = ctx.db().begin().await?;
            let user_id = store::users::upsert_from_workos(&mut *tx, &user).await?;
            let mut offered = Vec::with_capacity(organizations.len());
            for org in &organizations {
                offered.push(Organization::upsert_from_workos(&mut tx, &org.id, &org.name, false).await?);
            }
            let state = ctx.get::<AuthState>();
            let outcome =
                ask_for_selection(&mut tx, state, user_id, &pending_authentication_token, offered).await?;
            tx.commit().await?;
            outcome
        }
    };
    Ok(outcome)
}

/// The organization WorkOS signed a user into, with what WorkOS says of their membership when
/// this server has none yet.
struct SignedInto {
    org: OrganizationMirror,
    /// `Some`: no local membership was found; WorkOS's, if it has one.
    remote_membership: Option<Option<platform_workos::Membership>>,
}

impl SignedInto {
    async fn find(ctx: &AppContext, auth: &Authentication, workos_org_id: &str) -> Result<Self, Problem> {
        let workos = ctx.get::<Workos>();
        let org = OrganizationMirror::find(ctx.db(), workos, workos_org_id).await?;
        let member_here = match &org {
            OrganizationMirror::Known(known) => {
                store::memberships::is_member_by_workos_id(ctx.db(), &auth.user.id, known.id).await?
            }
            OrganizationMirror::New(_) => false,
        };
        let remote_membership = if member_here {
            None
        } else {
            Some(
                workos
                    .find_membership(&auth.user.id, workos_org_id)
                    .await
                    .map_err(workos_problem)?,
            )
        };
        Ok(Self {
            org,
            remote_membership,
        })
    }
}

/// Starts the session of a user WorkOS signed into an organization, mirroring the organization
/// and the membership first if they are new here.
async fn start_workos_session(
    conn: &mut PgConnection,
    ctx: &AppContext,
    user_id: i64,
    auth: &Authentication,
    signed_into: SignedInto,
) -> Result<(sessions::Started, i64), Problem> {
    let org = signed_into.org.record(conn).await?;
    ensure_membership(conn, user_id, signed_into.remote_membership, &org).await?;
    let started = sessions::create(
        conn,
        ctx.get::<AuthState>(),
        NewSession {
            user_id,
            org_id: org.id,
            kind: SessionKind::Workos,
            refresh_token: Some(&auth.refresh_token),
            workos_session_id: auth.session_id.as_deref(),
        },
    )
    .await?;
    Ok((started, org.id))
}

/// Makes sure the local membership of a user WorkOS signed into `org` exists, with the role
/// WorkOS records (`remote`: what WorkOS said when there was none here; a membership WorkOS does
/// not list yet is a member's).
async fn ensure_membership(
    conn: &mut PgConnection,
    user_id: i64,
    remote: Option<Option<platform_workos::Membership>>,
    org: &Organization,
) -> Result<(), Problem> {
    if store::memberships::role(&mut *conn, user_id, org.id)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let (role, membership_id) = match remote.flatten() {
        Some(m) => (directory::role_from_slug(&m.role_slug), Some(m.id)),
        None => (Role::Member, None),
    };
    store::memberships::upsert(conn, user_id, org.id, role, membership_id.as_deref(), true).await?;
    Ok(())
}

/// The user belongs to no organization: a sign-up step holding their WorkOS refresh token.
async fn ask_for_sign_up(
    conn: &mut PgConnection,
    state: &AuthState,
    user_id: i64,
    auth: Authentication,
) -> Result<Outcome, Problem> {
    let handle = random_token(32);
    let sealed = state.sealer().seal(&auth.refresh_token, PENDING_CONTEXT);
    store::sign_in::insert_sign_up(
        conn,
        &handle,
        user_id,
        sealed,
        auth.session_id.as_deref(),
        PENDING_TTL_MINUTES,
    )
    .await?;
    Ok(Outcome::SignUpRequired {
        sign_up_id: handle,
        email: auth.user.email,
    })
}

/// The user belongs to several organizations: a selection step holding WorkOS's pending
/// authentication token and the organizations offered.
async fn ask_for_selection(
    conn: &mut PgConnection,
    state: &AuthState,
    user_id: i64,
    pending_authentication_token: &str,
    offered: Vec<Organization>,
) -> Result<Outcome, Problem> {
    let handle = random_token(32);
    let sealed = state.sealer().seal(pending_authentication_token, PENDING_CONTEXT);
    let ids: Vec<i64> = offered.iter().map(|o| o.id).collect();
    store::sign_in::insert_selection(conn, &handle, user_id, sealed, &ids, PENDING_TTL_MINUTES).await?;
    Ok(Outcome::SelectionRequired {
        selection_id: handle,
        organizations: offered,
    })
}

/// Finishes an organization selection: signs into the chosen one of the offered organizations.
pub async fn select_organization(
    ctx: &AppContext,
    req: &Request,
    selection_id: &str,
    organization_id: &str,
) -> Result<User, Problem> {
    let (state, workos) = (ctx.get::<AuthState>(), ctx.get::<Workos>());
    let mut tx = ctx.db().begin().await?;
    let selection = store::sign_in::take_selection(&mut *tx, selection_id)
        .await?
        .filter(|s| s.live)
        .ok_or_else(pending_invalid)?;
    let org = Organization::by_public_id(&mut *tx, organization_id)
        .await?
        .filter(|o| selection.organization_ids.contains(&o.id))
        .ok_or_else(Problem::not_found)?;
    let pending = state
        .sealer()
        .open(&selection.secret, PENDING_CONTEXT)
        .map_err(|_| pending_invalid())?;
    // The handle is single use whatever WorkOS answers (its token is single use too).
    tx.commit().await?;
    let workos_org_id = org.workos_org_id.clone().ok_or_else(Problem::not_found)?;
    let outcome = workos
        .authenticate_with_organization_selection(&pending, &workos_org_id, &state.client_info(req))
        .await
        .map_err(sign_in_problem)?;
    match complete(ctx, req, outcome, None).await? {
        Outcome::SignedIn(user) => Ok(user),
        _ => Err(Problem::internal(
            "WorkOS asked for another step after organization selection",
        )),
    }
}
