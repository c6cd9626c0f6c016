//! [`FakeGoogle`]: a local Google for tests (Cargo feature `fake`), a real HTTP server on
//! 127.0.0.1 that speaks the JSON of Google's documented endpoints the provider uses:
//!
//! - the OAuth 2.0 authorization server: the consent screen (as [`FakeGoogle::authorize`], or a
//!   `GET` of the authorization URL that redirects back with a code), the token endpoint
//!   (`authorization_code` with PKCE `S256` verification, `refresh_token`) and the revocation
//!   endpoint. Like Google, it binds a code to its client, redirect URI and challenge, uses a
//!   code once, answers `invalid_grant` for revoked grants and `invalid_token` to revoking a
//!   dead token, and grants a refresh token only for `access_type=offline`.
//! - the Calendar API v3 `events` collection of each account's primary calendar: `list` with
//!   `syncToken`/`pageToken` (a sync token really returns only what changed after it; `410 Gone`
//!   once invalidated), `insert`, `get`, `patch` and `delete`, behind a Bearer access token
//!   (`401` otherwise).
//!
//! A test plays the world outside the backend with it: what the user does in Google Calendar
//! ([`FakeGoogle::move_event`], [`FakeGoogle::cancel_event`], [`FakeGoogle::set_response`],
//! [`FakeGoogle::insert_event`]), what Google does on its own
//! ([`FakeGoogle::force_410_next`], [`FakeGoogle::fail_next`] for quota errors and outages,
//! [`FakeGoogle::expire_access_tokens`]) and what the user does in their Google account
//! ([`FakeGoogle::revoke_account`]).
//!
//! Simplifications, all on paths the provider does not take: only primary calendars; no
//! `singleEvents=true` (instances are not expanded), no time-range or text filters; deleted
//! events listed as `{id, status}` stubs, as Google only guarantees the id.
//!
//! ```no_run
//! # async fn demo() {
//! use platform_calendar::{fake::FakeGoogle, CalendarProvider, Pkce};
//! let google = FakeGoogle::start().await;
//! let provider = google.provider();
//! let pkce = Pkce::generate();
//! let url = provider.authorization_url("state", &pkce.challenge, provider.redirect_uri());
//! let code = google.authorize(url.as_str()).unwrap().code;
//! let tokens = provider.exchange_code(&code, &pkce.verifier, provider.redirect_uri()).await.unwrap();
//! # }
//! ```

mod calendar;
mod oauth;

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use chrono::{SecondsFormat, Utc};
use poem::{
    listener::{Acceptor, Listener, TcpListener},
    EndpointExt, Route, Server,
};
use rand::Rng;
use serde_json::{json, Map, Value};

use crate::{EventTime, GoogleCalendar, GoogleCalendarSettings, GoogleConfig, ResponseStatus, RetryPolicy};

/// The OAuth client id the fake knows.
pub const CLIENT_ID: &str = "fake-client.apps.googleusercontent.com";
/// That client's secret.
pub const CLIENT_SECRET: &str = "fake-google-client-secret";
/// The redirect URI registered for that client from the start (add others with
/// [`FakeGoogle::register_redirect_uri`]).
pub const REDIRECT_URI: &str = "http://127.0.0.1/calendar/google/callback";
/// Who is signed in at the consent screen unless a test says otherwise
/// ([`FakeGoogle::sign_in_as`]).
pub const ACCOUNT_EMAIL: &str = "ada@example.com";

/// Seconds an access token lives, as Google says in `expires_in`.
const ACCESS_TOKEN_LIFETIME: i64 = 3599;
/// Google's default (and the fake's) `maxResults`.
const DEFAULT_PAGE_SIZE: usize = 250;

