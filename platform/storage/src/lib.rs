//! The object-storage client of the backend (AWS S3, Cloudflare R2, MinIO or any S3-compatible
//! store). It covers what the backend needs:
//!
//! - **downloads**: presigned `GET` URLs ([`ObjectStorage::presigned_get`]), so that a client
//!   downloads a recording straight from the bucket without the backend proxying the bytes, and
//!   public URLs ([`ObjectStorage::public_url`], [`ObjectStorage::read_url`]) for objects served
//!   from a public bucket or a CDN (avatars, logos);
//! - **direct uploads**: presigned `PUT` URLs ([`ObjectStorage::presigned_put`],
//!   [`ObjectStorage::presigned_put_sized`]) whose signature covers the `Content-Type` (and
//!   optionally the `Content-Length`) the client must send;
//! - **server-side object operations**, over one HTTP client: [`head`](ObjectStorage::head),
//!   [`get`](ObjectStorage::get) (capped at a size), [`put`](ObjectStorage::put),
//!   [`copy`](ObjectStorage::copy) (optionally conditional on the source's ETag),
//!   [`delete`](ObjectStorage::delete) (idempotent), [`delete_many`](ObjectStorage::delete_many),
//!   [`list_prefix`](ObjectStorage::list_prefix) and
//!   [`delete_prefix_older_than`](ObjectStorage::delete_prefix_older_than) for a cleanup job.
//!
//! # Signing
//!
//! Everything is signed with AWS Signature Version 4 and query-string authentication by the
//! sans-IO [`rusty_s3`] crate: a URL is computed from the configuration, the key, the expiry and
//! the clock alone. Presigned URLs are handed to clients; the server-side operations sign the same
//! way, with a short expiry, and send the request with one shared [`reqwest`] client (cheap to
//! clone, connect and request [`Timeouts`] configurable, redirects never followed). Headers that
//! must not be altered (`Content-Type` of an upload, `x-amz-copy-source`, …) are signed too.
//!
//! # Addressing
//!
//! Objects are addressed following [`BucketConfig::endpoint`]:
//! - `Some(url)`: path-style, `<url>/<bucket>/<key>`. R2 (`https://<account>.r2.cloudflarestorage.com`,
//!   region `auto`), MinIO and local fakes all accept it, and it works with an IP address as the
//!   host, which virtual-hosted style cannot.
//! - `None`: AWS, virtual-hosted style, `https://<bucket>.s3.<region>.amazonaws.com/<key>`, the
//!   style AWS recommends (path-style is deprecated there).
//!
//! # The two-step upload (avatars, organization logos)
//!
//! 1. *Ticket*: the backend chooses a key under `tmp/` and signs a `PUT` for it, valid for a
//!    short time (120 s), covering the declared content type, and answers the URL, the headers to
//!    send ([`PresignedUrl::headers`]) and the size limit.
//! 2. The client `PUT`s the file straight to the store.
//! 3. *Finalize*: the backend reads the object back ([`get`](ObjectStorage::get) with a byte cap),
//!    checks its size, magic bytes and dimensions, copies it to a key it derives itself
//!    ([`copy_with`](ObjectStorage::copy_with) with `if_match` = the ETag it read, so that a file
//!    replaced in between is not published), and deletes the temporary object.
//! 4. A job (or an R2 lifecycle rule on `tmp/`) deletes the uploads never finalized
//!    ([`delete_prefix_older_than`](ObjectStorage::delete_prefix_older_than)).
//!
//! For browsers to `PUT` across origins, the bucket's CORS rules must allow `PUT` from the web
//! app's origin with the `Content-Type` header; that is bucket configuration, not code.
//!
//! **Bounding the size.** A presigned `PUT` cannot carry a size *range*: S3's only way to state
//! one, `content-length-range` in a presigned `POST` policy, is not implemented by R2 (nor by
//! `rusty-s3`). So the bound is enforced in two places:
//! - [`presigned_put_sized`](ObjectStorage::presigned_put_sized) signs the exact
//!   `Content-Length` the client declared when asking for the ticket (after the backend checked it
//!   against the limit): any other size fails the signature, so nothing larger is ever stored.
//!   Browsers set `Content-Length` themselves from the body, so declaring `file.size` suffices.
//! - Whatever was signed, finalize re-checks: [`get`](ObjectStorage::get) refuses an object over
//!   its `max_bytes` from the announced `Content-Length` without reading it, or stops reading
//!   as soon as the body exceeds it.
//!
//! [`presigned_put`](ObjectStorage::presigned_put) (content type only) is also available, when
//! the client cannot declare a size up front; the ticket then states `maxBytes` and only
//! finalize enforces it, while the short expiry and the `tmp/` cleanup limit what an oversized
//! upload costs.
//!
//! The `fake` Cargo feature adds [`fake::LocalS3`], a real S3-compatible server on 127.0.0.1 that
//! verifies signatures the way S3 does, for other crates' tests.

