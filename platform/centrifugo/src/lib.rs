//! The Centrifugo client of the backend: Centrifugo's (v5/v6) server HTTP API, limited to what
//! chat and presence fan-out need — [`Centrifugo::publish`], ordered batches of publications
//! ([`Centrifugo::publish_batch`]) and [`Centrifugo::info`] for a health probe — plus the JSON
//! of the subscribe proxy ([`subscribe_proxy`]), so a feature can answer Centrifugo without
//! knowing its wire format.
//!
//! Connection and subscription tokens are not here: `qubital-realtime` signs them (HS256 with
//! `CENTRIFUGO_TOKEN_SECRET`) and owns those settings.
//!
//! Every call is `POST <CENTRIFUGO_API_URL>/api/<method>` with the key in `X-API-Key` and a
//! JSON body. Centrifugo reports a failure in one of two ways, and [`CentrifugoError`] keeps
//! them apart because a caller reacts differently to each:
//! - at the HTTP level: `401` for a wrong key (a configuration error: retrying cannot help),
//!   `5xx` from Centrifugo or a proxy in front of it (retry later);
//! - inside a `200` answer, as `{"error": {"code": N, "message": "…"}}` — for a whole call, or
//!   for each command of a batch separately. See [`ApiError::is_temporary`] for which codes are
//!   worth retrying.
//!
//! It knows nothing of HTTP routes or problems: callers map [`CentrifugoError`] to their answers.
//! A [`Centrifugo`] may be *disabled* (development without Centrifugo): every call then returns
//! [`CentrifugoError::Disabled`].
//!
//! The `fake` Cargo feature adds [`fake::FakeCentrifugo`], a local server speaking the same
//! API, for other crates' tests.

#[cfg(feature = "fake")]
pub mod fake;
pub mod subscribe_proxy;

use std::{fmt, sync::Arc, time::Duration};

use anyhow::{bail, Context};
use reqwest::header::{HeaderMap, HeaderValue};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use url::Url;

/// Seconds a server-API request may take unless `CENTRIFUGO_TIMEOUT_SECS` says otherwise. Short:
/// a publication is fan-out after the fact (the message is already stored), so a slow
/// Centrifugo must not hold a request or a relay for long.
pub const DEFAULT_TIMEOUT_SECS: u64 = 5;

/// The header Centrifugo reads the server API key from.
pub const API_KEY_HEADER: &str = "X-API-Key";

/// How much of an unexpected answer body is kept in an error (for the logs).
const MAX_ERROR_BODY: usize = 512;

/// Centrifugo server-API settings. Registered by the feature that publishes (chat, presence),
/// not here, so they appear in `qubital --help` only in binaries that use them.
///
/// `Debug` shows everything but the API key.
#[derive(clap::Args, Clone)]
#[command(next_help_heading = "Centrifugo")]
pub struct CentrifugoSettings {
    /// Base URL of Centrifugo's server HTTP API, without `/api` (`http://centrifugo:8000`): the
    /// client posts to `<url>/api/<method>`. Required in production; unset in development
    /// disables fan-out.
    #[arg(
        id = "centrifugo_api_url",
        long = "centrifugo-api-url",
        env = "CENTRIFUGO_API_URL"
    )]
    pub api_url: Option<String>,

    /// Centrifugo's server API key (its `http_api.key`), sent as `X-API-Key`. Required with the
    /// URL.
    #[arg(
        id = "centrifugo_api_key",
        long = "centrifugo-api-key",
        env = "CENTRIFUGO_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,

    /// Seconds one server-API request may take, connecting included, before it fails as a
    /// (retryable) timeout.
    #[arg(
        id = "centrifugo_timeout_secs",
        long = "centrifugo-timeout-secs",
        env = "CENTRIFUGO_TIMEOUT_SECS",
        default_value_t = DEFAULT_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(1..=300)
    )]
    pub timeout_secs: u64,
}

impl Default for CentrifugoSettings {
    fn default() -> Self {
        Self {
            api_url: None,
            api_key: None,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
        }
    }
}

