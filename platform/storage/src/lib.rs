//! The object-storage client of the backend (AWS S3, Cloudflare R2, MinIO or any S3-compatible
//! store), limited to what the backend needs now: presigned `GET` URLs, so that a client downloads
//! a recording straight from the bucket without the backend proxying the bytes.
//!
//! Signing is AWS Signature Version 4 with query-string authentication, done by the sans-IO
//! [`rusty_s3`] crate: no request is sent, no HTTP client is needed, and a URL is computed from
//! the configuration, the key, the expiry and the clock alone.
//!
//! Addressing follows [`BucketConfig::endpoint`]:
//! - `Some(url)`: path-style, `<url>/<bucket>/<key>`. R2 (`https://<account>.r2.cloudflarestorage.com`,
//!   region `auto`), MinIO and local fakes all accept it, and it works with an IP address as the
//!   host, which virtual-hosted style cannot.
//! - `None`: AWS, virtual-hosted style, `https://<bucket>.s3.<region>.amazonaws.com/<key>`, the
//!   style AWS recommends (path-style is deprecated there).
//!
//! The `fake` Cargo feature adds [`fake::LocalS3`], a real S3-compatible server on 127.0.0.1 that
//! verifies signatures the way S3 does, for other crates' tests.

#[cfg(feature = "fake")]
pub mod fake;

use std::{fmt, time::Duration};

use chrono::{DateTime, Datelike, TimeZone, Utc};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use url::Url;

/// The shortest validity SigV4 accepts for a presigned URL (`X-Amz-Expires=1`).
pub const MIN_EXPIRY: Duration = Duration::from_secs(1);
/// The longest validity SigV4 accepts for a presigned URL (7 days, `X-Amz-Expires=604800`).
pub const MAX_EXPIRY: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// S3's limit on the length of an object key, in bytes.
const MAX_KEY_LEN: usize = 1024;

/// Where the bucket is and how to sign for it.
///
/// `Debug` shows everything but the secret access key.
#[derive(Clone, PartialEq, Eq)]
pub struct BucketConfig {
    /// Base URL of an S3-compatible endpoint (R2, MinIO, a local fake), addressed path-style.
    /// `None` means AWS S3 in [`region`](Self::region), addressed virtual-hosted style.
    pub endpoint: Option<String>,
    /// The SigV4 region: an AWS region (`eu-west-1`), or `auto` for R2.
    pub region: String,
    /// The bucket name.
    pub bucket: String,
    /// Access key id (sent in every presigned URL, as `X-Amz-Credential`).
    pub access_key_id: String,
    /// Secret access key (never leaves the process: it only keys the HMAC).
    pub secret_access_key: String,
}

impl fmt::Debug for BucketConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BucketConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// Why a configuration or an object key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StorageError {
    /// The endpoint is not an absolute `http`/`https` URL with a host and nothing after its path.
    #[error("invalid object-storage endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
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
    /// The object key cannot be addressed by a URL unambiguously.
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    /// An explicit signing time outside what SigV4's `X-Amz-Date` can carry (years 0000..=9999).
    #[error("signing time {0} is out of range")]
    InvalidSigningTime(DateTime<Utc>),
}

/// A presigned URL and the instant it stops working.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresignedUrl {
    /// The URL to `GET`, carrying its signature in the query string (no headers needed).
    pub url: String,
    /// Signing time plus the (clamped) validity: the store refuses the URL from then on.
    pub expires_at: DateTime<Utc>,
}

/// A bucket and the credentials to sign for it. Cheap to clone; signing does no I/O.
///
/// `Debug` shows the bucket URL, the region and the access key id, never the secret.
#[derive(Clone)]
pub struct ObjectStorage {
    bucket: Bucket,
    credentials: Credentials,
}

impl fmt::Debug for ObjectStorage {
    // Written out rather than derived so that the secret stays out of logs whatever
    // `rusty_s3::Credentials`'s own `Debug` does in later versions.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStorage")
            .field("bucket_url", &self.bucket.base_url().as_str())
            .field("region", &self.bucket.region())
            .field("access_key_id", &self.credentials.key())
            .finish_non_exhaustive()
    }
}

impl ObjectStorage {
    /// Validates `config` and builds the client.
    ///
    /// With `endpoint: Some(url)` objects are addressed path-style against `url` (R2, MinIO,
    /// local fakes); with `None`, virtual-hosted style against `https://s3.<region>.amazonaws.com`.
    pub fn new(config: &BucketConfig) -> Result<Self, StorageError> {
        match &config.endpoint {
            Some(endpoint) => Self::build(config, endpoint, UrlStyle::Path),
            None => {
                if config.region.trim().is_empty() {
                    return Err(StorageError::MissingRegion);
                }
                let aws = format!("https://s3.{}.amazonaws.com", config.region);
                Self::build(config, &aws, UrlStyle::VirtualHost)
            }
        }
    }