mod error;
#[cfg(feature = "fake")]
pub mod fake;
mod objects;
mod xml;

use std::{fmt, time::Duration};

use chrono::{DateTime, Datelike, TimeZone, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rusty_s3::{Bucket, Credentials, Method, S3Action, UrlStyle};
use url::Url;

pub use error::{DeleteFailure, StorageError};
pub use objects::{CopyOptions, Object, ObjectHeaders, ObjectMeta, ObjectSummary};

/// The shortest validity SigV4 accepts for a presigned URL (`X-Amz-Expires=1`).
pub const MIN_EXPIRY: Duration = Duration::from_secs(1);
/// The longest validity SigV4 accepts for a presigned URL (7 days, `X-Amz-Expires=604800`).
pub const MAX_EXPIRY: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// S3's limit on the length of an object key, in bytes.
const MAX_KEY_LEN: usize = 1024;
/// The most keys a `ListObjectsV2` page or a `DeleteObjects` batch carries.
const MAX_BATCH: u16 = 1000;

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
    /// Where the bucket's objects are publicly readable, if they are: an R2 custom domain or
    /// `r2.dev` URL, a CDN in front of the bucket (`https://cdn.example.com/avatars`). Object
    /// `k` is then at `<public_base_url>/<k>` ([`ObjectStorage::public_url`]). `None` for a
    /// private bucket, whose objects are read through presigned `GET` URLs.
    pub public_base_url: Option<String>,
}

impl fmt::Debug for BucketConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BucketConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("public_base_url", &self.public_base_url)
            .finish()
    }
}

/// How long the server-side operations may take. Presigned URLs are not concerned: the client
/// that uses them has its own timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the TCP (and TLS) connection.
    pub connect: Duration,
    /// The whole exchange, from sending the request to the end of the response body.
    pub request: Duration,
}

impl Default for Timeouts {
    /// 5 s to connect, 30 s per request (enough for a few megabytes on a slow link).
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(30),
        }
    }
}

/// A presigned URL and the instant it stops working.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresignedUrl {
    /// The URL to request, carrying its signature in the query string.
    pub url: String,
    /// Signing time plus the (clamped) validity: the store refuses the URL from then on.
    pub expires_at: DateTime<Utc>,
    /// Headers the request must carry with exactly these values, because the signature covers
    /// them: empty for a `GET`; `Content-Type` (and `Content-Length` when sized) for a `PUT`.
    /// A browser sets `Content-Length` itself from the body.
    pub headers: Vec<(String, String)>,
}

/// A bucket, the credentials to sign for it and an HTTP client to talk to it.
///
/// Cheap to clone: clones share the HTTP client (and its connection pool). Signing does no I/O;
/// the `async` operations send one request each (or one per page or batch).
///
/// `Debug` shows the bucket URL, the region and the access key id, never the secret.
#[derive(Clone)]
pub struct ObjectStorage {
    bucket: Bucket,
    credentials: Credentials,
    public_base_url: Option<Url>,
    http: reqwest::Client,
    /// The validity of the URLs the server-side operations sign for themselves.
    request_expiry: Duration,
    /// Keys per `ListObjectsV2` page; S3's maximum unless a test lowers it.
    list_page_size: u16,
}

