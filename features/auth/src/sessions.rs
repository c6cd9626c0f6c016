//! Server-side sessions, the `access_token` cookie, and the [`Authenticator`] every operation's
//! `cookieAuth` goes through.
//!
//! A request is accepted when its token is signed by us **and** its session row is live (not
//! ended, not past its absolute expiry) **and** the user is still an active member of the
//! session's organization. The row is read on every request, so an ended session is refused
//! from the next request on (bound: 0 s), and role changes apply at once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use platform_workos::{AuthOutcome, Workos, WorkosError};
use poem::{
    web::cookie::{Cookie, SameSite},
    Request,
};
use qubital_plugin::{
    auth::{Authenticator, Caller, Role, ACCESS_TOKEN_COOKIE},
    AppContext, Problem,
};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::state::{integration_unavailable, AuthState};

/// Associated data of sealed refresh tokens.
pub(crate) const REFRESH_TOKEN_CONTEXT: &str = "user_sessions.refresh_token";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    /// Signed in through WorkOS: holds a WorkOS refresh token.
    Workos,
    /// The development sign-in: no vendor behind it.
    Development,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Workos => "workos",
            SessionKind::Development => "development",
        }
    }

    fn parse(value: &str) -> Self {
        if value == "workos" {
            SessionKind::Workos
        } else {
            SessionKind::Development
        }
    }
}

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

pub async fn create(
    conn: &mut PgConnection,
    state: &AuthState,
    new: NewSession<'_>,
) -> Result<Started, sqlx::Error> {
    let session_id = Uuid::new_v4();
    let sealed = new
        .refresh_token
        .map(|token| state.sealer().seal(token, REFRESH_TOKEN_CONTEXT));
    let expires_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO user_sessions (session_id, user_id, org_id, kind, refresh_token, workos_session_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(days => $7))
         RETURNING expires_at",
    )
    .bind(session_id)
    .bind(new.user_id)
    .bind(new.org_id)
    .bind(new.kind.as_str())
    .bind(sealed)
    .bind(new.workos_session_id)
    .bind(state.settings().session_ttl_days as i32)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("UPDATE users SET last_organization_id = $2 WHERE id = $1")
        .bind(new.user_id)
        .bind(new.org_id)
        .execute(&mut *conn)
        .await?;
    Ok(Started {
        session_id,
        user_id: new.user_id,
        expires_at,
    })
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

/// Ends sessions matching `filter` (a SQL condition on `user_sessions`, parameters `$2..`).
/// Returns the WorkOS session ids that were ended, to revoke with WorkOS.
async fn end_where(
    conn: &mut PgConnection,
    filter: &str,
    reason: &str,
    bind: impl FnOnce(
        sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> Result<Vec<String>, sqlx::Error> {
    let sql = format!(
        "UPDATE user_sessions
         SET ended_at = now(), end_reason = $1, refresh_token = NULL, updated_at = now()
         WHERE ended_at IS NULL AND {filter}
         RETURNING workos_session_id"
    );
    let query = bind(sqlx::query(&sql).bind(reason));
    let rows = query.fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.get::<Option<String>, _>("workos_session_id"))
        .collect())
}

/// Ends one session.
pub async fn end_session(
    conn: &mut PgConnection,
    session_id: Uuid,
    reason: &str,
) -> Result<Vec<String>, sqlx::Error> {
    end_where(conn, "session_id = $2", reason, |q| q.bind(session_id)).await
}

/// Ends every session of a user (user deleted, signed out everywhere).
pub async fn end_user_sessions(
    conn: &mut PgConnection,
    user_id: i64,
    reason: &str,
) -> Result<Vec<String>, sqlx::Error> {
    end_where(conn, "user_id = $2", reason, |q| q.bind(user_id)).await
}

