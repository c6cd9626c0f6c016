//! The upload operations, one `#[OpenApi]` type per resource: the caller's avatar ([`avatar`],
//! tag `User`) and the organization's logo ([`logo`], tag `Organizations`). Here: the DTOs and
//! the two steps they share, [`issue`] (the ticket) and [`publish`] (checking the upload and
//! copying it to its final key), and the cleanup after a change ([`clean_up`]).

mod avatar;
mod logo;

use std::time::Duration;

use chrono::{DateTime, Utc};
use platform_storage::{CopyOptions, ObjectHeaders, StorageError};
use poem_openapi::{Enum, Object};
use qubital_plugin::{auth::Caller, AppContext, Problem};
use uuid::Uuid;

pub(crate) use avatar::AvatarApi;
pub(crate) use logo::LogoApi;

use crate::{
    image::{self, Format},
    problems::{
        UPLOAD_CHANGED, UPLOAD_MISSING, UPLOAD_TICKET_EXPIRED, UPLOAD_TICKET_UNKNOWN, UPLOAD_TOO_LARGE,
    },
    settings::{Bucket, UploadState},
    store::{self, Kind, NewTicket},
};

/// The largest file accepted, in bytes (5 MiB).
pub const MAX_BYTES: u64 = 5 * 1024 * 1024;
/// How long the presigned `PUT` works.
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(120);
/// How long after the `PUT` URL expires the upload may still be finalized (an upload started
/// at the last second has time to finish).
pub const FINALIZE_GRACE: Duration = Duration::from_secs(10 * 60);
/// Final keys are never reused (each has the ticket's id), so their content never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The types of image accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum ImageContentType {
    #[oai(rename = "image/png")]
    Png,
    #[oai(rename = "image/jpeg")]
    Jpeg,
    #[oai(rename = "image/webp")]
    Webp,
}

impl ImageContentType {
    fn as_str(self) -> &'static str {
        match self {
            ImageContentType::Png => "image/png",
            ImageContentType::Jpeg => "image/jpeg",
            ImageContentType::Webp => "image/webp",
        }
    }
}

/// The file the client is about to upload.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadTicketRequest {
    /// The file's type, sent as `Content-Type` with the upload. Finalize checks the bytes
    /// themselves, whatever this says.
    content_type: ImageContentType,
    /// The file's exact size in bytes, at most 5 MiB: the upload URL is signed for exactly this
    /// `Content-Length`.
    #[oai(validator(minimum(value = "1"), maximum(value = "5242880")))]
    size: u64,
}

/// A header the upload must carry with exactly this value (the signature covers it).
#[derive(Debug, Object)]
pub struct UploadHeader {
    pub name: String,
    pub value: String,
}

/// Where and how to upload the file; then call the matching finalize with `key`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct UploadTicket {
    /// The temporary key the file goes to: give it back to finalize.
    pub key: String,
    /// `PUT` the file's bytes here, with `headers`, before `expiresAt`.
    pub upload_url: String,
    /// `Content-Type` and `Content-Length`, as declared (a browser sets `Content-Length`
    /// itself).
    pub headers: Vec<UploadHeader>,
    /// When `uploadUrl` stops working (120 s after the ticket).
    pub expires_at: DateTime<Utc>,
    /// The last moment to finalize (10 minutes after `expiresAt`).
    pub finalize_by: DateTime<Utc>,
    /// The largest file accepted, in bytes.
    pub max_bytes: u64,
}

/// The upload to finish.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct FinalizeUploadRequest {
    /// The ticket's `key`.
    #[oai(validator(
        max_length = 60,
        pattern = "^tmp/[a-z]+/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    ))]
    key: String,
}

/// The configured bucket, or `503 integration-disabled` (development without `UPLOADS_*`).
fn bucket(ctx: &AppContext) -> Result<&Bucket, Problem> {
    ctx.try_get::<UploadState>()
        .and_then(|state| state.storage.as_ref())
        .ok_or_else(|| Problem::integration_disabled("Image uploads"))
}

/// A failure of the store the client cannot fix: `503 integration-unavailable` (logged).
fn storage_problem(error: StorageError) -> Problem {
    Problem::integration_unavailable("Object storage", error)
}

