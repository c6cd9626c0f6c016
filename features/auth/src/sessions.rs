//! Server-side sessions, the `access_token` cookie, and the [`Authenticator`] every operation's
//! `cookieAuth` goes through.
//!
//! A request is accepted when its token is signed by us **and** its session row is live (not
//! ended, not past its absolute expiry) **and** the user is still an active member of the
//! session's organization. What the row says is cached for at most `SESSION_CACHE_SECS`
//! ([`crate::session_cache`]): a session ended or a role changed through this process applies
//! from the next request on; through another process (another replica, eventsync, SQL), as soon
//! as its notification arrives, and within `SESSION_CACHE_SECS` in any case.

use std::time::Duration;

use chrono::{DateTime, Utc};
use platform_workos::{AuthOutcome, Authentication, Workos, WorkosError};
use poem::{
    web::cookie::{Cookie, SameSite},
    Request,
};
use qubital_plugin::{
    auth::{Authenticator, Caller, ACCESS_TOKEN_COOKIE},
    AppContext, Problem,
};
use sqlx::PgConnection;
use uuid::Uuid;

pub use crate::store::sessions::{end_membership_sessions, end_session, end_user_sessions, SessionKind};
use crate::{
    directory::{self, User},
    session_cache::SessionCache,
    state::{integration_unavailable, AuthState},
    store::{
        self,
        sessions::{Live, ToRefresh},
    },
    token_lease::{Lease, TokenHolder},
};

/// Associated data of sealed refresh tokens.
pub(crate) const REFRESH_TOKEN_CONTEXT: &str = "user_sessions.refresh_token";

/// A new session to record.
pub struct NewSession<'a> {
    pub user_id: i64,
    pub org_id: i64,
    pub kind: SessionKind,
    pub refresh_token: Option<&'a str>,
    pub workos_session_id: Option<&'a str>,
}

/// A created session: what the cookie needs.
#[derive(Clone, Copy, Debug)]
pub struct Started {
    pub session_id: Uuid,
    pub user_id: i64,
    pub expires_at: DateTime<Utc>,
}

/// Records a new session (its refresh token sealed) and remembers its organization as the
/// user's last one.
pub async fn create(
    conn: &mut PgConnection,
    state: &AuthState,
    new: NewSession<'_>,
) -> Result<Started, sqlx::Error> {
    let session_id = Uuid::new_v4();
    let expires_at = store::sessions::insert(
        &mut *conn,
        store::sessions::NewRow {
            session_id,
            user_id: new.user_id,
            org_id: new.org_id,
            kind: new.kind,
            sealed_refresh_token: new
                .refresh_token
                .map(|token| state.sealer().seal(token, REFRESH_TOKEN_CONTEXT)),
            workos_session_id: new.workos_session_id,
            ttl_days: state.settings().session_ttl_days as i32,
        },
    )
    .await?;
    store::users::set_last_organization(conn, new.user_id, new.org_id).await?;
    Ok(Started {
        session_id,
        user_id: new.user_id,
        expires_at,
    })
}

/// Signs the browser in to `started` (sets the cookie) and answers the User DTO.
pub(crate) async fn signed_in(
    ctx: &AppContext,
    req: &Request,
    started: &Started,
    org_id: i64,
) -> Result<User, Problem> {
    set_cookie(ctx.get::<AuthState>(), req, started);
    let mut conn = ctx.db().acquire().await?;
    directory::load_user(&mut conn, started.user_id, org_id).await
}

/// Sets the `access_token` cookie with a fresh access token for `started`. The cookie lives as
/// long as the session; the token inside expires sooner and is refreshed on use.
pub fn set_cookie(state: &AuthState, req: &Request, started: &Started) {
    let token = state.tokens().issue(started.user_id, started.session_id);
    let mut cookie = Cookie::new_with_str(ACCESS_TOKEN_COOKIE, token);
    cookie.set_http_only(true);
    cookie.set_same_site(SameSite::Lax);
    cookie.set_secure(state.secure_cookies());
    cookie.set_path("/");
    let remaining = (started.expires_at - Utc::now()).num_seconds().max(0) as u64;
    cookie.set_max_age(Duration::from_secs(remaining));
    req.cookie().add(cookie);
}

