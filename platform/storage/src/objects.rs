//! The server-side object operations: one signed request each, sent with the shared client.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use md5::{Digest as _, Md5};
use reqwest::{header, Response, StatusCode};
use rusty_s3::Method;

use crate::{
    encode_key, validate_header_value, validate_key, validate_prefix, xml, DeleteFailure, ObjectStorage,
    StorageError, MAX_BATCH,
};

/// The most of an error (or copy result) body read: S3's are a few hundred bytes.
const SMALL_BODY_CAP: u64 = 64 * 1024;
/// The most of a `ListObjectsV2` page read: 1000 keys of 1024 bytes, XML-escaped, fit.
const LIST_BODY_CAP: u64 = 16 * 1024 * 1024;

/// What the store says about an object (`HEAD`, or the headers of a `GET`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Its size in bytes.
    pub size: u64,
    /// The `Content-Type` it was stored with, if any.
    pub content_type: Option<String>,
    /// Its entity tag, quoted as S3 sends it (`"9b2cf535f27731c974343645a3985328"`): give it
    /// back as is to [`CopyOptions::if_match`].
    pub etag: Option<String>,
    /// When it was last written.
    pub last_modified: Option<DateTime<Utc>>,
}

/// An object read by [`ObjectStorage::get`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// Its metadata; `size` is the number of bytes read.
    pub meta: ObjectMeta,
    /// Its content.
    pub bytes: Vec<u8>,
}

/// An object listed by [`ObjectStorage::list_prefix`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectSummary {
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
}

/// The headers an object is stored with, by [`ObjectStorage::put`] or by a copy that replaces
/// the source's ([`CopyOptions::replace_headers`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectHeaders {
    /// `Content-Type`, served back to whoever downloads the object.
    pub content_type: String,
    /// `Cache-Control`, served back too: objects under keys that are never reused can be
    /// cached for good (`public, max-age=31536000, immutable`).
    pub cache_control: Option<String>,
}

impl ObjectHeaders {
    /// Just a content type.
    pub fn new(content_type: impl Into<String>) -> Self {
        Self {
            content_type: content_type.into(),
            cache_control: None,
        }
    }

    /// With a `Cache-Control` value.
    pub fn with_cache_control(mut self, cache_control: impl Into<String>) -> Self {
        self.cache_control = Some(cache_control.into());
        self
    }

    fn validate(&self) -> Result<(), StorageError> {
        validate_header_value("content-type", &self.content_type)?;
        if let Some(cache_control) = &self.cache_control {
            validate_header_value("cache-control", cache_control)?;
        }
        Ok(())
    }

    fn push_into(&self, headers: &mut Vec<(&'static str, String)>) {
        headers.push(("content-type", self.content_type.clone()));
        if let Some(cache_control) = &self.cache_control {
            headers.push(("cache-control", cache_control.clone()));
        }
    }
}

/// Options of [`ObjectStorage::copy_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyOptions {
    /// Copy only if the source still has this ETag (`x-amz-copy-source-if-match`), else fail
    /// with [`StorageError::PreconditionFailed`]: pass the ETag of the object that was read and
    /// validated, so that one replaced since (a presigned `PUT` can be reused until it expires)
    /// is not published.
    pub if_match: Option<String>,
    /// Store the copy with these headers instead of the source's (`x-amz-metadata-directive:
    /// REPLACE`). `None` keeps the source's content type and metadata.
    pub replace_headers: Option<ObjectHeaders>,
}

