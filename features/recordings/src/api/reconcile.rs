//! `POST /internal/recordings/reconcile`: one pass of the `recordings.reconcile` job on demand,
//! for a scheduler or an operator, behind a shared bearer token.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use poem::web::Data;
use poem_openapi::{param::Header, payload::Json, Object, OpenApi, Tags};
use qubital_plugin::{problem::types, AppContext, ExposeSecret, Problem};

use super::recording_unavailable;
use crate::{jobs, settings::RecordingsState};

/// What one reconcile pass did.
#[derive(Object)]
struct Reconciled {
    /// Recordings whose state changed to LiveKit's.
    updated: u64,
}

#[derive(Tags)]
enum InternalTag {
    /// Operations for operators and schedulers, authenticated by a shared bearer token; not
    /// for clients.
    Internal,
}

#[derive(Default)]
pub(crate) struct ReconcileApi;

#[OpenApi(tag = "InternalTag::Internal")]
impl ReconcileApi {
    /// Reconcile recordings now
    ///
    /// Reconcile recordings with LiveKit now.
    ///
    /// Runs one pass of the `recordings.reconcile` job: recordings unfinished and without news
    /// for two minutes take LiveKit's state. Authenticated by `Authorization: Bearer
    /// <RECORDINGS_RECONCILE_TOKEN>` (`401 invalid-token` otherwise); `503
    /// integration-disabled` when no token is configured; `503 integration-unavailable` when
    /// LiveKit cannot be asked.
    #[oai(
        path = "/internal/recordings/reconcile",
        method = "post",
        operation_id = "reconcile-recordings"
    )]
    async fn reconcile(
        &self,
        ctx: Data<&AppContext>,
        #[oai(name = "Authorization")] authorization: Header<Option<String>>,
    ) -> Result<Json<Reconciled>, Problem> {
        let Some(expected) = ctx.get::<RecordingsState>().reconcile_token.as_ref() else {
            return Err(Problem::integration_disabled("recording reconciliation"));
        };
        let given = authorization
            .0
            .as_deref()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or_default();
        // Constant time: the comparison must not tell how much of a guess was right.
        if verify_slices_are_equal(given.as_bytes(), expected.expose_secret().as_bytes()).is_err() {
            tracing::warn!("reconcile request with a wrong token");
            return Err(Problem::new(&types::INVALID_TOKEN));
        }
        let updated = jobs::reconcile_once(&ctx).await.map_err(|error| {
            tracing::error!(error = %error, "reconcile pass failed");
            recording_unavailable()
        })?;
        tracing::info!(updated, "recordings reconciled on request");
        Ok(Json(Reconciled { updated }))
    }
}
