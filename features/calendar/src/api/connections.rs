//! Connect, finish connecting, disconnect, list connections.
//!
//! A connect is bound twice: to the member (the state row names the user and organization, and
//! only that member's callback consumes it) and to the browser (a random nonce in a short-lived
//! `HttpOnly`, `SameSite=Lax` cookie — `__Host-` prefixed and `Secure` outside development —
//! whose hash the state row keeps). A state leaked from the consent redirect is useless in
//! another browser or another session's hands; it is single use and lives ten minutes.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use platform_calendar::{CalendarError, Pkce};
use poem::{
    web::{
        cookie::{Cookie, SameSite},
        Data,
    },
    Request,
};
use poem_openapi::{param::Path, payload::Json, ApiResponse, Object, OpenApi};
use qubital_auth::{crypto, AuthState};
use qubital_plugin::{
    auth::{Caller, CookieAuth},
    problem::types,
    wire, AppContext, ExposeSecret, Page, Problem,
};
use sha2::{Digest, Sha256};

use super::{connection, provider, provider_problem, CalendarConnection, CalendarTag};
use crate::{
    permissions::CONNECT_CALENDAR,
    problems::{CALENDAR_ACCESS_REFUSED, CALENDAR_CONNECT_INVALID},
    settings::CalendarState,
    store::{self, Grant, StateRow},
    tokens::{CODE_VERIFIER, REFRESH_TOKEN},
};

/// How long a connect may take, consent screen included.
const CONNECT_TTL_SECS: i64 = 600;

qubital_plugin::operation_errors! {
    /// What `/calendar/{provider}/connect` answers besides the host's problems.
    pub ConnectErrors = [types::FORBIDDEN, types::NOT_FOUND, types::INTEGRATION_DISABLED];
    /// What `/calendar/{provider}/callback` answers besides the host's problems.
    pub CallbackErrors = [
        types::FORBIDDEN,
        types::NOT_FOUND,
        types::INTEGRATION_DISABLED,
        types::INTEGRATION_UNAVAILABLE,
        types::INTEGRATION_ERROR,
        CALENDAR_CONNECT_INVALID,
        CALENDAR_ACCESS_REFUSED,
        crate::problems::CALENDAR_CONNECTION_BROKEN,
    ];
    /// What `/calendar/{provider}/disconnect` answers besides the host's problems.
    pub DisconnectErrors = [
        types::FORBIDDEN,
        types::NOT_FOUND,
        types::INTEGRATION_DISABLED,
        types::INTEGRATION_UNAVAILABLE,
    ];
    /// What `/calendar/connections/list` answers besides the host's problems.
    pub ListConnectionsErrors = [types::FORBIDDEN];
}

/// Where to send the member to grant access.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CalendarConnectStarted {
    /// The provider's consent screen. It redirects to the web app's callback page with `code`
    /// and `state`, which the page posts to `/calendar/{provider}/callback` from the same
    /// browser within ten minutes.
    pub authorization_url: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct CalendarCallbackRequest {
    /// The `code` of the provider's redirect.
    pub code: wire::Token<2048>,
    /// The `state` of the provider's redirect.
    pub state: wire::Token<256>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListCalendarConnectionsRequest {
    /// 1..100, default 20.
    #[oai(
        default = "qubital_plugin::list::default_limit",
        validator(minimum(value = "1"), maximum(value = "100"))
    )]
    pub limit: u32,
    /// 0..100000.
    #[oai(default, validator(maximum(value = "100000")))]
    pub offset: u32,
}

#[derive(ApiResponse)]
enum Disconnected {
    /// Revoked at the provider; tokens and local copies of the connection's events deleted.
    #[oai(status = 204)]
    NoContent,
}

#[derive(Default)]
pub(crate) struct CalendarConnectionsApi;

