//! The LiveKit client of the backend, built on the official `livekit-api` crate.
//!
//! It mints participant access tokens, drives egress (recordings, [`egress`]) and verifies and
//! decodes webhook deliveries ([`webhook`]), all from one [`LiveKit`] value that holds the
//! credentials and derives the server-API base URL from the client URL.
//!
//! It knows nothing of HTTP routes or problems: callers map [`LiveKitError`] to their answers.
//! A [`LiveKit`] may be *disabled* (development without credentials): every call then returns
//! [`LiveKitError::Disabled`].

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::bail;
use livekit_api::{
    access_token::{AccessToken, AccessTokenError, Claims, VideoGrants},
    services::{ServerError, ServiceError},
};

/// Re-exported so callers (and tests) name the exact `livekit-api` types this client uses.
pub use livekit_api;
pub use livekit_protocol;

pub mod egress;
#[cfg(feature = "fake")]
pub mod fake;
pub mod room;
pub mod webhook;

/// How long one call to LiveKit's server API may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// LiveKit settings, registered by the feature that owns the conference (so they appear in
/// `qubital --help`). Other features reach the client through the app context. `Debug` never
/// shows the API secret.
#[derive(clap::Args, Clone, Default)]
#[command(next_help_heading = "LiveKit")]
pub struct LiveKitSettings {
    /// URL clients connect to (`wss://…`; `ws://` for a local server). Required in production;
    /// unset in development disables the conference (its operations answer 503).
    #[arg(id = "livekit_url", long = "livekit-url", env = "LIVEKIT_URL")]
    pub url: Option<String>,

    /// LiveKit API key (the `iss` of every token). Required with the URL.
    #[arg(id = "livekit_api_key", long = "livekit-api-key", env = "LIVEKIT_API_KEY")]
    pub api_key: Option<String>,

    /// LiveKit API secret (signs every token). Required with the URL.
    #[arg(
        id = "livekit_api_secret",
        long = "livekit-api-secret",
        env = "LIVEKIT_API_SECRET",
        hide_env_values = true
    )]
    pub api_secret: Option<String>,
}

impl std::fmt::Debug for LiveKitSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveKitSettings")
            .field("url", &self.url)
            .field("api_key", &self.api_key)
            .field("api_secret", &self.api_secret.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl LiveKitSettings {
    /// The setting that is missing for LiveKit to be usable, if any.
    pub fn missing(&self) -> Option<&'static str> {
        let unset = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        if unset(&self.url) {
            Some("LIVEKIT_URL")
        } else if unset(&self.api_key) {
            Some("LIVEKIT_API_KEY")
        } else if unset(&self.api_secret) {
            Some("LIVEKIT_API_SECRET")
        } else {
            None
        }
    }
}

/// Why a LiveKit call failed.
#[derive(Debug, thiserror::Error)]
pub enum LiveKitError {
    /// LiveKit is not configured in this (development) deployment.
    #[error("LiveKit is not configured")]
    Disabled,
    /// The token could not be built (invalid claims or keys).
    #[error("cannot build a LiveKit token: {0}")]
    Token(#[from] AccessTokenError),
}

/// Why a call to LiveKit's server API (egress, room service) failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerApiError {
    /// LiveKit is not configured in this (development) deployment.
    #[error("LiveKit is not configured")]
    Disabled,
    /// LiveKit does not know the egress or room.
    #[error("not found at LiveKit")]
    NotFound,
    /// LiveKit refused the request (a 4xx Twirp error: bad argument, failed precondition…).
    #[error("LiveKit refused the request: {0}")]
    Refused(String),
    /// LiveKit could not be reached or failed (network, 5xx, undecodable answer, token).
    #[error("LiveKit is unavailable: {0}")]
    Unavailable(String),
}

impl From<LiveKitError> for ServerApiError {
    fn from(error: LiveKitError) -> Self {
        match error {
            LiveKitError::Disabled => ServerApiError::Disabled,
            other => ServerApiError::Unavailable(other.to_string()),
        }
    }
}

impl From<ServiceError> for ServerApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Twirp(ServerError::Twirp(code)) => match code.code.as_str() {
                "not_found" => ServerApiError::NotFound,
                "invalid_argument"
                | "malformed"
                | "failed_precondition"
                | "already_exists"
                | "out_of_range"
                | "resource_exhausted"
                | "permission_denied" => ServerApiError::Refused(code.to_string()),
                _ => ServerApiError::Unavailable(code.to_string()),
            },
            other => ServerApiError::Unavailable(other.to_string()),
        }
    }
}