/// Ends the sessions of a user that act in an organization (member removed).
pub async fn end_membership_sessions(
    conn: &mut PgConnection,
    user_id: i64,
    org_id: i64,
    reason: &str,
) -> Result<Vec<String>, sqlx::Error> {
    end_where(conn, "user_id = $2 AND org_id = $3", reason, |q| {
        q.bind(user_id).bind(org_id)
    })
    .await
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
        let row = sqlx::query(
            "SELECT s.user_id, s.org_id, m.role
             FROM user_sessions s
             JOIN user_organizations m
               ON m.user_id = s.user_id AND m.org_id = s.org_id AND m.status = 'active'
             WHERE s.session_id = $1 AND s.ended_at IS NULL AND s.expires_at > now()",
        )
        .bind(claims.sid)
        .fetch_optional(ctx.db())
        .await?;
        let Some(row) = row else {
            return Err(session_ended());
        };
        let user_id: i64 = row.get("user_id");
        if claims.sub != user_id.to_string() {
            return Err(Problem::unauthorized());
        }
        if expired {
            refresh(ctx, &self.state, &self.workos, req, claims.sid, claims.exp).await?;
        }
        Ok(Caller {
            user_id,
            organization_id: row.get("org_id"),
            role: row.get::<Role, _>("role"),
            session_id: claims.sid,
        })
    }
}

pub fn session_ended() -> Problem {
    Problem::new(&crate::problems::SESSION_ENDED)
}

/// Renews the access token of a live session whose token expired: a WorkOS session exchanges
/// its refresh token (rotating it); a development session just gets a new token. The cookie is
/// re-issued on the current response.
///
/// Concurrent requests carrying the same expired token serialise on the session row: the first
/// refreshes with WorkOS; the others find the session refreshed after their token's expiry
/// (`token_exp`) and only get a new access token.
async fn refresh(
    ctx: &AppContext,
    state: &AuthState,
    workos: &Workos,
    req: &Request,
    session_id: Uuid,
    token_exp: i64,
) -> Result<(), Problem> {
    let mut tx = ctx.db().begin().await?;
    let row = sqlx::query(
        "SELECT s.user_id, s.kind, s.refresh_token, s.expires_at,
                s.refreshed_at >= to_timestamp($2) AS fresh,
                o.workos_org_id
         FROM user_sessions s JOIN organizations o ON o.id = s.org_id
         WHERE s.session_id = $1 AND s.ended_at IS NULL AND s.expires_at > now()
         FOR UPDATE OF s",
    )
    .bind(session_id)
    .bind(token_exp as f64)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(session_ended)?;
    let started = Started {
        session_id,
        user_id: row.get("user_id"),
        expires_at: row.get("expires_at"),
    };
    let kind = SessionKind::parse(row.get::<&str, _>("kind"));
    let fresh: bool = row.get("fresh");
    if kind == SessionKind::Workos && !fresh {
        let sealed: Option<Vec<u8>> = row.get("refresh_token");
        let refresh_token = sealed
            .and_then(|s| state.sealer().open(&s, REFRESH_TOKEN_CONTEXT).ok())
            .ok_or_else(|| {
                tracing::error!(%session_id, "a session's refresh token does not open (key changed?)");
                session_ended()
            })?;
        let workos_org_id: Option<String> = row.get("workos_org_id");
        let info = state.client_info(req);
        match workos
            .authenticate_with_refresh_token(&refresh_token, workos_org_id.as_deref(), &info)
            .await
        {
            Ok(AuthOutcome::Authenticated(auth)) => {
                sqlx::query(
                    "UPDATE user_sessions
                     SET refresh_token = $2, refreshed_at = now(), updated_at = now(),
                         workos_session_id = COALESCE($3, workos_session_id)
                     WHERE session_id = $1",
                )
                .bind(session_id)
                .bind(state.sealer().seal(&auth.refresh_token, REFRESH_TOKEN_CONTEXT))
                .bind(auth.session_id)
                .execute(&mut *tx)
                .await?;
            }
            Ok(AuthOutcome::OrganizationSelectionRequired { .. }) | Err(WorkosError::Rejected { .. }) => {
                end_session(&mut tx, session_id, reason::REFRESH_REFUSED).await?;
                tx.commit().await?;
                clear_cookie(state, req);
                return Err(session_ended());
            }
            Err(WorkosError::Disabled) => return Err(Problem::integration_disabled("WorkOS")),
            Err(WorkosError::Unavailable(error)) => {
                tracing::error!(%error, "WorkOS is unavailable; cannot refresh a session");
                return Err(integration_unavailable());
            }
        }
    } else if !fresh {
        sqlx::query(
            "UPDATE user_sessions SET refreshed_at = now(), updated_at = now() WHERE session_id = $1",
        )
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    set_cookie(state, req, &started);
    Ok(())
}