impl ObjectStorage {
    /// Whether the bucket exists and these credentials may use it (HeadBucket): the harmless
    /// call `qubital check` makes. `Ok(false)` when there is no such bucket.
    pub async fn bucket_exists(&self) -> Result<bool, StorageError> {
        const OP: &str = "HeadBucket";
        let url = self.bucket.base_url().clone();
        let response = self.send(OP, Method::Head, url, &[], &[], None).await?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(false),
            status if status.is_success() => Ok(true),
            _ => Err(failure(OP, None, response).await),
        }
    }

    /// The metadata of `key`, or `None` if there is no such object.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StorageError> {
        const OP: &str = "HeadObject";
        validate_key(key)?;
        let response = self
            .send(OP, Method::Head, self.bucket.object_url(key), &[], &[], None)
            .await?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => {
                let size = content_length(&response).ok_or_else(|| StorageError::InvalidResponse {
                    operation: OP,
                    reason: "no Content-Length".into(),
                })?;
                Ok(Some(meta(&response, size)))
            }
            _ => Err(failure(OP, Some(key), response).await),
        }
    }

    /// Reads `key` whole, refusing with [`StorageError::TooLarge`] an object over `max_bytes`:
    /// without reading its body when the store announces its size (it always does for a
    /// plain object), otherwise as soon as the body goes past the limit. At most `max_bytes`
    /// are ever held in memory. A missing object is [`StorageError::NotFound`].
    pub async fn get(&self, key: &str, max_bytes: u64) -> Result<Object, StorageError> {
        const OP: &str = "GetObject";
        validate_key(key)?;
        let response = self
            .send(OP, Method::Get, self.bucket.object_url(key), &[], &[], None)
            .await?;
        if !response.status().is_success() {
            return Err(failure(OP, Some(key), response).await);
        }
        let too_large = |size| StorageError::TooLarge {
            key: key.to_owned(),
            max_bytes,
            size,
        };
        if let Some(size) = content_length(&response).filter(|&size| size > max_bytes) {
            return Err(too_large(Some(size)));
        }
        let mut meta = meta(&response, 0);
        let bytes = read_capped(OP, response, max_bytes)
            .await?
            .ok_or_else(|| too_large(None))?;
        meta.size = bytes.len() as u64;
        Ok(Object { meta, bytes })
    }

    /// Stores `bytes` at `key` with `headers`, replacing any object there.
    pub async fn put(&self, key: &str, bytes: Vec<u8>, headers: &ObjectHeaders) -> Result<(), StorageError> {
        const OP: &str = "PutObject";
        validate_key(key)?;
        headers.validate()?;
        let mut signed = Vec::new();
        headers.push_into(&mut signed);
        let response = self
            .send(
                OP,
                Method::Put,
                self.bucket.object_url(key),
                &[],
                &signed,
                Some(bytes),
            )
            .await?;
        if !response.status().is_success() {
            return Err(failure(OP, Some(key), response).await);
        }
        Ok(())
    }

    /// Copies `from_key` to `to_key` inside the bucket, on the store's side (`CopyObject`), with
    /// the source's content type and metadata. A missing source is [`StorageError::NotFound`]
    /// (for `from_key`). Objects up to 5 GB (S3's limit for a single copy).
    pub async fn copy(&self, from_key: &str, to_key: &str) -> Result<(), StorageError> {
        self.copy_with(from_key, to_key, &CopyOptions::default()).await
    }

    /// [`copy`](Self::copy) with a condition on the source and/or new headers for the copy.
    pub async fn copy_with(
        &self,
        from_key: &str,
        to_key: &str,
        options: &CopyOptions,
    ) -> Result<(), StorageError> {
        const OP: &str = "CopyObject";
        validate_key(from_key)?;
        validate_key(to_key)?;
        let source = format!("/{}/{}", self.bucket.name(), encode_key(from_key));
        let mut signed = vec![("x-amz-copy-source", source)];
        if let Some(etag) = &options.if_match {
            validate_header_value("x-amz-copy-source-if-match", etag)?;
            signed.push(("x-amz-copy-source-if-match", etag.clone()));
        }
        if let Some(headers) = &options.replace_headers {
            headers.validate()?;
            signed.push(("x-amz-metadata-directive", "REPLACE".to_owned()));
            headers.push_into(&mut signed);
        }
        let response = self
            .send(
                OP,
                Method::Put,
                self.bucket.object_url(to_key),
                &[],
                &signed,
                Some(Vec::new()),
            )
            .await?;
        if !response.status().is_success() {
            return Err(failure(OP, Some(from_key), response).await);
        }
        // S3 may answer 200 and still fail: the copy runs while the response streams, so an
        // error that happens late comes as an `<Error>` body.
        let body = read_capped(OP, response, SMALL_BODY_CAP)
            .await?
            .unwrap_or_default();
        match xml::parse_error(&body) {
            None => Ok(()),
            Some(error) => Err(classify(OP, Some(from_key), StatusCode::OK, error)),
        }
    }

    /// Deletes `key`. Idempotent: deleting a missing object succeeds, as in S3.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        const OP: &str = "DeleteObject";
        validate_key(key)?;
        let response = self
            .send(OP, Method::Delete, self.bucket.object_url(key), &[], &[], None)
            .await?;
        if response.status().is_success() {
            return Ok(());
        }
        match failure(OP, Some(key), response).await {
            // S3 answers 204 for a missing key; some stores answer 404 `NoSuchKey`.
            StorageError::NotFound { .. } => Ok(()),
            error => Err(error),
        }
    }

    /// Deletes `keys` (missing ones included, as in S3) with `DeleteObjects`, 1000 per request.
    /// Keys the store refuses are reported together in [`StorageError::DeleteFailed`], after
    /// every batch was tried.
    pub async fn delete_many<K: AsRef<str>>(&self, keys: &[K]) -> Result<(), StorageError> {
        const OP: &str = "DeleteObjects";
        for key in keys {
            validate_key(key.as_ref())?;
        }
        let mut failures = Vec::new();
        for batch in keys.chunks(usize::from(MAX_BATCH)) {
            let body = xml::delete_objects_body(batch);
            // S3 requires an integrity check on this operation; MD5 is the one every store knows.
            let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(body.as_bytes()));
            let signed = [
                ("content-md5", md5),
                ("content-type", "application/xml".to_owned()),
            ];
            let url = self.bucket.base_url().clone();
            let response = self
                .send(
                    OP,
                    Method::Post,
                    url,
                    &[("delete", "1")],
                    &signed,
                    Some(body.into_bytes()),
                )
                .await?;
            if !response.status().is_success() {
                return Err(failure(OP, None, response).await);
            }
            let body = read_capped(OP, response, LIST_BODY_CAP)
                .await?
                .ok_or_else(|| invalid_response(OP, "the result is too large"))?;
            let result = xml::parse_delete_result(&body).map_err(|reason| invalid_response(OP, reason))?;
            failures.extend(result.errors.into_iter().map(|e| DeleteFailure {
                key: e.key,
                code: e.code,
                message: e.message,
            }));
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(StorageError::DeleteFailed { failures })
        }
    }

    /// Every object whose key starts with `prefix` (all pages of `ListObjectsV2`, in key
    /// order), keeping only those last modified strictly before `modified_before` when given.
    /// An empty prefix lists the whole bucket; everything is held in memory, so prefer
    /// [`delete_prefix_older_than`](Self::delete_prefix_older_than) for a cleanup.
    pub async fn list_prefix(
        &self,
        prefix: &str,
        modified_before: Option<DateTime<Utc>>,
    ) -> Result<Vec<ObjectSummary>, StorageError> {
        validate_prefix(prefix)?;
        let mut objects = Vec::new();
        let mut token = None;
        loop {
            let (page, next) = self.list_page(prefix, token.as_deref()).await?;
            objects.extend(page.into_iter().filter(|o| is_older(o, modified_before)));
            match next {
                Some(next) => token = Some(next),
                None => return Ok(objects),
            }
        }
    }

    /// Deletes the objects under `prefix` last modified strictly before `cutoff`, a page at a
    /// time (one `ListObjectsV2` and at most one `DeleteObjects` per 1000 keys), and returns how
    /// many were deleted. For a job cleaning abandoned uploads: `("tmp/", now - 1 day)`.
    ///
    /// `prefix` must not be empty: a cleanup of the whole bucket is surely a mistake.
    pub async fn delete_prefix_older_than(
        &self,
        prefix: &str,
        cutoff: DateTime<Utc>,
    ) -> Result<usize, StorageError> {
        if prefix.is_empty() {
            return Err(crate::invalid_key(prefix, "a cleanup needs a non-empty prefix"));
        }
        validate_prefix(prefix)?;
        let mut deleted = 0;
        let mut token = None;
        loop {
            let (page, next) = self.list_page(prefix, token.as_deref()).await?;
            let stale: Vec<String> = page
                .into_iter()
                .filter(|o| is_older(o, Some(cutoff)))
                .map(|o| o.key)
                .collect();
            if !stale.is_empty() {
                self.delete_many(&stale).await?;
                deleted += stale.len();
            }
            match next {
                Some(next) => token = Some(next),
                None => return Ok(deleted),
            }
        }
    }

    /// One `ListObjectsV2` page and the token of the next one, if any.
    async fn list_page(
        &self,
        prefix: &str,
        continuation: Option<&str>,
    ) -> Result<(Vec<ObjectSummary>, Option<String>), StorageError> {
        const OP: &str = "ListObjectsV2";
        let max_keys = self.list_page_size.to_string();
        let mut query = vec![("list-type", "2"), ("max-keys", max_keys.as_str())];
        if !prefix.is_empty() {
            query.push(("prefix", prefix));
        }
        if let Some(token) = continuation {
            query.push(("continuation-token", token));
        }
        let url = self.bucket.base_url().clone();
        let response = self.send(OP, Method::Get, url, &query, &[], None).await?;
        if !response.status().is_success() {
            return Err(failure(OP, None, response).await);
        }
        let body = read_capped(OP, response, LIST_BODY_CAP)
            .await?
            .ok_or_else(|| invalid_response(OP, "the page is too large"))?;
        let page = xml::parse_list(&body).map_err(|reason| invalid_response(OP, reason))?;
        let next = match (page.is_truncated, page.next_continuation_token) {
            (false, _) => None,
            (true, Some(token)) if continuation != Some(token.as_str()) => Some(token),
            (true, _) => return Err(invalid_response(OP, "truncated without a new continuation token")),
        };
        let objects = page
            .contents
            .into_iter()
            .map(|o| ObjectSummary {
                key: o.key,
                size: o.size,
                etag: o.etag,
                last_modified: o
                    .last_modified
                    .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                    .map(|t| t.with_timezone(&Utc)),
            })
            .collect();
        Ok((objects, next))
    }

    /// Signs and sends one request. `headers` are both signed and sent; a body gets an explicit
    /// `Content-Length` (S3 wants one on every `PUT`, `0` included).
    async fn send(
        &self,
        operation: &'static str,
        method: Method,
        url: url::Url,
        query: &[(&str, &str)],
        headers: &[(&'static str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Response, StorageError> {
        let signed_headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let url = self.sign_request(method, url, query, &signed_headers);
        let method = match method {
            Method::Head => reqwest::Method::HEAD,
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut request = self.http.request(method, url);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.header(header::CONTENT_LENGTH, body.len()).body(body);
        }
        request.send().await.map_err(|e| transport_error(operation, e))
    }
}

fn is_older(object: &ObjectSummary, cutoff: Option<DateTime<Utc>>) -> bool {
    match cutoff {
        None => true,
        // An object without a date is never taken for stale.
        Some(cutoff) => object.last_modified.is_some_and(|t| t < cutoff),
    }
}

/// Reads the body, up to `cap` bytes: `Ok(None)` if it is longer (the rest is not read).
async fn read_capped(
    operation: &'static str,
    mut response: Response,
    cap: u64,
) -> Result<Option<Vec<u8>>, StorageError> {
    let announced = content_length(&response).unwrap_or(0).min(cap);
    let mut bytes = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(operation, e))?
    {
        if (bytes.len() + chunk.len()) as u64 > cap {
            return Ok(None);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Some(bytes))
}

/// The `Content-Length` header, read from the headers (a `HEAD` answer has no body to size).
fn content_length(response: &Response) -> Option<u64> {
    response
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn meta(response: &Response, size: u64) -> ObjectMeta {
    let text = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    ObjectMeta {
        size,
        content_type: text(header::CONTENT_TYPE),
        etag: text(header::ETAG),
        // An HTTP date, `Wed, 21 Oct 2015 07:28:00 GMT`, which RFC 2822 parsing accepts.
        last_modified: text(header::LAST_MODIFIED)
            .and_then(|t| DateTime::parse_from_rfc2822(&t).ok())
            .map(|t| t.with_timezone(&Utc)),
    }
}

fn transport_error(operation: &'static str, error: reqwest::Error) -> StorageError {
    if error.is_timeout() {
        StorageError::Timeout { operation }
    } else {
        // The URL carries a (short-lived) signature: keep it out of logs.
        StorageError::Unreachable {
            operation,
            source: error.without_url(),
        }
    }
}

fn invalid_response(operation: &'static str, reason: impl Into<String>) -> StorageError {
    StorageError::InvalidResponse {
        operation,
        reason: reason.into(),
    }
}

/// The error an unsuccessful answer stands for, with S3's code and message from its body.
async fn failure(operation: &'static str, key: Option<&str>, response: Response) -> StorageError {
    let status = response.status();
    // A body that cannot be read or parsed only loses the code: the status still classifies.
    let error = read_capped(operation, response, SMALL_BODY_CAP)
        .await
        .ok()
        .flatten()
        .and_then(|body| xml::parse_error(&body))
        .unwrap_or_default();
    classify(operation, key, status, error)
}

fn classify(
    operation: &'static str,
    key: Option<&str>,
    status: StatusCode,
    error: xml::ErrorBody,
) -> StorageError {
    let xml::ErrorBody { code, message } = error;
    let code_is = |expected: &str| code.as_deref() == Some(expected);
    match (status, key) {
        (StatusCode::FORBIDDEN, _) => StorageError::AccessDenied {
            operation,
            code,
            message,
        },
        // A `404` without a body (`HEAD`) or with `NoSuchKey`; `NoSuchBucket` is a
        // configuration problem, reported as it is.
        (StatusCode::NOT_FOUND, Some(key)) if code.is_none() || code_is("NoSuchKey") => {
            StorageError::NotFound { key: key.to_owned() }
        }
        (_, Some(key)) if status == StatusCode::PRECONDITION_FAILED || code_is("PreconditionFailed") => {
            StorageError::PreconditionFailed {
                operation,
                key: key.to_owned(),
            }
        }
        _ => StorageError::UnexpectedStatus {
            operation,
            status: status.as_u16(),
            code,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response whose size is not announced (no `Content-Length`, as with chunked encoding,
    /// which `LocalS3` never uses for objects).
    fn unannounced(body: Vec<u8>) -> Response {
        Response::from(http::Response::builder().status(200).body(body).unwrap())
    }

    #[tokio::test]
    async fn reading_stops_at_the_cap_when_the_size_is_not_announced() {
        let response = unannounced(vec![7; 100]);
        assert_eq!(content_length(&response), None);
        assert_eq!(read_capped("GetObject", response, 99).await.unwrap(), None);

        let read = read_capped("GetObject", unannounced(vec![7; 100]), 100)
            .await
            .unwrap();
        assert_eq!(read, Some(vec![7; 100]));
        let empty = read_capped("GetObject", unannounced(Vec::new()), 0)
            .await
            .unwrap();
        assert_eq!(empty, Some(Vec::new()));
    }

    #[test]
    fn answers_are_classified_by_status_and_s3_code() {
        let body = |code: &str| xml::ErrorBody {
            code: Some(code.to_owned()),
            message: Some("m".to_owned()),
        };
        let none = xml::ErrorBody::default;
        assert!(matches!(
            classify("HeadObject", Some("k"), StatusCode::NOT_FOUND, none()),
            StorageError::NotFound { key } if key == "k"
        ));
        assert!(matches!(
            classify("GetObject", Some("k"), StatusCode::NOT_FOUND, body("NoSuchBucket")),
            StorageError::UnexpectedStatus { status: 404, code: Some(code), .. } if code == "NoSuchBucket"
        ));
        assert!(matches!(
            classify("GetObject", Some("k"), StatusCode::FORBIDDEN, body("RequestTimeTooSkewed")),
            StorageError::AccessDenied { code: Some(code), .. } if code == "RequestTimeTooSkewed"
        ));
        // A copy that fails after its 200 status was sent.
        assert!(matches!(
            classify("CopyObject", Some("k"), StatusCode::OK, body("InternalError")),
            StorageError::UnexpectedStatus { status: 200, code: Some(code), .. } if code == "InternalError"
        ));
        assert!(matches!(
            classify("CopyObject", Some("k"), StatusCode::PRECONDITION_FAILED, none()),
            StorageError::PreconditionFailed { key, .. } if key == "k"
        ));
        assert!(matches!(
            classify(
                "ListObjectsV2",
                None,
                StatusCode::SERVICE_UNAVAILABLE,
                body("SlowDown")
            ),
            StorageError::UnexpectedStatus { status: 503, .. }
        ));
    }
}