/// Tells the browser to forget the cookie.
pub fn clear_cookie(state: &AuthState, req: &Request) {
    let mut cookie = Cookie::new_with_str(ACCESS_TOKEN_COOKIE, "");
    cookie.set_http_only(true);
    cookie.set_same_site(SameSite::Lax);
    cookie.set_secure(state.secure_cookies());
    cookie.set_path("/");
    cookie.set_max_age(Duration::ZERO);
    req.cookie().add(cookie);
}

/// Why sessions end (recorded in `end_reason`).
pub mod reason {
    pub const SIGNED_OUT: &str = "signed-out";
    pub const MEMBER_REMOVED: &str = "member-removed";
    pub const USER_DELETED: &str = "user-deleted";
    pub const REFRESH_REFUSED: &str = "refresh-refused";
}

/// Revokes WorkOS sessions after the local ones ended (best effort, in the background: the
/// local end is what stops access; this also stops the refresh tokens at WorkOS).
pub fn revoke_with_workos(workos: &Workos, workos_session_ids: Vec<String>) {
    if workos_session_ids.is_empty() || !workos.is_enabled() {
        return;
    }
    let workos = workos.clone();
    tokio::spawn(async move {
        for sid in workos_session_ids {
            if let Err(error) = workos.revoke_session(&sid).await {
                tracing::warn!(%error, "could not revoke a WorkOS session");
            }
        }
    });
}

/// The identity feature's [`Authenticator`].
pub struct SessionAuthenticator {
    pub state: AuthState,
    pub workos: Workos,
    /// Live sessions read lately (bounded staleness: [`crate::session_cache`]).
    pub cache: SessionCache,
}

impl SessionAuthenticator {
    /// The session's user, organization and role: cached, or read (one query) and cached.
    async fn live(&self, ctx: &AppContext, session_id: Uuid) -> Result<Option<Live>, sqlx::Error> {
        let live = self
            .cache
            .get_or_read(session_id, || store::sessions::live(ctx.db(), session_id))
            .await?;
        // A cached session is used until the session's own expiry, never past it: an absolute
        // expiry only ever moves with an invalidation, so past it the database says `None` too.
        Ok(live.filter(|live| live.expires_at > chrono::Utc::now()))
    }
}

#[async_trait::async_trait]
impl Authenticator for SessionAuthenticator {
    async fn authenticate(&self, req: &Request, access_token: &str) -> Result<Caller, Problem> {
        let ctx = req
            .data::<AppContext>()
            .expect("AppContext is provided by the host");
        let Some((claims, expired)) = self.state.tokens().verify(access_token) else {
            return Err(Problem::unauthorized());
        };
        let Some(live) = self.live(ctx, claims.sid).await? else {
            return Err(session_ended());
        };
        if claims.sub != live.user_id.to_string() {
            return Err(Problem::unauthorized());
        }
        if expired {
            refresh(ctx, &self.state, &self.workos, req, claims.sid, claims.exp).await?;
        }
        Ok(Caller {
            user_id: live.user_id,
            organization_id: live.org_id,
            role: live.role,
            session_id: claims.sid,
        })
    }
}

pub fn session_ended() -> Problem {
    Problem::new(&qubital_plugin::problem::types::SESSION_ENDED)
}