impl fmt::Debug for CentrifugoSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CentrifugoSettings")
            .field("api_url", &self.api_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

impl CentrifugoSettings {
    /// The setting that is missing for Centrifugo to be usable, if any.
    ///
    /// The key is required even though Centrifugo can run its API without one
    /// (`http_api.insecure`): the backend never talks to an unprotected API.
    pub fn missing(&self) -> Option<&'static str> {
        let unset = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        if unset(&self.api_url) {
            Some("CENTRIFUGO_API_URL")
        } else if unset(&self.api_key) {
            Some("CENTRIFUGO_API_KEY")
        } else {
            None
        }
    }
}

/// An error Centrifugo reported in an answer body: `{"code": N, "message": "…"}`.
///
/// The codes are Centrifugo's documented server-API error codes (the associated constants).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, thiserror::Error)]
#[error("Centrifugo error {code}: {message}")]
pub struct ApiError {
    pub code: u32,
    #[serde(default)]
    pub message: String,
}

impl ApiError {
    /// Something went wrong inside Centrifugo (for instance its engine, Redis, failed).
    pub const INTERNAL: u32 = 100;
    pub const UNAUTHORIZED: u32 = 101;
    /// The channel's namespace is not in Centrifugo's configuration.
    pub const UNKNOWN_CHANNEL: u32 = 102;
    pub const PERMISSION_DENIED: u32 = 103;
    pub const METHOD_NOT_FOUND: u32 = 104;
    pub const LIMIT_EXCEEDED: u32 = 106;
    /// The request is malformed (e.g. no channel or no data).
    pub const BAD_REQUEST: u32 = 107;
    /// The feature is not enabled for the channel (history, presence…).
    pub const NOT_AVAILABLE: u32 = 108;
    /// Rate limited.
    pub const TOO_MANY_REQUESTS: u32 = 111;

    /// Whether the same request may succeed later. Centrifugo marks exactly two of its error
    /// codes temporary: `100` internal and `111` too many requests. Every other code is about
    /// the request or the configuration (unknown namespace, bad request, feature not enabled),
    /// so sending the same request again gives the same answer.
    pub fn is_temporary(&self) -> bool {
        matches!(self.code, Self::INTERNAL | Self::TOO_MANY_REQUESTS)
    }
}

/// Why a call to Centrifugo's server API failed.
#[derive(Debug, thiserror::Error)]
pub enum CentrifugoError {
    /// Centrifugo is not configured in this (development) deployment.
    #[error("Centrifugo is not configured")]
    Disabled,
    /// No answer could be had: connection refused or reset, DNS, TLS. Retryable.
    #[error("Centrifugo is unreachable: {0}")]
    Unreachable(String),
    /// No complete answer within the configured timeout. Retryable, but the request may have
    /// been applied: retry a publication with the same idempotency key.
    #[error("Centrifugo did not answer within {0:?}")]
    Timeout(Duration),
    /// Centrifugo (`401`) or a proxy in front of it (`403`) refused the API key: a
    /// configuration error that retrying cannot fix.
    #[error("Centrifugo refused the API key (HTTP {status})")]
    Unauthorized { status: u16 },
    /// An HTTP status other than success that carries no Centrifugo error: `5xx` (Centrifugo
    /// or its proxy is failing, retryable), `404` (a wrong `CENTRIFUGO_API_URL`), `400`…
    #[error("Centrifugo answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    /// Centrifugo processed the call and refused it, or failed, with one of its error codes.
    #[error(transparent)]
    Api(ApiError),
    /// A success status with a body that is not what Centrifugo sends (something else answers
    /// at the URL).
    #[error("unexpected answer from Centrifugo: {0}")]
    InvalidResponse(String),
}