/// A transient failure the next Calendar API calls answer with ([`FakeGoogle::fail_next`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// `429 Too Many Requests` (reason `rateLimitExceeded`), with `Retry-After: <seconds>` when
    /// given.
    TooManyRequests { retry_after: Option<u64> },
    /// `403 Forbidden`, reason `rateLimitExceeded` (the project's per-minute quota).
    RateLimitExceeded,
    /// `403 Forbidden`, reason `userRateLimitExceeded` (the per-user quota).
    UserRateLimitExceeded,
    /// `403 Forbidden` with another reason (`dailyLimitExceeded`, `forbiddenForNonOrganizer`…),
    /// which is not a reason to retry.
    Forbidden { reason: String },
    /// `503 Service Unavailable`, reason `backendError`.
    BackendError,
}

/// Who approves on the consent screen and what they grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consent {
    pub email: String,
    /// The scopes left ticked (Google's consent screen lets the user untick some); `None`
    /// grants every scope asked for.
    pub granted_scopes: Option<Vec<String>>,
}

impl Consent {
    pub fn all(email: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            granted_scopes: None,
        }
    }
}

/// Where the consent screen sends the browser back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub code: String,
    /// The `state` the authorization URL carried.
    pub state: Option<String>,
    /// The redirect URI with `code`, `state` and `scope` appended: the URL the browser lands on.
    pub redirect: url::Url,
}

/// A write the Calendar API accepted, with the `sendUpdates` it came with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// `insert`, `patch` or `delete`.
    pub method: &'static str,
    pub calendar_id: String,
    pub event_id: String,
    pub send_updates: Option<String>,
}

#[derive(Clone, Debug)]
struct IssuedCode {
    redirect_uri: String,
    challenge: String,
    account: String,
    scopes: Vec<String>,
    offline: bool,
}

#[derive(Clone, Debug)]
struct Grant {
    account: String,
    scopes: Vec<String>,
    revoked: bool,
}

#[derive(Clone, Debug)]
struct AccessToken {
    grant: u64,
    expired: bool,
}

#[derive(Clone, Debug)]
struct StoredEvent {
    json: Map<String, Value>,
    /// The calendar's change counter when the event last changed.
    changed: u64,
}

#[derive(Default)]
struct Calendar {
    /// Bumped by every change; a sync token remembers its value.
    seq: u64,
    events: BTreeMap<String, StoredEvent>,
}

/// A listing in progress, between pages.
#[derive(Clone, Debug)]
struct Listing {
    calendar: String,
    ids: Vec<String>,
    offset: usize,
    /// The calendar's counter when the listing began: the next sync token resumes from it.
    high_mark: u64,
    page_size: usize,
}

struct SyncToken {
    calendar: String,
    seq: u64,
    valid: bool,
}

struct State {
    counter: u64,
    redirect_uris: Vec<String>,
    signed_in: String,
    /// Google account ids (`sub`) by email.
    accounts: HashMap<String, String>,
    codes: HashMap<String, IssuedCode>,
    grants: HashMap<u64, Grant>,
    refresh_tokens: HashMap<String, u64>,
    access_tokens: HashMap<String, AccessToken>,
    calendars: HashMap<String, Calendar>,
    sync_tokens: HashMap<String, SyncToken>,
    page_tokens: HashMap<String, Listing>,
    force_410: bool,
    page_size: usize,
    failures: VecDeque<Failure>,
    calls: Vec<String>,
    writes: Vec<Write>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            counter: 0,
            redirect_uris: vec![REDIRECT_URI.to_owned()],
            signed_in: ACCOUNT_EMAIL.to_owned(),
            accounts: HashMap::new(),
            codes: HashMap::new(),
            grants: HashMap::new(),
            refresh_tokens: HashMap::new(),
            access_tokens: HashMap::new(),
            calendars: HashMap::new(),
            sync_tokens: HashMap::new(),
            page_tokens: HashMap::new(),
            force_410: false,
            page_size: DEFAULT_PAGE_SIZE,
            failures: VecDeque::new(),
            calls: Vec::new(),
            writes: Vec::new(),
        }
    }
}

impl State {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// An opaque token: a prefix, a counter (so tokens never collide) and randomness (so they
    /// cannot be guessed from one another).
    fn token(&mut self, prefix: &str) -> String {
        let n = self.next();
        let noise: u64 = rand::thread_rng().gen();
        format!("{prefix}{n:x}{noise:016x}")
    }