/// A media source a participant may publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackSource {
    Camera,
    Microphone,
    ScreenShare,
    ScreenShareAudio,
}

impl TrackSource {
    /// LiveKit's name of the source in `canPublishSources`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrackSource::Camera => "camera",
            TrackSource::Microphone => "microphone",
            TrackSource::ScreenShare => "screen_share",
            TrackSource::ScreenShareAudio => "screen_share_audio",
        }
    }
}

/// What a participant may do in the one room its token is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParticipantGrants {
    pub can_subscribe: bool,
    /// `None`: every source; `Some(list)`: only these (empty: publish nothing).
    pub can_publish_sources: Option<Vec<TrackSource>>,
    pub can_publish_data: bool,
    /// Mute or remove other participants, update the room.
    pub room_admin: bool,
    /// Whether the participant may rewrite its own name/metadata (which carries its role, so
    /// normally not).
    pub can_update_own_metadata: bool,
}

/// A participant token request: who joins which room, with what grants, for how long.
#[derive(Clone, Debug)]
pub struct ParticipantToken<'a> {
    pub room: &'a str,
    pub identity: &'a str,
    pub name: &'a str,
    /// Opaque to LiveKit; shown to the other participants.
    pub metadata: &'a str,
    pub grants: ParticipantGrants,
    pub ttl: Duration,
}

/// A minted token and the instant it stops being accepted.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    pub jwt: String,
    /// Unix seconds (the token's `exp`).
    pub expires_at: u64,
}

#[derive(Debug)]
struct Credentials {
    url: String,
    api_url: String,
    api_key: String,
    api_secret: String,
}

/// The LiveKit client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LiveKit {
    credentials: Option<Arc<Credentials>>,
}

impl LiveKit {
    /// A client for the configured server. Fails on a malformed URL or missing credentials.
    pub fn from_settings(settings: &LiveKitSettings) -> anyhow::Result<Self> {
        if let Some(variable) = settings.missing() {
            bail!("{variable} is not set");
        }
        let url = settings
            .url
            .as_deref()
            .unwrap_or_default()
            .trim()
            .trim_end_matches('/');
        let api_url = api_url(url)?;
        install_jwt_crypto_provider();
        Ok(Self {
            credentials: Some(Arc::new(Credentials {
                url: url.to_owned(),
                api_url,
                api_key: settings.api_key.clone().unwrap_or_default().trim().to_owned(),
                api_secret: settings.api_secret.clone().unwrap_or_default().trim().to_owned(),
            })),
        })
    }

    /// A client whose every call answers [`LiveKitError::Disabled`].
    pub fn disabled() -> Self {
        Self { credentials: None }
    }

    pub fn is_enabled(&self) -> bool {
        self.credentials.is_some()
    }

    /// The URL clients connect to.
    pub fn url(&self) -> Result<&str, LiveKitError> {
        Ok(&self.credentials()?.url)
    }

    /// The base URL of the server APIs (Twirp): the client URL with `ws` → `http`.
    pub fn api_url(&self) -> Result<&str, LiveKitError> {
        Ok(&self.credentials()?.api_url)
    }

    fn credentials(&self) -> Result<&Credentials, LiveKitError> {
        self.credentials.as_deref().ok_or(LiveKitError::Disabled)
    }

    /// Mints a participant token for one room.
    pub fn participant_token(&self, request: &ParticipantToken<'_>) -> Result<IssuedToken, LiveKitError> {
        let credentials = self.credentials()?;
        let grants = &request.grants;
        let video = VideoGrants {
            room_join: true,
            room: request.room.to_owned(),
            room_admin: grants.room_admin,
            can_subscribe: Some(grants.can_subscribe),
            can_publish: Some(grants.can_publish_sources.as_ref().is_none_or(|s| !s.is_empty())),
            can_publish_sources: grants
                .can_publish_sources
                .iter()
                .flatten()
                .map(|s| s.as_str().to_owned())
                .collect(),
            can_publish_data: Some(grants.can_publish_data),
            can_update_own_metadata: Some(grants.can_update_own_metadata),
            ..VideoGrants::default()
        };
        let jwt = AccessToken::with_api_key(&credentials.api_key, &credentials.api_secret)
            .with_identity(request.identity)
            .with_name(request.name)
            .with_metadata(request.metadata)
            .with_grants(video)
            .with_ttl(request.ttl)
            .to_jwt()?;
        // The expiry the token really carries (the builder reads the clock itself).
        let expires_at = Claims::from_unverified(&jwt)
            .map(|claims| claims.exp as u64)
            .unwrap_or_else(|_| unix_now() + request.ttl.as_secs());
        Ok(IssuedToken { jwt, expires_at })
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The server-API base URL for a client URL.
fn api_url(url: &str) -> anyhow::Result<String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow::anyhow!("LIVEKIT_URL must be an absolute ws(s):// or http(s):// URL"))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "wss" | "https" => "https",
        "ws" | "http" => "http",
        _ => bail!("LIVEKIT_URL must use ws, wss, http or https"),
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || rest.contains(char::is_whitespace) {
        bail!("LIVEKIT_URL has no host");
    }
    Ok(format!("{scheme}://{rest}"))
}