impl CentrifugoError {
    /// Whether the same call may succeed later: unreachable, timed out, a `5xx`, `408` or `429`
    /// status, or a temporary Centrifugo error ([`ApiError::is_temporary`]).
    pub fn is_retryable(&self) -> bool {
        match self {
            CentrifugoError::Unreachable(_) | CentrifugoError::Timeout(_) => true,
            CentrifugoError::Status { status, .. } => *status >= 500 || matches!(status, 408 | 429),
            CentrifugoError::Api(error) => error.is_temporary(),
            CentrifugoError::Disabled
            | CentrifugoError::Unauthorized { .. }
            | CentrifugoError::InvalidResponse(_) => false,
        }
    }

    /// The Centrifugo error code, when Centrifugo reported one.
    pub fn code(&self) -> Option<u32> {
        match self {
            CentrifugoError::Api(error) => Some(error.code),
            _ => None,
        }
    }
}

impl From<ApiError> for CentrifugoError {
    fn from(error: ApiError) -> Self {
        CentrifugoError::Api(error)
    }
}

/// One publication: data for the subscribers of a channel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Publication {
    pub channel: String,
    /// Any JSON; delivered to subscribers as is.
    pub data: serde_json::Value,
    /// Makes retries safe: Centrifugo drops a publication whose key it has already seen on the
    /// same channel (for 5 minutes; memory and Redis engines) and answers with the first
    /// publication's result. Use a stable id of what is published (a message id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Deliver without adding to the channel's history (ephemeral events such as typing).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skip_history: bool,
}

impl Publication {
    pub fn new(channel: impl Into<String>, data: serde_json::Value) -> Self {
        Self {
            channel: channel.into(),
            data,
            idempotency_key: None,
            skip_history: false,
        }
    }

    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    pub fn skipping_history(mut self) -> Self {
        self.skip_history = true;
        self
    }
}

/// Where a publication landed in the channel's history stream. Both are `None` for a channel
/// without history (and for a publication that skipped it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct PublishResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
}

impl PublishResult {
    /// Centrifugo's JSON leaves out zero values or sends them empty: both mean "no position".
    fn normalized(self) -> Self {
        Self {
            offset: self.offset.filter(|o| *o > 0),
            epoch: self.epoch.filter(|e| !e.is_empty()),
        }
    }
}

/// What `info` says about the cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Info {
    #[serde(default)]
    pub nodes: Vec<NodeInfo>,
}

/// One running Centrifugo node. Zero counts are left out of Centrifugo's JSON, hence the
/// defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct NodeInfo {
    #[serde(default)]
    pub uid: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub num_clients: u64,
    #[serde(default)]
    pub num_users: u64,
    #[serde(default)]
    pub num_channels: u64,
    #[serde(default)]
    pub num_subs: u64,
    /// Seconds since the node started.
    #[serde(default)]
    pub uptime: u64,
}

struct Inner {
    http: reqwest::Client,
    /// `<CENTRIFUGO_API_URL>/api`, no trailing slash.
    api_base: String,
    timeout: Duration,
}

/// The Centrifugo server-API client. Cheap to clone (one connection pool for all clones).
///
/// `Debug` shows the URL, never the key.
#[derive(Clone)]
pub struct Centrifugo {
    inner: Option<Arc<Inner>>,
}

impl fmt::Debug for Centrifugo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            None => f.write_str("Centrifugo(disabled)"),
            Some(inner) => f
                .debug_struct("Centrifugo")
                .field("api_base", &inner.api_base)
                .field("timeout", &inner.timeout)
                .finish_non_exhaustive(),
        }
    }
}

impl Centrifugo {
    /// A client for the configured server. Fails naming the variable when one is missing, or on
    /// a malformed URL or key.
    pub fn from_settings(settings: &CentrifugoSettings) -> anyhow::Result<Self> {
        if let Some(variable) = settings.missing() {
            bail!("{variable} is not set");
        }
        Self::new(
            settings.api_url.as_deref().unwrap_or_default(),
            settings.api_key.as_deref().unwrap_or_default(),
            Duration::from_secs(settings.timeout_secs),
        )
    }