#[OpenApi(tag = "CalendarTag::Calendar")]
impl CalendarConnectionsApi {
    /// Start connecting a calendar
    ///
    /// Permission: `ConnectCalendar`. Answers the provider's consent-screen URL (offline access,
    /// PKCE) and sets a short-lived cookie binding the attempt to this browser; finish with
    /// `/calendar/{provider}/callback` within ten minutes. `404` for an unknown provider, `503
    /// integration-disabled` when this server does not offer it.
    #[oai(
        path = "/calendar/:provider/connect",
        method = "post",
        operation_id = "connect-calendar"
    )]
    async fn connect(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        #[oai(validator(pattern = "^[a-z][a-z0-9-]{0,31}$"))] provider: Path<String>,
    ) -> Result<Json<CalendarConnectStarted>, ConnectErrors> {
        let caller = &auth.0;
        caller.require(&CONNECT_CALENDAR)?;
        let provider = self::provider(ctx.get::<CalendarState>(), &provider.0)?;
        let auth_state = ctx.get::<AuthState>();
        let pkce = Pkce::generate();
        let state = crypto::random_token(32);
        let nonce = crypto::random_token(32);
        let row = StateRow {
            org_id: caller.organization_id,
            user_id: caller.user_id,
            provider: provider.name().to_owned(),
            browser_hash: hash(&nonce),
            code_verifier: auth_state.sealer().seal(&pkce.verifier, CODE_VERIFIER),
            redirect_uri: provider.redirect_uri().to_owned(),
        };
        let expires_at = Utc::now() + Duration::seconds(CONNECT_TTL_SECS);
        store::insert_state(ctx.db(), &hash(&state), &row, expires_at).await?;
        set_browser_cookie(auth_state, req, &nonce, CONNECT_TTL_SECS as u64);
        let url = provider.authorization_url(&state, &pkce.challenge, &row.redirect_uri);
        Ok(Json(CalendarConnectStarted {
            authorization_url: url.to_string(),
        }))
    }

    /// Finish connecting a calendar
    ///
    /// Permission: `ConnectCalendar`. Exchanges the redirect's `code` (with the PKCE verifier
    /// kept here) for tokens, stored encrypted, and answers the connection; a reconnect repairs a
    /// broken connection. `400 calendar-connect-invalid` when the state is unknown, expired, used,
    /// or was started by another member or in another browser; `409 calendar-access-refused` when
    /// the provider refused the code or calendar access was not granted; `503
    /// integration-unavailable` when the provider did not answer.
    #[oai(
        path = "/calendar/:provider/callback",
        method = "post",
        operation_id = "finish-calendar-connect"
    )]
    async fn callback(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        #[oai(validator(pattern = "^[a-z][a-z0-9-]{0,31}$"))] provider: Path<String>,
        body: Json<CalendarCallbackRequest>,
    ) -> Result<Json<CalendarConnection>, CallbackErrors> {
        let caller = &auth.0;
        caller.require(&CONNECT_CALENDAR)?;
        let provider = self::provider(ctx.get::<CalendarState>(), &provider.0)?;
        let auth_state = ctx.get::<AuthState>();
        let nonce = req
            .cookie()
            .get(&cookie_name(auth_state))
            .map(|c| c.value_str().to_owned());
        clear_browser_cookie(auth_state, req);
        let row = take_state(&ctx, caller, provider.name(), &body.state, nonce.as_deref()).await?;
        let verifier = crate::tokens::open(auth_state.sealer(), &row.code_verifier, CODE_VERIFIER)
            .map_err(|_| invalid_state())?;
        let tokens = match provider
            .exchange_code(&body.code, verifier.expose_secret(), &row.redirect_uri)
            .await
        {
            Ok(tokens) => tokens,
            Err(CalendarError::InvalidGrant | CalendarError::InsufficientScope { .. }) => {
                return Err(Problem::new(&CALENDAR_ACCESS_REFUSED).into())
            }
            Err(error) => return Err(provider_problem(error).into()),
        };
        let Some(refresh_token) = tokens.refresh_token.as_deref() else {
            // Without offline access the sync cannot work: give the grant back.
            if let Err(error) = provider.revoke(&tokens.access_token).await {
                tracing::warn!(%error, "revoking a calendar grant without offline access failed");
            }
            return Err(Problem::new(&CALENDAR_ACCESS_REFUSED)
                .with_detail("The provider granted no offline access.")
                .into());
        };
        let sealer = auth_state.sealer();
        let refresh = sealer.seal(refresh_token, REFRESH_TOKEN);
        let access = sealer.seal(&tokens.access_token, crate::tokens::ACCESS_TOKEN);
        let mut conn = ctx.db().acquire().await?;
        let row = store::upsert_connection(
            &mut conn,
            &Grant {
                org_id: caller.organization_id,
                user_id: caller.user_id,
                provider: provider.name(),
                account_email: tokens.account.as_ref().and_then(|a| a.email.as_deref()),
                refresh_token: &refresh,
                access_token: &access,
                access_expires_at: tokens.expires_at,
                scopes: &tokens.scopes,
            },
        )
        .await?;
        tracing::info!(connection_id = %row.id, provider = provider.name(), "calendar connected");
        Ok(Json(connection(row)))
    }

    /// Disconnect a calendar
    ///
    /// Permission: `ConnectCalendar`. Revokes the grant at the provider, then deletes the
    /// tokens, the connection and the local copies of its events (the events stay in the
    /// provider's calendar). `404` when the caller has no such connection here; `503
    /// integration-unavailable` when the provider could not be reached (nothing is deleted; try
    /// again).
    #[oai(
        path = "/calendar/:provider/disconnect",
        method = "post",
        operation_id = "disconnect-calendar"
    )]
    async fn disconnect(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        #[oai(validator(pattern = "^[a-z][a-z0-9-]{0,31}$"))] provider: Path<String>,
    ) -> Result<Disconnected, DisconnectErrors> {
        let caller = &auth.0;
        caller.require(&CONNECT_CALENDAR)?;
        let provider = self::provider(ctx.get::<CalendarState>(), &provider.0)?;
        let row = store::connection_of(ctx.db(), caller.organization_id, caller.user_id, provider.name())
            .await?
            .ok_or_else(Problem::not_found)?;
        let sealer = ctx.get::<AuthState>().sealer();
        match crate::tokens::open(sealer, &row.refresh_token, REFRESH_TOKEN) {
            Ok(refresh_token) => match provider.revoke(refresh_token.expose_secret()).await {
                Ok(()) => {}
                Err(error @ (CalendarError::Unavailable(_) | CalendarError::RateLimited { .. })) => {
                    return Err(provider_problem(error).into())
                }
                // Refused for another reason: nothing more to revoke from here.
                Err(error) => tracing::warn!(%error, connection_id = %row.id, "calendar revoke refused"),
            },
            Err(_) => {
                tracing::warn!(connection_id = %row.id, "a calendar refresh token does not open; not revoked")
            }
        }
        store::delete_connection(ctx.db(), row.id).await?;
        tracing::info!(connection_id = %row.id, "calendar disconnected");
        Ok(Disconnected::NoContent)
    }

    /// List my calendar connections
    ///
    /// Permission: `ConnectCalendar`. The caller's connections in the current organization,
    /// oldest first; a `broken` one must be connected again.
    #[oai(
        path = "/calendar/connections/list",
        method = "post",
        operation_id = "list-calendar-connections"
    )]
    async fn list(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<ListCalendarConnectionsRequest>,
    ) -> Result<Json<Page<CalendarConnection>>, ListConnectionsErrors> {
        let caller = &auth.0;
        caller.require(&CONNECT_CALENDAR)?;
        let mut conn = ctx.db().acquire().await?;
        let (rows, total) = store::connections_of(
            &mut conn,
            caller.organization_id,
            caller.user_id,
            body.limit,
            body.offset,
        )
        .await?;
        let data = rows.into_iter().map(connection).collect();
        Ok(Json(Page::new(data, body.limit, body.offset, total)))
    }
}

