//! The calendar providers of the backend: one object-safe trait, [`CalendarProvider`], that the
//! calendar-sync feature drives without knowing which vendor is behind it, and its first
//! implementation, [`GoogleCalendar`] (Google Calendar API v3 with Google's OAuth 2.0).
//!
//! A provider does four things for the feature:
//! - **connect**: build the consent URL (OAuth 2.0 authorization code with offline access, so a
//!   refresh token is granted, and PKCE `S256`, see [`pkce`]), exchange the returned code for
//!   [`Tokens`], refresh them, revoke them on disconnect. A refresh the provider refuses for good
//!   is [`CalendarError::InvalidGrant`]: the user revoked access, the feature marks the
//!   connection broken and asks them to connect again.
//! - **sync**: [`list_changes`](CalendarProvider::list_changes) reads every event once (no sync
//!   token) or only what changed since a sync token, following pages, and hands back the token
//!   for next time. [`CalendarError::SyncTokenExpired`] means the provider forgot that token:
//!   the feature drops its copy and syncs in full.
//! - **write**: create, patch and delete events, choosing whom the provider notifies.
//! - **name** itself, so the feature can keep providers in a registry keyed by name
//!   (`HashMap<&'static str, Arc<dyn CalendarProvider>>`) and put the name in its paths.
//!
//! Everything crossing the trait is provider-neutral ([`event`]); vendor wire types stay private
//! to their module. Transient failures (rate limits, 5xx) are retried inside the provider with
//! exponential backoff ([`RetryPolicy`]); what reaches the caller is a [`CalendarError`] worth
//! acting on. The crate knows nothing of HTTP routes, problems or storage: the feature encrypts
//! and stores the tokens, and maps errors to its answers.
//!
//! The `fake` Cargo feature adds [`fake::FakeGoogle`], a real local HTTP server speaking Google's
//! OAuth and Calendar v3 JSON, for this crate's and other crates' tests.

use std::{collections::BTreeMap, fmt, time::Duration};

use chrono::{DateTime, Utc};

pub mod event;
#[cfg(feature = "fake")]
pub mod fake;
pub mod google;
pub mod pkce;
mod retry;

pub use event::{
    event_id_from_bytes, Attendee, EventPatch, EventStatus, EventTime, NewEvent, ProviderEvent,
    ResponseStatus, SendUpdates,
};
pub use google::{GoogleCalendar, GoogleCalendarSettings, GoogleConfig};
pub use pkce::Pkce;
pub use retry::RetryPolicy;
pub use url::Url;

/// A calendar provider: OAuth connection, incremental sync and event writes for one vendor.
///
/// Object-safe, so providers live behind `Arc<dyn CalendarProvider>`. Implementations are cheap
/// to share across tasks and hold no per-user state: every call gets the token it acts with.
#[async_trait::async_trait]
pub trait CalendarProvider: Send + Sync + fmt::Debug {
    /// The provider's stable, lower-case name (`google`): the registry key, the `{provider}` of
    /// the feature's paths, the value stored with a connection.
    fn name(&self) -> &'static str;

    /// The redirect URI this deployment registered with the provider, where the consent screen
    /// sends the user back. Callers may pass another one the provider also knows.
    fn redirect_uri(&self) -> &str;

    /// The consent-screen URL to send the user to. The provider redirects back to
    /// `redirect_uri` with `code` and the `state` given here (which the caller checks, and under
    /// which it kept the PKCE verifier whose `S256` challenge is `pkce_challenge`).
    fn authorization_url(&self, state: &str, pkce_challenge: &str, redirect_uri: &str) -> Url;

    /// Exchanges the code from the redirect for tokens. `redirect_uri` must be the one the
    /// authorization URL carried. [`CalendarError::InvalidGrant`] for a code that is unknown,
    /// used, expired or does not match the verifier; [`CalendarError::InsufficientScope`] (the
    /// grant is revoked first) when the user declined calendar access on the consent screen.
    async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &str,
        redirect_uri: &str,
    ) -> Result<Tokens, CalendarError>;

    /// A fresh access token. [`Tokens::refresh_token`] is `None` unless the provider rotated it
    /// (keep the old one then). [`CalendarError::InvalidGrant`] when the grant was revoked or
    /// expired: the connection is broken for good.
    async fn refresh(&self, refresh_token: &str) -> Result<Tokens, CalendarError>;

    /// Revokes the grant behind an access or refresh token (both die). A token the provider
    /// already considers invalid counts as revoked.
    async fn revoke(&self, token: &str) -> Result<(), CalendarError>;

    /// Every event of the calendar (`sync_token: None`, a full sync) or those changed since the
    /// sync that returned `sync_token` (cancelled ones included, as [`EventStatus::Cancelled`]),
    /// all pages read, with the token for the next call. Recurring events come as one event
    /// with its rules plus its changed instances, not expanded.
    /// [`CalendarError::SyncTokenExpired`]: sync in full again.
    async fn list_changes(
        &self,
        access_token: &str,
        calendar_id: &str,
        sync_token: Option<&str>,
    ) -> Result<Changes, CalendarError>;

    /// Creates an event and returns it as the provider stored it. Transient failures are
    /// retried, and a timed-out attempt may have been applied: give the event an
    /// [`id`](NewEvent::id) so that such a retry fails with [`CalendarError::AlreadyExists`]
    /// rather than creating it twice.
    async fn create_event(
        &self,
        access_token: &str,
        calendar_id: &str,
        event: &NewEvent,
        send_updates: SendUpdates,
    ) -> Result<ProviderEvent, CalendarError>;

    /// Changes the fields the patch sets and returns the whole event as it now is.
    async fn update_event(
        &self,
        access_token: &str,
        calendar_id: &str,
        event_id: &str,
        patch: &EventPatch,
        send_updates: SendUpdates,
    ) -> Result<ProviderEvent, CalendarError>;

    /// Deletes (cancels) an event. [`CalendarError::NotFound`] when it does not exist or was
    /// already deleted, which a caller that only wants it gone may take as success.
    async fn delete_event(
        &self,
        access_token: &str,
        calendar_id: &str,
        event_id: &str,
        send_updates: SendUpdates,
    ) -> Result<(), CalendarError>;
}