    /// A client for the server API at `api_url` (the server's base URL, without `/api`).
    pub fn new(api_url: &str, api_key: &str, timeout: Duration) -> anyhow::Result<Self> {
        let base = parse_api_url(api_url.trim())?;
        let api_key = api_key.trim();
        if api_key.is_empty() {
            bail!("CENTRIFUGO_API_KEY is empty");
        }
        if timeout.is_zero() {
            bail!("the Centrifugo timeout must be positive");
        }
        let mut key =
            HeaderValue::from_str(api_key).context("CENTRIFUGO_API_KEY cannot be sent in an HTTP header")?;
        // Kept out of reqwest's and hyper's debug output.
        key.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(API_KEY_HEADER, key);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("qubital-platform-centrifugo/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout)
            // reqwest strips only the standard credential headers on a cross-origin redirect,
            // not `X-API-Key`: following one could hand the key to another host. Centrifugo
            // never redirects its API, so a redirect is answered as an unexpected status.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot build the Centrifugo HTTP client")?;
        Ok(Self {
            inner: Some(Arc::new(Inner {
                http,
                api_base: format!("{}/api", base.as_str().trim_end_matches('/')),
                timeout,
            })),
        })
    }

    /// A client whose every call answers [`CentrifugoError::Disabled`].
    pub fn disabled() -> Self {
        Self { inner: None }
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Publishes `data` into `channel`. With an `idempotency_key`, a retry of a publication
    /// that Centrifugo already accepted is dropped by Centrifugo and answers the first result.
    pub async fn publish(
        &self,
        channel: &str,
        data: serde_json::Value,
        idempotency_key: Option<&str>,
    ) -> Result<PublishResult, CentrifugoError> {
        let mut publication = Publication::new(channel, data);
        publication.idempotency_key = idempotency_key.map(str::to_owned);
        self.publish_publication(&publication).await
    }

    /// [`publish`](Self::publish) with every option of a [`Publication`].
    pub async fn publish_publication(
        &self,
        publication: &Publication,
    ) -> Result<PublishResult, CentrifugoError> {
        let body = self.call("publish", publication).await?;
        let result: PublishResult = envelope(&body)?;
        Ok(result.normalized())
    }

    /// Publishes `publications` in one request, in order (Centrifugo's sequential batch mode,
    /// so a later publication into a channel lands after an earlier one).
    ///
    /// The outer error is for the whole request (unreachable, wrong key…: nothing is known to
    /// be published). Otherwise there is one result per publication, at the same index:
    /// Centrifugo processes each command on its own, so some may fail while others succeed —
    /// a relay retries only the failed ones ([`ApiError::is_temporary`]).
    pub async fn publish_batch(
        &self,
        publications: &[Publication],
    ) -> Result<Vec<Result<PublishResult, ApiError>>, CentrifugoError> {
        #[derive(Serialize)]
        struct Command<'a> {
            publish: &'a Publication,
        }
        #[derive(Serialize)]
        struct BatchRequest<'a> {
            commands: Vec<Command<'a>>,
            parallel: bool,
        }
        #[derive(Deserialize)]
        struct BatchResponse {
            #[serde(default)]
            error: Option<ApiError>,
            replies: Option<Vec<Reply>>,
        }
        #[derive(Deserialize)]
        struct Reply {
            #[serde(default)]
            error: Option<ApiError>,
            #[serde(default)]
            publish: Option<PublishResult>,
        }

        self.inner()?;
        if publications.is_empty() {
            return Ok(Vec::new());
        }
        let request = BatchRequest {
            commands: publications.iter().map(|publish| Command { publish }).collect(),
            parallel: false,
        };
        let body = self.call("batch", &request).await?;
        let response: BatchResponse = serde_json::from_slice(&body)
            .map_err(|e| CentrifugoError::InvalidResponse(format!("batch: {e}: {}", excerpt(&body))))?;
        if let Some(error) = response.error.filter(|e| e.code != 0) {
            return Err(error.into());
        }
        let replies = response.replies.unwrap_or_default();
        if replies.len() != publications.len() {
            return Err(CentrifugoError::InvalidResponse(format!(
                "batch: {} replies for {} commands",
                replies.len(),
                publications.len()
            )));
        }
        Ok(replies
            .into_iter()
            .map(|reply| match reply.error.filter(|e| e.code != 0) {
                Some(error) => Err(error),
                None => Ok(reply.publish.unwrap_or_default().normalized()),
            })
            .collect())
    }

