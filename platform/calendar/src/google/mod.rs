//! Google Calendar: Google's OAuth 2.0 for web-server applications (authorization code, offline
//! access, PKCE `S256`) and the Calendar API v3 `events` collection, over `reqwest`.
//!
//! Every URL is a setting, so tests point the client at [`crate::fake::FakeGoogle`].

mod wire;

use std::{fmt, sync::Arc, time::Duration};

use chrono::Utc;
use reqwest::{Method, RequestBuilder, StatusCode};
use url::Url;

use crate::{
    retry::parse_retry_after, CalendarError, CalendarProvider, Changes, EventPatch, NewEvent, ProviderEvent,
    RetryPolicy, SendUpdates, SettingsError, Tokens,
};

/// The provider's name in the registry and in the feature's paths.
pub const NAME: &str = "google";
/// Google's consent screen.
pub const DEFAULT_AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Google's token endpoint (code exchange and refresh).
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Google's revocation endpoint.
pub const DEFAULT_REVOKE_URL: &str = "https://oauth2.googleapis.com/revoke";
/// The Calendar API v3 base.
pub const DEFAULT_API_URL: &str = "https://www.googleapis.com/calendar/v3";
/// Read and write access to events on every calendar the user can reach (and nothing else of
/// the calendars: no sharing settings, no calendar creation).
pub const SCOPE_CALENDAR_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
/// Full calendar access, a superset of [`SCOPE_CALENDAR_EVENTS`] a user may have granted to the
/// same client earlier.
pub const SCOPE_CALENDAR: &str = "https://www.googleapis.com/auth/calendar";
/// What the consent screen asks for: the events, plus `openid email` so the token answer
/// carries an ID token saying whose calendar it is.
pub const DEFAULT_SCOPES: [&str; 3] = ["openid", "email", SCOPE_CALENDAR_EVENTS];

/// The `reason`s of a `403` that mean "slow down" rather than "forbidden".
const RATE_LIMIT_REASONS: [&str; 2] = ["rateLimitExceeded", "userRateLimitExceeded"];

/// Google Calendar settings, registered by the calendar feature (so they appear in
/// `qubital --help`). Without a client id, secret and redirect URI Google is not offered.
///
/// `Debug` hides the client secret. `Default` is what an empty command line parses to: no
/// credentials, Google's real URLs.
#[derive(clap::Args, Clone)]
#[command(next_help_heading = "Google Calendar")]
pub struct GoogleCalendarSettings {
    /// OAuth client id of the Google Cloud project (a "Web application" client). Required to
    /// offer Google Calendar.
    #[arg(id = "google_client_id", long = "google-client-id", env = "GOOGLE_CLIENT_ID")]
    pub client_id: Option<String>,

    /// OAuth client secret of that client. Required with the client id.
    #[arg(
        id = "google_client_secret",
        long = "google-client-secret",
        env = "GOOGLE_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub client_secret: Option<String>,

    /// Where Google's consent screen sends the user back: one of the client's "Authorized
    /// redirect URIs", exactly. Required with the client id.
    #[arg(
        id = "google_oauth_redirect_uri",
        long = "google-oauth-redirect-uri",
        env = "GOOGLE_OAUTH_REDIRECT_URI"
    )]
    pub redirect_uri: Option<String>,

    /// Google's OAuth consent-screen URL (tests point it at a local fake).
    #[arg(
        id = "google_oauth_auth_url",
        long = "google-oauth-auth-url",
        env = "GOOGLE_OAUTH_AUTH_URL",
        default_value = DEFAULT_AUTH_URL
    )]
    pub auth_url: String,

    /// Google's OAuth token endpoint.
    #[arg(
        id = "google_oauth_token_url",
        long = "google-oauth-token-url",
        env = "GOOGLE_OAUTH_TOKEN_URL",
        default_value = DEFAULT_TOKEN_URL
    )]
    pub token_url: String,

    /// Google's OAuth revocation endpoint.
    #[arg(
        id = "google_oauth_revoke_url",
        long = "google-oauth-revoke-url",
        env = "GOOGLE_OAUTH_REVOKE_URL",
        default_value = DEFAULT_REVOKE_URL
    )]
    pub revoke_url: String,

    /// Base URL of the Google Calendar API v3.
    #[arg(
        id = "google_calendar_api_url",
        long = "google-calendar-api-url",
        env = "GOOGLE_CALENDAR_API_URL",
        default_value = DEFAULT_API_URL
    )]
    pub api_url: String,
}