/// Step 1: a ticket for `caller` to upload one image of `kind` under `tmp/`.
async fn issue(
    ctx: &AppContext,
    caller: &Caller,
    kind: Kind,
    request: UploadTicketRequest,
) -> Result<UploadTicket, Problem> {
    let bucket = bucket(ctx)?;
    // The schema bounds it; checked again so that no path signs a larger upload.
    if !(1..=MAX_BYTES).contains(&request.size) {
        return Err(Problem::invalid_field("body.size", "must be 1 to 5242880 bytes"));
    }
    let id = Uuid::new_v4();
    let key = format!("{}{id}", kind.tmp_prefix());
    let content_type = request.content_type.as_str();
    let presigned = bucket
        .storage
        .presigned_put_sized(&key, UPLOAD_URL_TTL, content_type, request.size)
        .map_err(Problem::internal)?;
    let finalize_by =
        presigned.expires_at + chrono::Duration::from_std(FINALIZE_GRACE).expect("minutes fit chrono");
    store::insert(
        ctx.db(),
        &NewTicket {
            id,
            kind,
            user_id: caller.user_id,
            org_id: caller.organization_id,
            content_type,
            size_bytes: i64::try_from(request.size).expect("at most 5 MiB"),
            expires_at: finalize_by,
        },
    )
    .await?;
    Ok(UploadTicket {
        key,
        upload_url: presigned.url,
        headers: presigned
            .headers
            .into_iter()
            .map(|(name, value)| UploadHeader { name, value })
            .collect(),
        expires_at: presigned.expires_at,
        finalize_by,
        max_bytes: MAX_BYTES,
    })
}

/// An upload checked and copied to its final key, whose ticket is still to be consumed in the
/// transaction that publishes its URL.
struct Published {
    ticket_id: Uuid,
    tmp_key: String,
    /// The public URL of the final object.
    url: String,
}

fn unknown_ticket() -> Problem {
    Problem::new(&UPLOAD_TICKET_UNKNOWN)
}

/// Step 2, before the database change: `caller`'s ticket of `kind` with this `key` is found
/// (else `404 upload-ticket-unknown`) and not expired (`410`); the object is read back (`409
/// upload-missing`, `422 upload-too-large` over the ticket's size), checked from its bytes
/// (`422 upload-not-an-image`, `upload-image-dimensions`) and copied to `final_key(ticket id,
/// format)` with the type its bytes have, provided it was not replaced since it was read (`409
/// upload-changed`).
async fn publish(
    ctx: &AppContext,
    caller: &Caller,
    kind: Kind,
    key: &str,
    final_key: impl FnOnce(Uuid, Format) -> String,
) -> Result<Published, Problem> {
    let bucket = bucket(ctx)?;
    // Only the canonical form of an id is a key we issued.
    let id = key
        .strip_prefix(kind.tmp_prefix())
        .and_then(|id| Uuid::parse_str(id).ok().filter(|parsed| parsed.to_string() == id))
        .ok_or_else(unknown_ticket)?;
    let ticket = store::find(ctx.db(), id, kind, caller.user_id, caller.organization_id)
        .await?
        .ok_or_else(unknown_ticket)?;
    if ticket.expires_at <= Utc::now() {
        return Err(Problem::new(&UPLOAD_TICKET_EXPIRED));
    }
    let max_bytes = u64::try_from(ticket.size_bytes).unwrap_or(0);
    let object = bucket
        .storage
        .get(key, max_bytes)
        .await
        .map_err(|error| match error {
            StorageError::NotFound { .. } => Problem::new(&UPLOAD_MISSING),
            StorageError::TooLarge { .. } => Problem::new(&UPLOAD_TOO_LARGE)
                .with_detail(format!("The ticket was issued for {max_bytes} bytes.")),
            other => storage_problem(other),
        })?;
    let image = image::inspect(&object.bytes)?;
    let final_key = final_key(ticket.id, image.format);
    let options = CopyOptions {
        if_match: object.meta.etag.clone(),
        replace_headers: Some(ObjectHeaders::new(image.format.content_type()).with_cache_control(IMMUTABLE)),
    };
    bucket
        .storage
        .copy_with(key, &final_key, &options)
        .await
        .map_err(|error| match error {
            StorageError::PreconditionFailed { .. } => Problem::new(&UPLOAD_CHANGED),
            StorageError::NotFound { .. } => Problem::new(&UPLOAD_MISSING),
            other => storage_problem(other),
        })?;
    Ok(Published {
        ticket_id: ticket.id,
        tmp_key: key.to_owned(),
        url: bucket.public_url(&final_key),
    })
}

/// After the change committed: the temporary object goes, and so does the image `replaced`
/// pointed at if it is one of ours under `prefix` (an URL set otherwise is left alone). A
/// failure is logged only: the change stands, and `tmp/` is cleaned by the job anyway.
async fn clean_up(bucket: &Bucket, tmp_key: Option<&str>, replaced: Option<&str>, prefix: &str) {
    let old_key = replaced.and_then(|url| bucket.key_of(url, prefix));
    for key in tmp_key.into_iter().chain(old_key) {
        if let Err(error) = bucket.storage.delete(key).await {
            tracing::warn!(key, error = %error, "an upload's object could not be deleted");
        }
    }
}