    /// The nodes of the cluster: a cheap call that needs a working API key, so a health probe.
    pub async fn info(&self) -> Result<Info, CentrifugoError> {
        let body = self.call("info", &serde_json::json!({})).await?;
        envelope(&body)
    }

    fn inner(&self) -> Result<&Inner, CentrifugoError> {
        self.inner.as_deref().ok_or(CentrifugoError::Disabled)
    }

    /// POSTs `body` to `/api/<method>` and returns the body of a successful (2xx) answer.
    async fn call(&self, method: &str, body: &impl Serialize) -> Result<Vec<u8>, CentrifugoError> {
        let inner = self.inner()?;
        let response = inner
            .http
            .post(format!("{}/{method}", inner.api_base))
            .json(body)
            .send()
            .await
            .map_err(|e| transport_error(e, inner.timeout))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(e, inner.timeout))?;
        if status.is_success() {
            Ok(bytes.to_vec())
        } else {
            Err(status_error(status.as_u16(), &bytes))
        }
    }
}

/// The `result` of a `{"result": …}` / `{"error": …}` answer.
fn envelope<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, CentrifugoError> {
    #[derive(Deserialize)]
    struct Envelope<T> {
        #[serde(default)]
        error: Option<ApiError>,
        result: Option<T>,
    }
    let envelope: Envelope<T> = serde_json::from_slice(body)
        .map_err(|e| CentrifugoError::InvalidResponse(format!("{e}: {}", excerpt(body))))?;
    match envelope.error.filter(|e| e.code != 0) {
        Some(error) => Err(error.into()),
        None => Ok(envelope.result.unwrap_or_default()),
    }
}

/// The error for a non-2xx answer.
///
/// Centrifugo answers its errors inside a `200` by default, but its `transport` error mode
/// (`http_api.error_mode`, a server-wide option) turns them into HTTP statuses with the error
/// as the body, `{"code": 102, "message": "unknown channel"}`: such a body is read as the
/// [`ApiError`] it is, whatever the status, so both modes give the same errors.
fn status_error(status: u16, body: &[u8]) -> CentrifugoError {
    if matches!(status, 401 | 403) {
        return CentrifugoError::Unauthorized { status };
    }
    match serde_json::from_slice::<ApiError>(body) {
        Ok(error) if error.code != 0 => CentrifugoError::Api(error),
        _ => CentrifugoError::Status {
            status,
            body: excerpt(body),
        },
    }
}

fn transport_error(error: reqwest::Error, timeout: Duration) -> CentrifugoError {
    if error.is_timeout() {
        return CentrifugoError::Timeout(timeout);
    }
    // reqwest's own message is only "error sending request for url (…)": the cause is in the
    // source chain (connection refused, reset, DNS…).
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    CentrifugoError::Unreachable(message)
}

