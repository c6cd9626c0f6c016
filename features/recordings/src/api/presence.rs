//! `POST /recordings/presence/update`: who is in a zone that is being recorded. The client in
//! the zone reports the people it sees there whenever that changes; everyone reported while the
//! recording is active becomes one of its participants (a recording's participants are the
//! people who were in it at some point, so nobody is ever removed).

use poem::web::Data;
use poem_openapi::{payload::Json, Object, OpenApi};
use qubital_auth::directory::{self, IdsAt};
use qubital_plugin::{auth::CookieAuth, wire, AppContext, Problem};
use uuid::Uuid;

use super::{load, zone_and_participants, Recording, RecordingsTag};
use crate::{permissions::VIEW_RECORDINGS, problems::RECORDING_NOT_ACTIVE, store};

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordingPresenceRequest {
    /// The space whose zone is being recorded.
    pub space_id: Uuid,
    /// The recorded zone: 1..64 of `A-Z a-z 0-9 _ - . :`.
    pub zone: wire::Key<64>,
    /// Users in the zone now (user ids of members of the organization, ≤ 100).
    #[oai(validator(max_items = 100))]
    pub participant_ids: Vec<wire::IdText>,
}

#[derive(Default)]
pub(crate) struct RecordingPresenceApi;

#[OpenApi(tag = "RecordingsTag::Recordings")]
impl RecordingPresenceApi {
    /// Report who is in a recorded zone
    ///
    /// Report who is in a zone that is being recorded.
    ///
    /// Permission: `ViewRecordings`. The users become participants of the zone's active
    /// recording (none is removed: participants are everyone who was there at some point). The
    /// answer is that recording. `404 not-found` for a space of another organization or a
    /// user who is not a member of it (naming the id); `409 recording-not-active` when the zone
    /// is not being recorded.
    #[oai(
        path = "/recordings/presence/update",
        method = "post",
        operation_id = "update-recording-presence"
    )]
    async fn update(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<RecordingPresenceRequest>,
    ) -> Result<Json<Recording>, Problem> {
        let caller = &auth.0;
        caller.require(&VIEW_RECORDINGS)?;
        let body = body.0;
        let mut errors = Vec::new();
        let participants = zone_and_participants(&body.zone, &body.participant_ids, &mut errors);
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }

        let mut tx = ctx.db().begin().await?;
        let space = qubital_spaces::find_in_organization(&mut *tx, caller.organization_id, body.space_id)
            .await?
            .ok_or_else(Problem::not_found)?;
        directory::require_members(
            &mut tx,
            caller.organization_id,
            IdsAt::Each("body.participantIds"),
            &participants,
        )
        .await?;
        // Locked so a concurrent stop cannot finish it between this check and the insert.
        let Some((id, recording_id)) =
            store::lock_active_in_zone(&mut tx, caller.organization_id, space.id, &body.zone).await?
        else {
            return Err(Problem::new(&RECORDING_NOT_ACTIVE)
                .with_detail("This zone of the space is not being recorded."));
        };
        let added = store::add_participants(&mut tx, id, &participants).await?;
        let recording = load(&mut tx, caller.organization_id, &recording_id).await?;
        tx.commit().await?;
        if added > 0 {
            tracing::info!(%recording_id, added, "recording participants added");
        }
        Ok(Json(recording))
    }
}