impl fmt::Debug for GoogleCalendarSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleCalendarSettings")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("redirect_uri", &self.redirect_uri)
            .field("auth_url", &self.auth_url)
            .field("token_url", &self.token_url)
            .field("revoke_url", &self.revoke_url)
            .field("api_url", &self.api_url)
            .finish()
    }
}

impl Default for GoogleCalendarSettings {
    fn default() -> Self {
        Self {
            client_id: None,
            client_secret: None,
            redirect_uri: None,
            auth_url: DEFAULT_AUTH_URL.into(),
            token_url: DEFAULT_TOKEN_URL.into(),
            revoke_url: DEFAULT_REVOKE_URL.into(),
            api_url: DEFAULT_API_URL.into(),
        }
    }
}

impl GoogleCalendarSettings {
    /// The first required setting that is unset (or blank), if any.
    pub fn missing(&self) -> Option<&'static str> {
        let unset = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        if unset(&self.client_id) {
            Some("GOOGLE_CLIENT_ID")
        } else if unset(&self.client_secret) {
            Some("GOOGLE_CLIENT_SECRET")
        } else if unset(&self.redirect_uri) {
            Some("GOOGLE_OAUTH_REDIRECT_URI")
        } else {
            None
        }
    }
}

/// Everything a [`GoogleCalendar`] needs, settings or not: the settings give the credentials and
/// URLs; timeouts, retries and scopes are the code's choice (tests shorten the retry delays).
///
/// `Debug` hides the client secret.
#[derive(Clone)]
pub struct GoogleConfig {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    pub auth_url: Url,
    pub token_url: Url,
    pub revoke_url: Url,
    pub api_url: Url,
    /// Asked for on the consent screen.
    pub scopes: Vec<String>,
    /// How long one HTTP request may take.
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl fmt::Debug for GoogleConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_uri", &self.redirect_uri)
            .field("auth_url", &self.auth_url.as_str())
            .field("token_url", &self.token_url.as_str())
            .field("revoke_url", &self.revoke_url.as_str())
            .field("api_url", &self.api_url.as_str())
            .field("scopes", &self.scopes)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

fn parse_url(setting: &'static str, value: &str) -> Result<Url, SettingsError> {
    let invalid = |reason: &str| SettingsError::InvalidUrl {
        setting,
        reason: reason.to_owned(),
    };
    let url = Url::parse(value.trim()).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    Ok(url)
}

impl GoogleConfig {
    /// Google's real endpoints, the default scopes, a 10 s timeout and the default retries.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        let url = |s: &str| Url::parse(s).expect("a valid default URL");
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            redirect_uri: redirect_uri.into(),
            auth_url: url(DEFAULT_AUTH_URL),
            token_url: url(DEFAULT_TOKEN_URL),
            revoke_url: url(DEFAULT_REVOKE_URL),
            api_url: url(DEFAULT_API_URL),
            scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }

    /// The configuration the settings describe, checking that the required ones are set and the
    /// URLs are absolute http(s) URLs.
    pub fn from_settings(settings: &GoogleCalendarSettings) -> Result<Self, SettingsError> {
        if let Some(variable) = settings.missing() {
            return Err(SettingsError::Missing(variable));
        }
        let text = |v: &Option<String>| v.as_deref().unwrap_or_default().trim().to_owned();
        let redirect_uri = text(&settings.redirect_uri);
        parse_url("GOOGLE_OAUTH_REDIRECT_URI", &redirect_uri)?;
        Ok(Self {
            auth_url: parse_url("GOOGLE_OAUTH_AUTH_URL", &settings.auth_url)?,
            token_url: parse_url("GOOGLE_OAUTH_TOKEN_URL", &settings.token_url)?,
            revoke_url: parse_url("GOOGLE_OAUTH_REVOKE_URL", &settings.revoke_url)?,
            api_url: parse_url("GOOGLE_CALENDAR_API_URL", &settings.api_url)?,
            ..Self::new(
                text(&settings.client_id),
                text(&settings.client_secret),
                redirect_uri,
            )
        })
    }
}