/// The account a grant belongs to, when the provider says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderAccount {
    /// The provider's stable id of the account (it survives an email change).
    pub id: String,
    pub email: Option<String>,
}

/// What a code exchange or a refresh yields.
///
/// `Debug` hides both tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: String,
    /// Present after a code exchange (offline access); after a refresh only when the provider
    /// rotated it.
    pub refresh_token: Option<String>,
    /// When the access token stops working (the provider's lifetime counted from our clock at
    /// the answer, so slightly early rather than late).
    pub expires_at: DateTime<Utc>,
    /// The scopes actually granted (a user may grant fewer than asked).
    pub scopes: Vec<String>,
    /// Who granted them, when the provider says (Google does when `openid email` are granted).
    pub account: Option<ProviderAccount>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .field("account", &self.account)
            .finish()
    }
}

impl Tokens {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// The result of a sync: the events (all of them, or the changed ones) and where to resume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changes {
    pub events: Vec<ProviderEvent>,
    /// Pass it to the next [`CalendarProvider::list_changes`] to get only what changes from
    /// now on. Opaque; store it with the connection.
    pub next_sync_token: String,
}

impl Changes {
    /// The events by id (the last report of an id wins).
    pub fn by_id(&self) -> BTreeMap<&str, &ProviderEvent> {
        self.events.iter().map(|e| (e.id.as_str(), e)).collect()
    }
}

/// Why a provider call failed, in the terms the feature acts on.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// The authorization code or the refresh token was refused for good (OAuth `invalid_grant`:
    /// revoked by the user, expired, already used, or not matching the PKCE verifier). On a
    /// refresh, the connection is broken: the user must connect again.
    #[error("the provider refused the grant (revoked, expired or invalid)")]
    InvalidGrant,
    /// The user did not grant a scope the provider needs (the grant was revoked).
    #[error("the user did not grant the scope {missing}")]
    InsufficientScope { missing: String },
    /// The access token was refused (expired or revoked): refresh, then try again.
    #[error("the provider refused the access token")]
    Unauthorized,
    /// The sync token is no longer valid: drop the local copy and sync in full.
    #[error("the sync token expired: a full sync is required")]
    SyncTokenExpired,
    /// No such calendar or event (or the event was already deleted).
    #[error("not found at the provider")]
    NotFound,
    /// An event with the caller-chosen id exists already.
    #[error("the event id is taken")]
    AlreadyExists,
    /// The provider's quota kept refusing the call after every retry allowed, or asked to wait
    /// longer than [`RetryPolicy::max_delay`] (that wait is in `retry_after`).
    #[error("rate-limited by the provider")]
    RateLimited { retry_after: Option<Duration> },
    /// The provider refused the request (any other 4xx): a bug or a permission the user lacks
    /// (only the organizer may change some fields, for instance). `reason` is the provider's
    /// machine-readable reason, `message` its text: for logs, never for end users.
    #[error("the provider refused the request ({status} {reason}): {message}")]
    Rejected {
        status: u16,
        reason: String,
        message: String,
    },
    /// The provider could not be reached, kept failing (5xx) after every retry allowed, or
    /// answered something unreadable.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
}

impl CalendarError {
    /// Whether the caller should refresh its access token and try again.
    pub fn needs_refresh(&self) -> bool {
        matches!(self, CalendarError::Unauthorized)
    }

    /// Whether the connection is dead and only a new consent repairs it.
    pub fn is_broken_connection(&self) -> bool {
        matches!(self, CalendarError::InvalidGrant)
    }
}

/// Why a provider could not be built from its settings.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    /// A required setting is unset or blank; it names the environment variable.
    #[error("{0} is not set")]
    Missing(&'static str),
    /// A URL setting is not an absolute http(s) URL; it names the environment variable.
    #[error("{setting} is not an absolute http(s) URL: {reason}")]
    InvalidUrl { setting: &'static str, reason: String },
    /// The HTTP client could not be built (TLS backend).
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}