impl fmt::Debug for ObjectStorage {
    // Written out rather than derived so that the secret stays out of logs whatever
    // `rusty_s3::Credentials`'s own `Debug` does in later versions.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStorage")
            .field("bucket_url", &self.bucket.base_url().as_str())
            .field("region", &self.bucket.region())
            .field("access_key_id", &self.credentials.key())
            .field("public_base_url", &self.public_base_url.as_ref().map(Url::as_str))
            .finish_non_exhaustive()
    }
}

impl ObjectStorage {
    /// Validates `config` and builds the client, with the default [`Timeouts`].
    ///
    /// With `endpoint: Some(url)` objects are addressed path-style against `url` (R2, MinIO,
    /// local fakes); with `None`, virtual-hosted style against `https://s3.<region>.amazonaws.com`.
    pub fn new(config: &BucketConfig) -> Result<Self, StorageError> {
        Self::with_timeouts(config, Timeouts::default())
    }

    /// [`new`](Self::new) with explicit timeouts for the server-side operations.
    pub fn with_timeouts(config: &BucketConfig, timeouts: Timeouts) -> Result<Self, StorageError> {
        match &config.endpoint {
            Some(endpoint) => Self::build(config, endpoint, UrlStyle::Path, timeouts),
            None => {
                if config.region.trim().is_empty() {
                    return Err(StorageError::MissingRegion);
                }
                let aws = format!("https://s3.{}.amazonaws.com", config.region);
                Self::build(config, &aws, UrlStyle::VirtualHost, timeouts)
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
        Self::build(config, endpoint, UrlStyle::VirtualHost, Timeouts::default())
    }

    /// Lowers the number of keys per `ListObjectsV2` page (S3's default and maximum is 1000).
    ///
    /// Not part of the supported API: it lets tests exercise pagination with a few objects.
    #[doc(hidden)]
    pub fn with_list_page_size(mut self, keys: u16) -> Self {
        self.list_page_size = keys.clamp(1, MAX_BATCH);
        self
    }

    fn build(
        config: &BucketConfig,
        endpoint: &str,
        style: UrlStyle,
        timeouts: Timeouts,
    ) -> Result<Self, StorageError> {
        let url = parse_base_url(endpoint).map_err(|reason| StorageError::InvalidEndpoint {
            endpoint: endpoint.to_owned(),
            reason: reason.to_owned(),
        })?;
        let public_base_url = config
            .public_base_url
            .as_deref()
            .map(|public| {
                parse_base_url(public).map_err(|reason| StorageError::InvalidPublicBaseUrl {
                    url: public.to_owned(),
                    reason: reason.to_owned(),
                })
            })
            .transpose()?;
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
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            // A redirect would resend a signed request to another host (S3 redirects requests
            // for a bucket in another region): report it instead.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(StorageError::HttpClient)?;
        Ok(Self {
            bucket,
            credentials: Credentials::new(&config.access_key_id, &config.secret_access_key),
            public_base_url,
            http,
            // Checked by the store when the request arrives, so it only has to outlast sending
            // it; the margin absorbs some clock skew.
            request_expiry: (timeouts.request + Duration::from_secs(60)).clamp(MIN_EXPIRY, MAX_EXPIRY),
            list_page_size: MAX_BATCH,
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
        let expires_in = clamp_expiry(expires_in);
        let (signed_at, jiff_time) = signing_time(signed_at)?;
        let url = self
            .bucket
            .get_object(Some(&self.credentials), key)
            .sign_with_time(expires_in, &jiff_time);
        Ok(PresignedUrl {
            url: url.into(),
            expires_at: expiry_instant(signed_at, expires_in),
            headers: Vec::new(),
        })
    }

    /// A URL that lets anyone holding it `PUT` an object at `key` for `expires_in`, signed now,
    /// provided the request carries `Content-Type: <content_type>` exactly: the signature covers
    /// that header, so another (or no) content type is refused with `403`. The store does not
    /// look at the body: the size and the content are checked when the upload is finalized.
    ///
    /// Expiry and key rules are those of [`presigned_get`](Self::presigned_get);
    /// `content_type` must be non-empty printable ASCII without surrounding spaces
    /// ([`StorageError::InvalidHeaderValue`]).
    pub fn presigned_put(
        &self,
        key: &str,
        expires_in: Duration,
        content_type: &str,
    ) -> Result<PresignedUrl, StorageError> {
        self.presigned_put_at(key, expires_in, content_type, None, Utc::now())
    }

    /// [`presigned_put`](Self::presigned_put) that also signs `Content-Length: <content_length>`:
    /// the store refuses a body of any other size (`403`), so an upload can never exceed the
    /// size the client declared when it asked for the URL (and the caller checked).
    pub fn presigned_put_sized(
        &self,
        key: &str,
        expires_in: Duration,
        content_type: &str,
        content_length: u64,
    ) -> Result<PresignedUrl, StorageError> {
        self.presigned_put_at(key, expires_in, content_type, Some(content_length), Utc::now())
    }

    /// [`presigned_put`](Self::presigned_put) / [`presigned_put_sized`](Self::presigned_put_sized)
    /// with an explicit signing time (see [`presigned_get_at`](Self::presigned_get_at)).
    pub fn presigned_put_at(
        &self,
        key: &str,
        expires_in: Duration,
        content_type: &str,
        content_length: Option<u64>,
        signed_at: DateTime<Utc>,
    ) -> Result<PresignedUrl, StorageError> {
        validate_key(key)?;
        validate_header_value("content-type", content_type)?;
        let expires_in = clamp_expiry(expires_in);
        let (signed_at, jiff_time) = signing_time(signed_at)?;
        let mut headers = vec![("Content-Type".to_owned(), content_type.to_owned())];
        let mut action = self.bucket.put_object(Some(&self.credentials), key);
        action.headers_mut().insert("content-type", content_type);
        if let Some(length) = content_length {
            action.headers_mut().insert("content-length", length.to_string());
            headers.push(("Content-Length".to_owned(), length.to_string()));
        }
        let url = action.sign_with_time(expires_in, &jiff_time);
        Ok(PresignedUrl {
            url: url.into(),
            expires_at: expiry_instant(signed_at, expires_in),
            headers,
        })
    }

    /// The public URL of `key`, `<public_base_url>/<key>` with the key percent-encoded, or
    /// `Ok(None)` when the configuration has no [`public_base_url`](BucketConfig::public_base_url).
    /// No I/O and no signature: whether the object exists is not checked.
    pub fn public_url(&self, key: &str) -> Result<Option<String>, StorageError> {
        validate_key(key)?;
        Ok(self.public_base_url.as_ref().map(|base| {
            let mut url = base.clone();
            let path = format!("{}{}", base.path(), encode_key(key));
            url.set_path(&path);
            url.into()
        }))
    }

    /// The URL a client reads `key` from: its [`public_url`](Self::public_url) when the bucket
    /// is public, otherwise a [`presigned_get`](Self::presigned_get) valid for `expires_in`.
    pub fn read_url(&self, key: &str, expires_in: Duration) -> Result<String, StorageError> {
        match self.public_url(key)? {
            Some(url) => Ok(url),
            None => Ok(self.presigned_get(key, expires_in)?.url),
        }
    }

    /// Signs a request the backend sends itself: `url` with `query` (sorted here), the listed
    /// headers (lowercase names) signed along with `host`, valid for `request_expiry`.
    fn sign_request(
        &self,
        method: Method,
        url: Url,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Url {
        let mut query = query.to_vec();
        query.sort_unstable();
        let mut headers = headers.to_vec();
        headers.sort_unstable();
        rusty_s3::signing::sign(
            &jiff::Timestamp::now(),
            method,
            url,
            self.credentials.key(),
            self.credentials.secret(),
            self.credentials.token(),
            self.bucket.region(),
            self.request_expiry.as_secs(),
            query.iter().copied(),
            headers.iter().copied(),
        )
    }
}

fn clamp_expiry(expires_in: Duration) -> Duration {
    Duration::from_secs(
        expires_in
            .as_secs()
            .clamp(MIN_EXPIRY.as_secs(), MAX_EXPIRY.as_secs()),
    )
}

/// `signed_at` truncated to whole seconds, as chrono and as the `jiff` time rusty-s3 signs with.
fn signing_time(signed_at: DateTime<Utc>) -> Result<(DateTime<Utc>, jiff::Timestamp), StorageError> {
    if !(0..=9999).contains(&signed_at.year()) {
        return Err(StorageError::InvalidSigningTime(signed_at));
    }
    let seconds = signed_at.timestamp();
    let jiff_time =
        jiff::Timestamp::from_second(seconds).map_err(|_| StorageError::InvalidSigningTime(signed_at))?;
    let truncated = Utc
        .timestamp_opt(seconds, 0)
        .single()
        .expect("whole seconds of a valid timestamp");
    Ok((truncated, jiff_time))
}

fn expiry_instant(signed_at: DateTime<Utc>, expires_in: Duration) -> DateTime<Utc> {
    signed_at + chrono::Duration::from_std(expires_in).expect("at most 7 days fits chrono")
}

/// An endpoint or public base URL must be an absolute `http(s)` URL with a host and optionally
/// a path prefix. Credentials, a query or a fragment are refused rather than silently dropped:
/// they are configuration mistakes, and credentials would otherwise leak into every URL.
/// The path ends with `/`, so that a key can be appended to it.
fn parse_base_url(base: &str) -> Result<Url, String> {
    let mut url = Url::parse(base).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("the scheme must be http or https".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("it has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("it must not carry credentials".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("it must not have a query or a fragment".into());
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Keys whose URL would address something else are refused. URLs resolve `.` and `..` path
/// segments, so `a/../b` would sign a URL for `b` (and path-style `../other/x` one for another
/// bucket), and an empty key would sign a URL for the bucket itself, a `GET` of which lists it.
/// Control characters cannot go in the XML bodies of S3 either.
fn validate_key(key: &str) -> Result<(), StorageError> {
    if key.is_empty() {
        return Err(invalid_key(key, "it is empty"));
    }
    validate_prefix(key)?;
    if key.split('/').any(|segment| segment == "." || segment == "..") {
        return Err(invalid_key(key, "it has a `.` or `..` path segment"));
    }
    Ok(())
}

/// A listing prefix is only sent as a query parameter, so it just has to be a possible key
/// start: at most 1024 bytes, no control character.
fn validate_prefix(prefix: &str) -> Result<(), StorageError> {
    if prefix.len() > MAX_KEY_LEN {
        return Err(invalid_key(prefix, "it is longer than 1024 bytes"));
    }
    if prefix.chars().any(char::is_control) {
        return Err(invalid_key(prefix, "it has a control character"));
    }
    Ok(())
}

fn invalid_key(key: &str, reason: &'static str) -> StorageError {
    StorageError::InvalidKey {
        key: key.to_owned(),
        reason,
    }
}

/// Header values this crate signs or sends must be non-empty visible ASCII (spaces inside
/// allowed, not around: SigV4 trims them, which would make the value sent and the one signed
/// differ in a way that is hard to see).
fn validate_header_value(name: &'static str, value: &str) -> Result<(), StorageError> {
    let printable = value.bytes().all(|b| (0x20..0x7f).contains(&b));
    if value.is_empty() || !printable || value.trim() != value {
        return Err(StorageError::InvalidHeaderValue {
            name,
            value: value.to_owned(),
        });
    }
    Ok(())
}

/// Everything but RFC 3986's unreserved characters, and `/`, which separates a key's segments
/// (the encoding rusty-s3 gives object paths, and S3's `x-amz-copy-source` expects).
const KEY_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_ENCODE_SET).to_string()
}