/// The start of a body, as text, for an error message.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(MAX_ERROR_BODY) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The server's base URL: absolute `http(s)` with a host, optionally a path prefix (Centrifugo
/// behind a reverse proxy). Credentials, a query or a fragment are refused rather than
/// silently dropped: they are configuration mistakes.
fn parse_api_url(api_url: &str) -> anyhow::Result<Url> {
    let url = Url::parse(api_url).with_context(|| format!("CENTRIFUGO_API_URL {api_url:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("CENTRIFUGO_API_URL must use http or https");
    }
    if url.host_str().is_none_or(str::is_empty) {
        bail!("CENTRIFUGO_API_URL has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        bail!("CENTRIFUGO_API_URL must not carry credentials (the key goes in CENTRIFUGO_API_KEY)");
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("CENTRIFUGO_API_URL must not have a query or a fragment");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn publications_serialize_to_centrifugos_publish_request() {
        let plain = Publication::new("chat:1", json!({"text": "hi"}));
        assert_eq!(
            serde_json::to_value(&plain).unwrap(),
            json!({"channel": "chat:1", "data": {"text": "hi"}})
        );
        let full = plain.with_idempotency_key("m-1").skipping_history();
        assert_eq!(
            serde_json::to_value(&full).unwrap(),
            json!({"channel": "chat:1", "data": {"text": "hi"}, "idempotency_key": "m-1", "skip_history": true})
        );
    }

    #[test]
    fn envelopes_give_the_result_or_the_error() {
        let result: PublishResult = envelope(br#"{"result": {"offset": 3, "epoch": "xY"}}"#).unwrap();
        assert_eq!(result.offset, Some(3));
        assert_eq!(result.epoch.as_deref(), Some("xY"));
        // No history: an empty result.
        let empty: PublishResult = envelope(br#"{"result": {}}"#).unwrap();
        assert_eq!(empty.normalized(), PublishResult::default());
        let error = envelope::<PublishResult>(br#"{"error": {"code": 102, "message": "unknown channel"}}"#)
            .unwrap_err();
        assert_eq!(error.code(), Some(ApiError::UNKNOWN_CHANNEL));
        assert!(!error.is_retryable());
        assert!(matches!(
            envelope::<PublishResult>(b"<html>"),
            Err(CentrifugoError::InvalidResponse(_))
        ));
    }

    #[test]
    fn statuses_map_to_errors_in_both_error_modes() {
        assert!(matches!(
            status_error(401, b""),
            CentrifugoError::Unauthorized { status: 401 }
        ));
        let unavailable = status_error(503, b"no healthy upstream");
        assert!(
            matches!(&unavailable, CentrifugoError::Status { status: 503, body } if body == "no healthy upstream")
        );
        assert!(unavailable.is_retryable());
        let not_found = status_error(404, b"404 page not found");
        assert!(!not_found.is_retryable());
        // Centrifugo's `transport` error mode: the error is the body, the status mirrors it.
        let unknown = status_error(404, br#"{"code": 102, "message": "unknown channel"}"#);
        assert_eq!(unknown.code(), Some(102));
        assert!(!unknown.is_retryable());
        let internal = status_error(500, br#"{"code": 100, "message": "internal server error"}"#);
        assert_eq!(internal.code(), Some(100));
        assert!(internal.is_retryable());
    }

    #[test]
    fn only_internal_and_rate_limit_errors_are_temporary() {
        let error = |code| ApiError {
            code,
            message: String::new(),
        };
        assert!(error(ApiError::INTERNAL).is_temporary());
        assert!(error(ApiError::TOO_MANY_REQUESTS).is_temporary());
        for code in [101, 102, 103, 104, 106, 107, 108] {
            assert!(!error(code).is_temporary(), "{code}");
        }
    }

    #[test]
    fn long_bodies_are_cut() {
        let long = "é".repeat(2 * MAX_ERROR_BODY);
        let cut = excerpt(long.as_bytes());
        assert_eq!(cut.chars().count(), MAX_ERROR_BODY + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn urls_are_checked() {
        for good in [
            "http://127.0.0.1:8000",
            "https://centrifugo.example.com/",
            "https://x.example/rt",
        ] {
            assert!(parse_api_url(good).is_ok(), "{good}");
        }
        for bad in [
            "centrifugo:8000",
            "ftp://x.example",
            "http://user:pw@x.example",
            "http://x.example/?api_key=k",
            "http://x.example/#f",
            "http://",
        ] {
            assert!(parse_api_url(bad).is_err(), "{bad}");
        }
        let client = Centrifugo::new("https://x.example/rt/", "k", Duration::from_secs(1)).unwrap();
        assert_eq!(client.inner().unwrap().api_base, "https://x.example/rt/api");
        assert!(Centrifugo::new("http://x.example", " ", Duration::from_secs(1)).is_err());
        assert!(Centrifugo::new("http://x.example", "k\n1", Duration::from_secs(1)).is_err());
        assert!(Centrifugo::new("http://x.example", "k", Duration::ZERO).is_err());
    }
}