    fn account_id(&mut self, email: &str) -> String {
        let email = email.to_lowercase();
        if let Some(id) = self.accounts.get(&email) {
            return id.clone();
        }
        let id = format!("1{:020}", self.accounts.len() + 1);
        self.accounts.insert(email, id.clone());
        id
    }

    fn calendar(&mut self, calendar_id: &str) -> &mut Calendar {
        self.calendars.entry(calendar_id.to_lowercase()).or_default()
    }

    /// A test's edit of an existing event, stamped as a change.
    fn edit(&mut self, calendar_id: &str, event_id: &str, edit: impl FnOnce(&mut Map<String, Value>)) {
        let calendar = self.calendar(calendar_id);
        calendar.seq += 1;
        let seq = calendar.seq;
        let event = calendar
            .events
            .get_mut(event_id)
            .unwrap_or_else(|| panic!("FakeGoogle: no event {event_id:?} in calendar {calendar_id:?}"));
        edit(&mut event.json);
        event.changed = seq;
        calendar::stamp(&mut event.json, seq);
    }
}

type Shared = Arc<Mutex<State>>;

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Google's JSON for an event time, written independently of the provider's own encoder.
pub fn time_json(time: &EventTime) -> Value {
    match time {
        EventTime::Date(date) => json!({ "date": date.to_string() }),
        EventTime::DateTime { at, time_zone } => {
            let mut object = json!({ "dateTime": at.to_rfc3339() });
            if let Some(zone) = time_zone {
                object["timeZone"] = json!(zone);
            }
            object
        }
    }
}

/// A running fake Google. Dropping it stops the server.
pub struct FakeGoogle {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGoogle {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl std::fmt::Debug for FakeGoogle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGoogle")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl FakeGoogle {
    /// Starts the server on `127.0.0.1:<random port>` in a task of the current Tokio runtime.
    pub async fn start() -> Self {
        let state: Shared = Arc::new(Mutex::new(State::default()));
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("the fake Google binds 127.0.0.1");
        let addr: SocketAddr = *acceptor.local_addr()[0]
            .as_socket_addr()
            .expect("a socket address");
        let app = Route::new()
            .at("/o/oauth2/v2/auth", poem::get(oauth::consent_page))
            .at("/token", poem::post(oauth::token_endpoint))
            .at("/revoke", poem::post(oauth::revoke_endpoint))
            .at(
                "/calendar/v3/calendars/:calendar_id/events",
                poem::get(calendar::list_events).post(calendar::insert_event),
            )
            .at(
                "/calendar/v3/calendars/:calendar_id/events/:event_id",
                poem::get(calendar::get_event)
                    .patch(calendar::patch_event)
                    .delete(calendar::delete_event),
            )
            .around(log_calls)
            .data(state.clone());
        let server = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(app).await;
        });
        Self {
            url: format!("http://{addr}"),
            state,
            server,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("the fake Google's state")
    }