    /// Virtual-hosted addressing against an arbitrary endpoint, ignoring `config.endpoint`.
    ///
    /// Not part of the supported API: it exists so that tests can reproduce AWS's published
    /// SigV4 example, whose host is the legacy global `examplebucket.s3.amazonaws.com`, which
    /// [`ObjectStorage::new`] never produces (it uses the regional `s3.<region>.amazonaws.com`).
    #[doc(hidden)]
    pub fn virtual_hosted(config: &BucketConfig, endpoint: &str) -> Result<Self, StorageError> {
        Self::build(config, endpoint, UrlStyle::VirtualHost)
    }

    fn build(config: &BucketConfig, endpoint: &str, style: UrlStyle) -> Result<Self, StorageError> {
        let url = parse_endpoint(endpoint)?;
        if config.bucket.is_empty() {
            return Err(StorageError::InvalidBucket {
                bucket: config.bucket.clone(),
                reason: "it is empty".into(),
            });
        }
        if config.region.trim().is_empty() {
            return Err(StorageError::MissingRegion);
        }
        if config.access_key_id.is_empty() || config.secret_access_key.is_empty() {
            return Err(StorageError::MissingCredentials);
        }
        let bucket = Bucket::new(url, style, config.bucket.clone(), config.region.clone()).map_err(|e| {
            StorageError::InvalidBucket {
                bucket: config.bucket.clone(),
                // rusty-s3's error has no Display: its Debug names the cause.
                reason: format!("{e:?}"),
            }
        })?;
        Ok(Self {
            bucket,
            credentials: Credentials::new(&config.access_key_id, &config.secret_access_key),
        })
    }

    /// A URL that lets anyone holding it `GET` `key` for `expires_in`, signed now.
    ///
    /// `expires_in` is clamped to what SigV4 accepts, [`MIN_EXPIRY`]..=[`MAX_EXPIRY`], and
    /// truncated to whole seconds; [`PresignedUrl::expires_at`] reflects that.
    ///
    /// Fails only with [`StorageError::InvalidKey`]: an empty key, one longer than S3's 1024
    /// bytes, one with a control character, or one with a `.`/`..` segment, which a URL would
    /// resolve to another object (or to the bucket itself, whose `GET` lists it).
    pub fn presigned_get(&self, key: &str, expires_in: Duration) -> Result<PresignedUrl, StorageError> {
        self.presigned_get_at(key, expires_in, Utc::now())
    }

    /// [`presigned_get`](Self::presigned_get) with an explicit signing time, for known-answer
    /// tests and for URLs that must be already expired. The time is truncated to whole seconds,
    /// as `X-Amz-Date` carries no fraction. A time outside years 0..=9999 is refused with
    /// [`StorageError::InvalidSigningTime`].
    pub fn presigned_get_at(
        &self,
        key: &str,
        expires_in: Duration,
        signed_at: DateTime<Utc>,
    ) -> Result<PresignedUrl, StorageError> {
        validate_key(key)?;
        let expires_in = Duration::from_secs(
            expires_in
                .as_secs()
                .clamp(MIN_EXPIRY.as_secs(), MAX_EXPIRY.as_secs()),
        );
        if !(0..=9999).contains(&signed_at.year()) {
            return Err(StorageError::InvalidSigningTime(signed_at));
        }
        let seconds = signed_at.timestamp();
        let signed_at_jiff =
            jiff::Timestamp::from_second(seconds).map_err(|_| StorageError::InvalidSigningTime(signed_at))?;
        let url = self
            .bucket
            .get_object(Some(&self.credentials), key)
            .sign_with_time(expires_in, &signed_at_jiff);
        let signed_at = Utc
            .timestamp_opt(seconds, 0)
            .single()
            .expect("whole seconds of a valid timestamp");
        let expires_at =
            signed_at + chrono::Duration::from_std(expires_in).expect("at most 7 days fits chrono");
        Ok(PresignedUrl {
            url: url.into(),
            expires_at,
        })
    }
}

/// An endpoint must be an absolute `http(s)` URL with a host and optionally a path prefix.
/// Credentials, a query or a fragment are refused rather than silently dropped: they are
/// configuration mistakes, and credentials would otherwise leak into every presigned URL.
fn parse_endpoint(endpoint: &str) -> Result<Url, StorageError> {
    let invalid = |reason: &str| StorageError::InvalidEndpoint {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(endpoint).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("it must not carry credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or a fragment"));
    }
    Ok(url)
}

/// Keys whose URL would address something else are refused. URLs resolve `.` and `..` path
/// segments, so `a/../b` would sign a URL for `b` (and path-style `../other/x` one for another
/// bucket), and an empty key would sign a URL for the bucket itself, a `GET` of which lists it.
fn validate_key(key: &str) -> Result<(), StorageError> {
    let invalid = |reason: &'static str| StorageError::InvalidKey {
        key: key.to_owned(),
        reason,
    };
    if key.is_empty() {
        return Err(invalid("it is empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(invalid("it is longer than 1024 bytes"));
    }
    if key.split('/').any(|segment| segment == "." || segment == "..") {
        return Err(invalid("it has a `.` or `..` path segment"));
    }
    if key.chars().any(char::is_control) {
        return Err(invalid("it has a control character"));
    }
    Ok(())
}