/// The Google Calendar provider. Cheap to clone (one shared connection pool).
///
/// `Debug` hides the client secret.
#[derive(Clone, Debug)]
pub struct GoogleCalendar {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: GoogleConfig,
    http: reqwest::Client,
}

/// A provider answer that was not retried away: its status and body.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

impl Answer {
    fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, CalendarError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| CalendarError::Unavailable(format!("Google sent an unreadable {what}: {e}")))
    }
}

/// Why an attempt is worth repeating.
enum Transient {
    RateLimited,
    Failed(String),
}

impl GoogleCalendar {
    pub fn new(config: GoogleConfig) -> Result<Self, SettingsError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| SettingsError::HttpClient(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner { config, http }),
        })
    }

    pub fn from_settings(settings: &GoogleCalendarSettings) -> Result<Self, SettingsError> {
        Self::new(GoogleConfig::from_settings(settings)?)
    }

    pub fn config(&self) -> &GoogleConfig {
        &self.inner.config
    }

    /// Sends the request `build` makes, again after each transient failure (429, a 403 whose
    /// reason is a rate limit, 5xx, a connection that failed) as the retry policy allows, and
    /// returns the first other answer.
    async fn send(&self, build: impl Fn() -> RequestBuilder) -> Result<Answer, CalendarError> {
        let policy = self.inner.config.retry;
        let mut attempt = 1;
        loop {
            let (transient, retry_after) = match build().send().await {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, Utc::now()));
                    let body = response
                        .bytes()
                        .await
                        .map_err(|e| CalendarError::Unavailable(format!("reading Google's answer: {e}")))?
                        .to_vec();
                    let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
                        || (status == StatusCode::FORBIDDEN
                            && RATE_LIMIT_REASONS.contains(&wire::ApiErrorBody::parse(&body).reason()));
                    if rate_limited {
                        (Transient::RateLimited, retry_after)
                    } else if status.is_server_error() {
                        (
                            Transient::Failed(format!("Google answered {status}")),
                            retry_after,
                        )
                    } else {
                        return Ok(Answer { status, body });
                    }
                }
                // Not sent, or no answer in time: worth another try. Anything else (a body
                // that cannot be built, a redirect loop) will not get better.
                Err(e) if e.is_connect() || e.is_timeout() => {
                    (Transient::Failed(format!("reaching Google: {e}")), None)
                }
                Err(e) => return Err(CalendarError::Unavailable(format!("calling Google: {e}"))),
            };
            let give_up = |transient: Transient| match transient {
                Transient::RateLimited => CalendarError::RateLimited { retry_after },
                Transient::Failed(why) => {
                    CalendarError::Unavailable(format!("{why} (after {attempt} attempts)"))
                }
            };
            if attempt >= policy.attempts() {
                return Err(give_up(transient));
            }
            let wait = match retry_after {
                Some(wait) if wait > policy.max_delay => return Err(give_up(transient)),
                Some(wait) => wait,
                None => policy.backoff(attempt),
            };
            tracing::warn!(
                attempt,
                wait_ms = wait.as_millis() as u64,
                rate_limited = matches!(transient, Transient::RateLimited),
                "Google Calendar: transient failure, retrying"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// A call to the token endpoint (form-encoded, client credentials in the body as Google's
    /// web-server flow documents).
    async fn token_request(&self, grant: &[(&str, &str)]) -> Result<Tokens, CalendarError> {
        let config = &self.inner.config;
        let mut form = vec![
            ("client_id", config.client_id.as_str()),
            ("client_secret", config.client_secret.as_str()),
        ];
        form.extend_from_slice(grant);
        let answer = self
            .send(|| self.inner.http.post(config.token_url.clone()).form(&form))
            .await?;
        if !answer.status.is_success() {
            return Err(oauth_error(&answer));
        }
        let token: wire::TokenResponse = answer.json("token answer")?;
        Ok(Tokens {
            access_token: token.access_token,
            refresh_token: token.refresh_token.filter(|t| !t.is_empty()),
            expires_at: Utc::now() + chrono::Duration::seconds(token.expires_in.max(0)),
            scopes: token.scope.split_whitespace().map(str::to_owned).collect(),
            account: token.id_token.as_deref().and_then(wire::account_from_id_token),
        })
    }

    /// `{api}/calendars/{calendarId}/events[/{eventId}]`, each id percent-encoded as one path
    /// segment (calendar ids are addresses, some with `#`).
    fn events_url(&self, calendar_id: &str, event_id: Option<&str>) -> Url {
        let mut url = self.inner.config.api_url.clone();
        {
            let mut segments = url.path_segments_mut().expect("an http(s) URL has path segments");
            segments
                .pop_if_empty()
                .push("calendars")
                .push(calendar_id)
                .push("events");
            if let Some(event_id) = event_id {
                segments.push(event_id);
            }
        }
        url
    }

    /// A Calendar API call with the user's access token.
    async fn api(
        &self,
        method: Method,
        url: Url,
        access_token: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, CalendarError> {
        self.send(|| {
            let request = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(access_token);
            match body {
                Some(body) => request.json(body),
                None => request,
            }
        })
        .await
    }
}

/// A token- or revoke-endpoint failure: `invalid_grant` is the one the feature acts on.
fn oauth_error(answer: &Answer) -> CalendarError {
    let error: wire::OAuthError = serde_json::from_slice(&answer.body).unwrap_or_default();
    if error.error == "invalid_grant" {
        return CalendarError::InvalidGrant;
    }
    if answer.status.is_client_error() {
        CalendarError::Rejected {
            status: answer.status.as_u16(),
            reason: error.error,
            message: error.error_description,
        }
    } else {
        CalendarError::Unavailable(format!("Google's OAuth endpoint answered {}", answer.status))
    }
}

/// A Calendar API failure that no retry fixed.
fn api_error(answer: &Answer) -> CalendarError {
    match answer.status {
        StatusCode::UNAUTHORIZED => CalendarError::Unauthorized,
        StatusCode::NOT_FOUND | StatusCode::GONE => CalendarError::NotFound,
        StatusCode::CONFLICT => CalendarError::AlreadyExists,
        status if status.is_client_error() => {
            let body = wire::ApiErrorBody::parse(&answer.body);
            CalendarError::Rejected {
                status: status.as_u16(),
                reason: body.reason().to_owned(),
                message: body.error.message,
            }
        }
        status => CalendarError::Unavailable(format!("Google Calendar answered {status}")),
    }
}

fn has_calendar_scope(tokens: &Tokens) -> bool {
    tokens.has_scope(SCOPE_CALENDAR_EVENTS) || tokens.has_scope(SCOPE_CALENDAR)
}

#[async_trait::async_trait]
impl CalendarProvider for GoogleCalendar {
    fn name(&self) -> &'static str {
        NAME
    }

    fn redirect_uri(&self) -> &str {
        &self.inner.config.redirect_uri
    }

    fn authorization_url(&self, state: &str, pkce_challenge: &str, redirect_uri: &str) -> Url {
        let config = &self.inner.config;
        let mut url = config.auth_url.clone();
        url.query_pairs_mut()
            .append_pair("client_id", &config.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", &config.scopes.join(" "))
            // A refresh token, so the sync job works while the user is away.
            .append_pair("access_type", "offline")
            // Google grants a refresh token only with a consent screen; a user reconnecting
            // after a revocation would otherwise skip it and come back without one.
            .append_pair("prompt", "consent")
            .append_pair("state", state)
            .append_pair("code_challenge", pkce_challenge)
            .append_pair("code_challenge_method", "S256");
        url
    }

    async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &str,
        redirect_uri: &str,
    ) -> Result<Tokens, CalendarError> {
        let tokens = self
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("code_verifier", pkce_verifier),
                ("redirect_uri", redirect_uri),
            ])
            .await?;
        // Google's consent screen lets the user untick calendar access and still approve.
        if !has_calendar_scope(&tokens) {
            let grant = tokens.refresh_token.as_deref().unwrap_or(&tokens.access_token);
            if let Err(error) = self.revoke(grant).await {
                tracing::warn!(%error, "Google Calendar: revoking a grant without calendar access failed");
            }
            return Err(CalendarError::InsufficientScope {
                missing: SCOPE_CALENDAR_EVENTS.to_owned(),
            });
        }
        Ok(tokens)
    }

    async fn refresh(&self, refresh_token: &str) -> Result<Tokens, CalendarError> {
        self.token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
            .await
    }

    async fn revoke(&self, token: &str) -> Result<(), CalendarError> {
        let url = self.inner.config.revoke_url.clone();
        let answer = self
            .send(|| self.inner.http.post(url.clone()).form(&[("token", token)]))
            .await?;
        if answer.status.is_success() {
            return Ok(());
        }
        // Google answers `invalid_token` for a token that is already revoked or expired: the
        // grant is gone either way, which is what the caller wants.
        let error: wire::OAuthError = serde_json::from_slice(&answer.body).unwrap_or_default();
        if answer.status == StatusCode::BAD_REQUEST && error.error == "invalid_token" {
            return Ok(());
        }
        Err(oauth_error(&answer))
    }

    async fn list_changes(
        &self,
        access_token: &str,
        calendar_id: &str,
        sync_token: Option<&str>,
    ) -> Result<Changes, CalendarError> {
        let mut events = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut url = self.events_url(calendar_id, None);
            {
                let mut query = url.query_pairs_mut();
                // Cancelled events are how deletions show; with a sync token Google includes
                // them anyway (and refuses `showDeleted=false`).
                query.append_pair("showDeleted", "true");
                // Recurring events as their rules plus changed instances, not one entry per
                // occurrence until the end of time.
                query.append_pair("singleEvents", "false");
                if let Some(sync_token) = sync_token {
                    query.append_pair("syncToken", sync_token);
                }
                if let Some(page_token) = &page_token {
                    query.append_pair("pageToken", page_token);
                }
            }
            let answer = self.api(Method::GET, url, access_token, None).await?;
            if answer.status == StatusCode::GONE {
                return Err(CalendarError::SyncTokenExpired);
            }
            if !answer.status.is_success() {
                return Err(api_error(&answer));
            }
            let page: wire::EventsPage = answer.json("events page")?;
            for item in page.items {
                events.push(item.into_model()?);
            }
            match (page.next_page_token, page.next_sync_token) {
                (Some(next), _) => page_token = Some(next),
                (None, Some(next_sync_token)) => {
                    return Ok(Changes {
                        events,
                        next_sync_token,
                    })
                }
                (None, None) => {
                    return Err(CalendarError::Unavailable(
                        "Google's last events page had no nextSyncToken".into(),
                    ))
                }
            }
        }
    }

    async fn create_event(
        &self,
        access_token: &str,
        calendar_id: &str,
        event: &NewEvent,
        send_updates: SendUpdates,
    ) -> Result<ProviderEvent, CalendarError> {
        let mut url = self.events_url(calendar_id, None);
        url.query_pairs_mut()
            .append_pair("sendUpdates", send_updates.as_str());
        let body = wire::insert_body(event);
        let answer = self.api(Method::POST, url, access_token, Some(&body)).await?;
        if !answer.status.is_success() {
            return Err(api_error(&answer));
        }
        answer.json::<wire::WireEvent>("event")?.into_model()
    }

    async fn update_event(
        &self,
        access_token: &str,
        calendar_id: &str,
        event_id: &str,
        patch: &EventPatch,
        send_updates: SendUpdates,
    ) -> Result<ProviderEvent, CalendarError> {
        let mut url = self.events_url(calendar_id, Some(event_id));
        url.query_pairs_mut()
            .append_pair("sendUpdates", send_updates.as_str());
        let body = wire::patch_body(patch);
        let answer = self.api(Method::PATCH, url, access_token, Some(&body)).await?;
        if !answer.status.is_success() {
            return Err(api_error(&answer));
        }
        answer.json::<wire::WireEvent>("event")?.into_model()
    }

    async fn delete_event(
        &self,
        access_token: &str,
        calendar_id: &str,
        event_id: &str,
        send_updates: SendUpdates,
    ) -> Result<(), CalendarError> {
        let mut url = self.events_url(calendar_id, Some(event_id));
        url.query_pairs_mut()
            .append_pair("sendUpdates", send_updates.as_str());
        let answer = self.api(Method::DELETE, url, access_token, None).await?;
        if !answer.status.is_success() {
            return Err(api_error(&answer));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        google: GoogleCalendarSettings,
    }

    fn provider() -> GoogleCalendar {
        GoogleCalendar::new(GoogleConfig::new(
            "client-1.apps.googleusercontent.com",
            "shh",
            "https://app.example/cb",
        ))
        .unwrap()
    }

    #[test]
    fn settings_default_to_googles_urls_and_name_what_is_missing() {
        let cli = Cli::try_parse_from(["qubital"]).unwrap();
        let default = GoogleCalendarSettings::default();
        assert_eq!(format!("{:?}", cli.google), format!("{default:?}"));
        assert_eq!(cli.google.auth_url, DEFAULT_AUTH_URL);
        assert_eq!(cli.google.token_url, DEFAULT_TOKEN_URL);
        assert_eq!(cli.google.revoke_url, DEFAULT_REVOKE_URL);
        assert_eq!(cli.google.api_url, DEFAULT_API_URL);
        assert_eq!(cli.google.missing(), Some("GOOGLE_CLIENT_ID"));
        assert_eq!(
            GoogleConfig::from_settings(&cli.google).unwrap_err(),
            SettingsError::Missing("GOOGLE_CLIENT_ID")
        );
        let cli = Cli::try_parse_from([
            "qubital",
            "--google-client-id",
            "id",
            "--google-client-secret",
            "top-secret",
        ])
        .unwrap();
        assert_eq!(cli.google.missing(), Some("GOOGLE_OAUTH_REDIRECT_URI"));
        assert!(!format!("{:?}", cli.google).contains("top-secret"));
        let mut settings = cli.google.clone();
        settings.redirect_uri = Some("https://app.example/cb".into());
        assert_eq!(settings.missing(), None);
        settings.api_url = "www.googleapis.com/calendar/v3".into();
        assert!(matches!(
            GoogleConfig::from_settings(&settings),
            Err(SettingsError::InvalidUrl {
                setting: "GOOGLE_CALENDAR_API_URL",
                ..
            })
        ));
        settings.api_url = DEFAULT_API_URL.into();
        let config = GoogleConfig::from_settings(&settings).unwrap();
        assert!(!format!("{config:?}").contains("top-secret"));
        assert_eq!(config.client_secret, "top-secret");
    }

    #[test]
    fn the_authorization_url_asks_for_offline_access_with_pkce() {
        let url = provider().authorization_url("st ate", "challenge", "https://app.example/cb");
        assert!(url.as_str().starts_with(DEFAULT_AUTH_URL));
        let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(query["client_id"], "client-1.apps.googleusercontent.com");
        assert_eq!(query["redirect_uri"], "https://app.example/cb");
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["scope"], format!("openid email {SCOPE_CALENDAR_EVENTS}"));
        assert_eq!(query["access_type"], "offline");
        assert_eq!(query["state"], "st ate");
        assert_eq!(query["code_challenge"], "challenge");
        assert_eq!(query["code_challenge_method"], "S256");
        assert!(!url.as_str().contains("shh"));
    }

    #[test]
    fn event_urls_encode_ids_as_single_segments() {
        let google = provider();
        assert_eq!(
            google
                .events_url("en.usa#holiday@group.v.calendar.google.com", Some("a/b"))
                .as_str(),
            "https://www.googleapis.com/calendar/v3/calendars/en.usa%23holiday@group.v.calendar.google.com/events/a%2Fb"
        );
    }
}