    pub fn auth_url(&self) -> String {
        format!("{}/o/oauth2/v2/auth", self.url)
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.url)
    }

    pub fn revoke_url(&self) -> String {
        format!("{}/revoke", self.url)
    }

    pub fn api_url(&self) -> String {
        format!("{}/calendar/v3", self.url)
    }

    /// The `--google-*` flags of an app talking to this fake (its client, [`REDIRECT_URI`]
    /// and every URL).
    pub fn args(&self) -> Vec<String> {
        [
            ("--google-client-id", CLIENT_ID.to_owned()),
            ("--google-client-secret", CLIENT_SECRET.to_owned()),
            ("--google-oauth-redirect-uri", REDIRECT_URI.to_owned()),
            ("--google-oauth-auth-url", self.auth_url()),
            ("--google-oauth-token-url", self.token_url()),
            ("--google-oauth-revoke-url", self.revoke_url()),
            ("--google-calendar-api-url", self.api_url()),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_owned(), value])
        .collect()
    }

    /// The settings [`args`](Self::args) parse to.
    pub fn settings(&self) -> GoogleCalendarSettings {
        GoogleCalendarSettings {
            client_id: Some(CLIENT_ID.into()),
            client_secret: Some(CLIENT_SECRET.into()),
            redirect_uri: Some(REDIRECT_URI.into()),
            auth_url: self.auth_url(),
            token_url: self.token_url(),
            revoke_url: self.revoke_url(),
            api_url: self.api_url(),
        }
    }

    /// A configuration for this fake, with [`RetryPolicy::fast`] so retry tests take
    /// milliseconds.
    pub fn config(&self) -> GoogleConfig {
        GoogleConfig {
            retry: RetryPolicy::fast(),
            ..GoogleConfig::from_settings(&self.settings()).expect("the fake's settings are valid")
        }
    }

    /// A provider for this fake ([`config`](Self::config)).
    pub fn provider(&self) -> GoogleCalendar {
        GoogleCalendar::new(self.config()).expect("an HTTP client")
    }

    /// Registers another redirect URI for the client (Google wants an exact match).
    pub fn register_redirect_uri(&self, uri: &str) {
        self.state().redirect_uris.push(uri.to_owned());
    }

    /// Who is signed in to Google from now on, for [`authorize`](Self::authorize) and the
    /// consent page served over HTTP.
    pub fn sign_in_as(&self, email: &str) {
        self.state().signed_in = email.to_owned();
    }

    /// The consent screen: the signed-in user approves every scope the authorization URL asks
    /// for. Checks the URL as Google would (known client, registered redirect URI,
    /// `response_type=code`, known scopes) and as this product needs (`access_type=offline`,
    /// PKCE with `S256`); the error is Google's error code for the page.
    pub fn authorize(&self, authorization_url: &str) -> Result<Authorization, String> {
        let email = self.state().signed_in.clone();
        self.authorize_with(authorization_url, &Consent::all(email))
    }

    /// [`authorize`](Self::authorize) with a given account and choice of scopes.
    pub fn authorize_with(
        &self,
        authorization_url: &str,
        consent: &Consent,
    ) -> Result<Authorization, String> {
        let url = url::Url::parse(authorization_url).map_err(|e| format!("invalid_request: {e}"))?;
        let expected = url::Url::parse(&self.auth_url()).expect("the fake's URL");
        if url.origin() != expected.origin() || url.path() != expected.path() {
            return Err(format!("invalid_request: not this fake's consent screen: {url}"));
        }
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        oauth::consent(&mut self.state(), &query, consent)
    }

    /// Expires every access token issued so far (the API answers `401` to them; a refresh
    /// gets a new one).
    pub fn expire_access_tokens(&self) {
        for token in self.state().access_tokens.values_mut() {
            token.expired = true;
        }
    }

    /// The user removes the app's access in their Google account: every grant of `email` dies
    /// (its refresh tokens answer `invalid_grant`, its access tokens `401`).
    pub fn revoke_account(&self, email: &str) {
        for grant in self.state().grants.values_mut() {
            if grant.account.eq_ignore_ascii_case(email) {
                grant.revoked = true;
            }
        }
    }

    /// Whether a refresh or access token still works.
    pub fn token_is_live(&self, token: &str) -> bool {
        let state = self.state();
        let grant = state
            .refresh_tokens
            .get(token)
            .copied()
            .or_else(|| state.access_tokens.get(token).map(|t| t.grant));
        grant
            .and_then(|g| state.grants.get(&g))
            .is_some_and(|g| !g.revoked)
    }

    /// Creates an event as if the calendar's owner did in Google Calendar; `event` is Google's
    /// JSON (`summary`, `start`, `end`, `attendees`…). Returns its id.
    pub fn insert_event(&self, calendar_id: &str, event: Value) -> String {
        let mut state = self.state();
        let Value::Object(body) = event else {
            panic!("FakeGoogle::insert_event wants a JSON object");
        };
        calendar::store_new(&mut state, calendar_id, body).expect("a valid event")
    }

    /// The event as Google stores it (cancelled ones in full).
    pub fn event(&self, calendar_id: &str, event_id: &str) -> Option<Value> {
        let mut state = self.state();
        state
            .calendar(calendar_id)
            .events
            .get(event_id)
            .map(|e| Value::Object(e.json.clone()))
    }

    /// Ids of the calendar's events, cancelled ones included.
    pub fn event_ids(&self, calendar_id: &str) -> Vec<String> {
        self.state()
            .calendar(calendar_id)
            .events
            .keys()
            .cloned()
            .collect()
    }

    /// The owner moves an event in Google Calendar.
    pub fn move_event(&self, calendar_id: &str, event_id: &str, start: &EventTime, end: &EventTime) {
        self.state().edit(calendar_id, event_id, |event| {
            event.insert("start".into(), time_json(start));
            event.insert("end".into(), time_json(end));
            let sequence = event.get("sequence").and_then(Value::as_i64).unwrap_or(0);
            event.insert("sequence".into(), json!(sequence + 1));
        });
    }

    /// The owner deletes an event in Google Calendar (it stays, cancelled, for syncs).
    pub fn cancel_event(&self, calendar_id: &str, event_id: &str) {
        self.state().edit(calendar_id, event_id, |event| {
            event.insert("status".into(), json!("cancelled"));
        });
    }

    /// An attendee answers the invitation.
    pub fn set_response(&self, calendar_id: &str, event_id: &str, email: &str, response: ResponseStatus) {
        self.state().edit(calendar_id, event_id, |event| {
            let attendee = event
                .get_mut("attendees")
                .and_then(Value::as_array_mut)
                .and_then(|list| {
                    list.iter_mut().find(|a| {
                        a.get("email")
                            .and_then(Value::as_str)
                            .is_some_and(|e| e.eq_ignore_ascii_case(email))
                    })
                })
                .unwrap_or_else(|| panic!("FakeGoogle: {email} is not invited to {event_id}"));
            attendee["responseStatus"] = json!(response.as_str());
        });
    }

    /// Any other change made in Google, on the event's JSON.
    pub fn edit_event(&self, calendar_id: &str, event_id: &str, edit: impl FnOnce(&mut Map<String, Value>)) {
        self.state().edit(calendar_id, event_id, edit);
    }

    /// The next `events.list` with a sync token answers `410 Gone` (`fullSyncRequired`), as
    /// Google does when it expires tokens; the token itself stays invalid afterwards.
    pub fn force_410_next(&self) {
        self.state().force_410 = true;
    }

    /// Every sync token issued so far answers `410 Gone` from now on.
    pub fn invalidate_sync_tokens(&self) {
        for token in self.state().sync_tokens.values_mut() {
            token.valid = false;
        }
    }

    /// At most this many events per page (Google's default is 250).
    pub fn set_page_size(&self, size: usize) {
        self.state().page_size = size.max(1);
    }

    /// The next `n` Calendar API calls answer `failure` instead of doing anything.
    pub fn fail_next(&self, n: usize, failure: Failure) {
        let mut state = self.state();
        for _ in 0..n {
            state.failures.push_back(failure.clone());
        }
    }

    /// Every request so far, as `METHOD /path?query`.
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    /// How many requests so far began with `prefix` (`"GET /calendar/v3"`).
    pub fn count_calls(&self, prefix: &str) -> usize {
        self.state()
            .calls
            .iter()
            .filter(|c| c.starts_with(prefix))
            .count()
    }

    /// Every write the Calendar API accepted, in order.
    pub fn writes(&self) -> Vec<Write> {
        self.state().writes.clone()
    }
}

async fn log_calls<E: poem::Endpoint>(next: Arc<E>, req: poem::Request) -> poem::Result<poem::Response> {
    use poem::IntoResponse;
    let call = match req.uri().query() {
        Some(query) => format!("{} {}?{query}", req.method(), req.uri().path()),
        None => format!("{} {}", req.method(), req.uri().path()),
    };
    if let Some(state) = req.data::<Shared>() {
        state.lock().expect("the fake Google's state").calls.push(call);
    }
    Ok(next.call(req).await?.into_response())
}

/// A request's query parameters, decoded.
fn query_of(req: &poem::Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}
