//! [`StorageError`]: everything this crate can refuse or fail with.

use chrono::{DateTime, Utc};

/// Why a configuration, an argument or a request to the store failed.
///
/// The `Display` text is meant for logs: it names the S3 operation and, for refusals, the error
/// code and message S3 put in its XML body. Callers map variants to their own HTTP answers
/// (typically [`NotFound`](Self::NotFound) → 404 or 422, [`TooLarge`](Self::TooLarge) → 413 or
/// 422, everything else → 500/503) and never forward this text to their clients.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    // --- configuration --------------------------------------------------------------------
    /// The endpoint is not an absolute `http`/`https` URL with a host and nothing after its path.
    #[error("invalid object-storage endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    /// The public base URL is not an absolute `http`/`https` URL with a host and nothing after
    /// its path.
    #[error("invalid object-storage public base URL {url:?}: {reason}")]
    InvalidPublicBaseUrl { url: String, reason: String },
    /// The bucket name is empty, or cannot be used in the URL (for instance not a valid host
    /// label with AWS's virtual-hosted addressing).
    #[error("invalid bucket name {bucket:?}: {reason}")]
    InvalidBucket { bucket: String, reason: String },
    /// The region is empty: SigV4 signs it into the credential scope.
    #[error("the object-storage region is empty")]
    MissingRegion,
    /// The access key id or the secret access key is empty.
    #[error("the object-storage access key id or secret access key is empty")]
    MissingCredentials,
    /// The HTTP client could not be built (its TLS configuration failed to load).
    #[error("the object-storage HTTP client could not be built")]
    HttpClient(#[source] reqwest::Error),

    // --- arguments ------------------------------------------------------------------------
    /// The object key (or listing prefix) cannot be addressed by a URL unambiguously.
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    /// A header value to sign or send (content type, cache control, ETag) is empty or not
    /// printable ASCII.
    #[error("invalid {name} header value {value:?}")]
    InvalidHeaderValue { name: &'static str, value: String },
    /// An explicit signing time outside what SigV4's `X-Amz-Date` can carry (years 0000..=9999).
    #[error("signing time {0} is out of range")]
    InvalidSigningTime(DateTime<Utc>),

    // --- answers of the store ---------------------------------------------------------------
    /// The object does not exist (`404 NoSuchKey`). For a copy, `key` is the source.
    #[error("object {key:?} not found")]
    NotFound { key: String },
    /// The store refused the credentials or the signature (`403`: `AccessDenied`,
    /// `SignatureDoesNotMatch`, `InvalidAccessKeyId`, `RequestTimeTooSkewed`, …). `code` and
    /// `message` are `None` when the answer had no body (`HEAD`).
    ///
    /// Note that AWS answers `403` rather than `404` for a missing key when the credentials may
    /// not list the bucket (`s3:ListBucket`).
    #[error("object storage refused {operation}: access denied ({})", code.as_deref().unwrap_or("no error code"))]
    AccessDenied {
        operation: &'static str,
        code: Option<String>,
        message: Option<String>,
    },
    /// A condition of the request did not hold (`412`), e.g. the source of a copy no longer
    /// has the ETag given as `if_match`: it was replaced since it was read.
    #[error("precondition failed for {operation} of {key:?}: the object changed")]
    PreconditionFailed { operation: &'static str, key: String },
    /// The object is larger than the caller's limit. `size` is its size when the store
    /// announced it (`Content-Length`), `None` when the body ran past the limit.
    #[error("object {key:?} is larger than {max_bytes} bytes")]
    TooLarge {
        key: String,
        max_bytes: u64,
        size: Option<u64>,
    },
    /// The request did not complete within the configured timeouts.
    #[error("object storage {operation} timed out")]
    Timeout { operation: &'static str },
    /// The store could not be reached, or the connection failed mid-exchange.
    #[error("object storage {operation} failed: the store is unreachable")]
    Unreachable {
        operation: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// Any other answer: `code`/`message` come from S3's XML error body when it had one.
    #[error(
        "object storage {operation} answered {status} {}: {}",
        code.as_deref().unwrap_or("(no error code)"),
        message.as_deref().unwrap_or("(no message)")
    )]
    UnexpectedStatus {
        operation: &'static str,
        status: u16,
        code: Option<String>,
        message: Option<String>,
    },
    /// A successful answer that could not be understood (malformed XML, a missing header).
    #[error("object storage {operation} answered something unexpected: {reason}")]
    InvalidResponse { operation: &'static str, reason: String },
    /// A batch delete ran, but the store refused some of its keys.
    #[error(
        "object storage could not delete {} object(s), e.g. {:?}: {}",
        failures.len(),
        failures.first().map_or("", |f| f.key.as_str()),
        failures.first().and_then(|f| f.code.as_deref()).unwrap_or("(no error code)")
    )]
    DeleteFailed { failures: Vec<DeleteFailure> },
}

/// One key a batch delete could not remove, with S3's reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteFailure {
    pub key: String,
    pub code: Option<String>,
    pub message: Option<String>,
}