/// Renews the access token of a live session whose token expired: a WorkOS session exchanges
/// its refresh token (rotating it); a development session just gets a new token. The cookie is
/// re-issued on the current response.
///
/// Concurrent requests carrying the same expired token: the first takes the session's
/// refresh-token lease ([`crate::token_lease`]) and refreshes with WorkOS, holding no lock or
/// connection meanwhile; the others wait for the lease, then find the session refreshed after
/// their token's expiry (`token_exp`) and only get a new access token.
async fn refresh(
    ctx: &AppContext,
    state: &AuthState,
    workos: &Workos,
    req: &Request,
    session_id: Uuid,
    token_exp: i64,
) -> Result<(), Problem> {
    let session = store::sessions::to_refresh(ctx.db(), session_id, token_exp)
        .await?
        .ok_or_else(session_ended)?;
    let started = Started {
        session_id,
        user_id: session.user_id,
        expires_at: session.expires_at,
    };
    if !session.fresh {
        match SessionKind::parse(&session.kind) {
            SessionKind::Workos => rotate(ctx, state, workos, req, session_id, token_exp).await?,
            SessionKind::Development => store::sessions::mark_refreshed(ctx.db(), session_id).await?,
        }
    }
    set_cookie(state, req, &started);
    Ok(())
}

/// Rotates a WorkOS session's refresh token under its lease (unless, once the lease is ours, a
/// concurrent refresh turns out to have done it already).
async fn rotate(
    ctx: &AppContext,
    state: &AuthState,
    workos: &Workos,
    req: &Request,
    session_id: Uuid,
    token_exp: i64,
) -> Result<(), Problem> {
    let lease = Lease::take(ctx, TokenHolder::Session(session_id)).await?;
    let outcome = async {
        let session = store::sessions::to_refresh(ctx.db(), session_id, token_exp)
            .await?
            .ok_or_else(session_ended)?;
        if session.fresh {
            return Ok(Rotation::Done);
        }
        let rotated = rotate_with_workos(state, workos, req, session_id, &session).await?;
        let mut tx = ctx.db().begin().await?;
        lease.finish(&mut tx).await?;
        let rotation = match rotated {
            Some(rotated) => {
                let sealed = state.sealer().seal(&rotated.refresh_token, REFRESH_TOKEN_CONTEXT);
                let workos_session_id = rotated.session_id.as_deref();
                store::sessions::store_rotated_token(&mut *tx, session_id, sealed, workos_session_id).await?;
                Rotation::Done
            }
            None => {
                end_session(&mut tx, session_id, reason::REFRESH_REFUSED).await?;
                Rotation::Refused
            }
        };
        tx.commit().await?;
        Ok(rotation)
    }
    .await;
    match lease.settle(ctx, outcome).await? {
        Rotation::Done => Ok(()),
        Rotation::Refused => {
            clear_cookie(state, req);
            Err(session_ended())
        }
    }
}

/// What a rotation came to.
enum Rotation {
    /// The session holds a fresh refresh token (this rotation's or a concurrent one's).
    Done,
    /// WorkOS refused the token: the session ended.
    Refused,
}

/// Exchanges a WorkOS session's refresh token for a new one (WorkOS rotates it). `None`: WorkOS
/// refused, so the session is over.
async fn rotate_with_workos(
    state: &AuthState,
    workos: &Workos,
    req: &Request,
    session_id: Uuid,
    session: &ToRefresh,
) -> Result<Option<Authentication>, Problem> {
    let refresh_token = session
        .refresh_token
        .as_deref()
        .and_then(|sealed| state.sealer().open(sealed, REFRESH_TOKEN_CONTEXT).ok())
        .ok_or_else(|| {
            tracing::error!(%session_id, "a session's refresh token does not open (key changed?)");
            session_ended()
        })?;
    let info = state.client_info(req);
    match workos
        .authenticate_with_refresh_token(&refresh_token, session.workos_org_id.as_deref(), &info)
        .await
    {
        Ok(AuthOutcome::Authenticated(auth)) => Ok(Some(auth)),
        Ok(AuthOutcome::OrganizationSelectionRequired { .. }) | Err(WorkosError::Rejected { .. }) => Ok(None),
        Err(WorkosError::Disabled) => Err(Problem::integration_disabled("WorkOS")),
        Err(WorkosError::Unavailable(error)) => {
            tracing::error!(%error, "WorkOS is unavailable; cannot refresh a session");
            Err(integration_unavailable())
        }
    }
}