/// `livekit-api` signs with `jsonwebtoken`, whose crypto backend is chosen once per process:
/// the first caller wins. Left alone, `livekit-api` installs an HMAC-only backend, which would
/// break every RS256/ES256 token of the process. Installing the workspace's full backend first
/// keeps both working; calling this more than once is harmless.
pub fn install_jwt_crypto_provider() {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

#[cfg(test)]
mod tests {
    use livekit_api::access_token::TokenVerifier;

    use super::*;

    fn settings(url: &str) -> LiveKitSettings {
        LiveKitSettings {
            url: Some(url.into()),
            api_key: Some("APIkey123".into()),
            api_secret: Some("a-secret-that-is-long-enough-for-hs256".into()),
        }
    }

    fn grants() -> ParticipantGrants {
        ParticipantGrants {
            can_subscribe: true,
            can_publish_sources: Some(vec![TrackSource::Camera, TrackSource::Microphone]),
            can_publish_data: true,
            room_admin: false,
            can_update_own_metadata: false,
        }
    }

    #[test]
    fn tokens_verify_with_livekits_own_verifier_and_carry_the_request() {
        let client = LiveKit::from_settings(&settings("wss://conference.example.com/")).unwrap();
        assert_eq!(client.url().unwrap(), "wss://conference.example.com");
        assert_eq!(client.api_url().unwrap(), "https://conference.example.com");
        let token = client
            .participant_token(&ParticipantToken {
                room: "room-1",
                identity: "42",
                name: "Ada",
                metadata: r#"{"role":"guest"}"#,
                grants: grants(),
                ttl: Duration::from_secs(600),
            })
            .unwrap();
        let claims = TokenVerifier::with_api_key("APIkey123", "a-secret-that-is-long-enough-for-hs256")
            .verify(&token.jwt)
            .unwrap();
        assert_eq!(claims.iss, "APIkey123");
        assert_eq!(claims.sub, "42");
        assert_eq!(claims.name, "Ada");
        assert_eq!(claims.metadata, r#"{"role":"guest"}"#);
        assert_eq!(claims.exp as u64, token.expires_at);
        let now = unix_now();
        assert!((now + 598..=now + 601).contains(&token.expires_at));
        assert!(claims.video.room_join && !claims.video.room_admin);
        assert_eq!(claims.video.room, "room-1");
        assert_eq!(claims.video.can_publish_sources, ["camera", "microphone"]);
        assert_eq!(claims.video.can_update_own_metadata, Some(false));
        // Another secret does not verify it.
        assert!(
            TokenVerifier::with_api_key("APIkey123", "another-secret-another-secret-xx")
                .verify(&token.jwt)
                .is_err()
        );
    }

    #[test]
    fn an_empty_source_list_means_no_publishing() {
        let client = LiveKit::from_settings(&settings("ws://127.0.0.1:7880")).unwrap();
        assert_eq!(client.api_url().unwrap(), "http://127.0.0.1:7880");
        let mut grants = grants();
        grants.can_publish_sources = Some(vec![]);
        let token = client
            .participant_token(&ParticipantToken {
                room: "r",
                identity: "1",
                name: "n",
                metadata: "",
                grants,
                ttl: Duration::from_secs(60),
            })
            .unwrap();
        let claims = Claims::from_unverified(&token.jwt).unwrap();
        assert_eq!(claims.video.can_publish, Some(false));
    }

    #[test]
    fn disabled_and_misconfigured_clients_say_so() {
        let disabled = LiveKit::disabled();
        assert!(!disabled.is_enabled());
        assert!(matches!(disabled.url(), Err(LiveKitError::Disabled)));
        assert_eq!(LiveKitSettings::default().missing(), Some("LIVEKIT_URL"));
        let mut partial = settings("wss://x.example");
        partial.api_secret = Some(" ".into());
        assert_eq!(partial.missing(), Some("LIVEKIT_API_SECRET"));
        for bad in ["conference.example.com", "ftp://x.example", "wss://", "wss://a b"] {
            assert!(LiveKit::from_settings(&settings(bad)).is_err(), "{bad}");
        }
    }
}