/// Consumes the state if it is this member's, for this provider, from this browser.
async fn take_state(
    ctx: &AppContext,
    caller: &Caller,
    provider: &str,
    state: &str,
    nonce: Option<&str>,
) -> Result<StateRow, Problem> {
    let row = store::take_state(ctx.db(), &hash(state))
        .await?
        .ok_or_else(invalid_state)?;
    let same_member = row.user_id == caller.user_id && row.org_id == caller.organization_id;
    let same_browser = nonce.is_some_and(|nonce| hash(nonce) == row.browser_hash);
    if !same_member || !same_browser || row.provider != provider {
        tracing::warn!(
            same_member,
            same_browser,
            "a calendar connect state was presented out of place"
        );
        return Err(invalid_state());
    }
    Ok(row)
}

fn invalid_state() -> Problem {
    Problem::new(&CALENDAR_CONNECT_INVALID)
}

fn hash(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

/// `__Host-` requires `Secure`, which a development server on plain HTTP cannot set.
fn cookie_name(state: &AuthState) -> String {
    if state.secure_cookies() {
        "__Host-qubital_calendar_connect".to_owned()
    } else {
        "qubital_calendar_connect".to_owned()
    }
}

fn set_browser_cookie(state: &AuthState, req: &Request, nonce: &str, max_age_secs: u64) {
    let mut cookie = Cookie::new_with_str(cookie_name(state), nonce);
    cookie.set_http_only(true);
    cookie.set_same_site(SameSite::Lax);
    cookie.set_secure(state.secure_cookies());
    cookie.set_path("/");
    cookie.set_max_age(StdDuration::from_secs(max_age_secs));
    req.cookie().add(cookie);
}

fn clear_browser_cookie(state: &AuthState, req: &Request) {
    set_browser_cookie(state, req, "", 0);
}
