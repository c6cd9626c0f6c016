//! `POST /recordings/{recordingId}/download-link`: a short-lived presigned GET of the
//! recording's file, so the client downloads straight from the bucket and the backend never
//! proxies the bytes. Signed with the bucket's credentials by `platform-storage` (SigV4).

use chrono::{DateTime, Utc};
use poem::{web::Data, Request};
use poem_openapi::{param::Path, payload::Json, Object, OpenApi};
use qubital_audit::{Action, AuditEvent, Target};
use qubital_plugin::{auth::CookieAuth, AppContext, Problem};

use super::RecordingsTag;
use crate::{permissions::VIEW_RECORDINGS, problems::RECORDING_NOT_READY, settings::RecordingsState, store};

/// Where to download a recording from, until when.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct RecordingDownloadLink {
    /// A presigned URL of the file (a plain `GET`, no cookie or header needed).
    pub url: String,
    /// The URL is refused after this instant; ask for a new one.
    pub expires_at: DateTime<Utc>,
}

#[derive(Default)]
pub(crate) struct RecordingDownloadsApi;

#[OpenApi(tag = "RecordingsTag::Recordings")]
impl RecordingDownloadsApi {
    /// Get a recording download link
    ///
    /// A short-lived link to download a recording's file.
    ///
    /// Permission: `ViewRecordings`. The link expires after `RECORDINGS_DOWNLOAD_LINK_TTL_SECS`
    /// (5 minutes by default). `404 not-found` for a recording of another organization;
    /// `409 recording-not-ready` until the recording is `completed` (a failed one has no
    /// file); `503 integration-disabled` when storage is not configured.
    #[oai(
        path = "/recordings/:recordingId/download-link",
        method = "post",
        operation_id = "get-recording-download-link"
    )]
    async fn download_link(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        #[oai(name = "recordingId")] recording_id: Path<String>,
    ) -> Result<Json<RecordingDownloadLink>, Problem> {
        let caller = &auth.0;
        caller.require(&VIEW_RECORDINGS)?;
        let (status, file_key) = store::file(ctx.db(), caller.organization_id, &recording_id.0)
            .await?
            .ok_or_else(Problem::not_found)?;
        let Some(key) = file_key.filter(|_| status == "completed") else {
            return Err(Problem::new(&RECORDING_NOT_READY));
        };
        let state = ctx.get::<RecordingsState>();
        let Some(storage) = state.storage.as_ref() else {
            return Err(Problem::integration_disabled("recording downloads"));
        };
        // Keys are chosen by the backend, so a refusal here is a bug, not bad input.
        let link = storage
            .presigned_get(&key, state.download_link_ttl)
            .map_err(Problem::internal)?;
        // Who took the file out is the trail's business: no link without its row.
        let mut tx = ctx.db().begin().await?;
        qubital_audit::record(
            &mut tx,
            AuditEvent::by(caller, Action::RecordingDownloadLinkCreated, req)
                .target(Target::new("recording", &recording_id.0)),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(recording_id = %recording_id.0, "download link issued");
        Ok(Json(RecordingDownloadLink {
            url: link.url,
            expires_at: link.expires_at,
        }))
    }
}
