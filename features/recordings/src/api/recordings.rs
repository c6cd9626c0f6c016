//! Start, stop and list recordings.

use std::time::Duration;

use chrono::{DateTime, Utc};
use platform_livekit::{
    egress::{RoomRecording, S3Destination},
    LiveKit, ServerApiError,
};
use poem::{web::Data, Request};
use poem_openapi::{param::Path, payload::Json, Object, OpenApi};
use qubital_audit::{Action, AuditEvent, Target};
use qubital_auth::directory::{self, IdsAt};
use qubital_plugin::{
    auth::{Caller, CookieAuth},
    list::contains_pattern,
    problem::types,
    wire, AppContext, DirectJson, FieldError, Page, Problem,
};
use qubital_spaces::SpaceRef;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{load, recording, unavailable, zone_and_participants, Recording, RecordingsTag, PEOPLE_MAX};
use crate::{
    egress, metrics,
    permissions::{START_RECORDING, STOP_RECORDING, VIEW_RECORDINGS},
    problems::{RECORDING_ACTIVE, RECORDING_NOT_ACTIVE, RECORDING_QUOTA_EXCEEDED, RECORDING_REFUSED},
    settings::RecordingsState,
    store::{self, NewRecording, RecordingFilter},
};

const TOPIC_MAX: usize = 200;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartRecordingRequest {
    /// The space whose conference is recorded.
    pub space_id: Uuid,
    /// Conference topic (1..200 characters, trimmed).
    pub topic: wire::Name<TOPIC_MAX>,
    /// Zone of the space being recorded: 1..64 of `A-Z a-z 0-9 _ - . :`.
    pub zone: wire::Key<64>,
    /// Users present in the zone at start (user ids of members of the organization, ≤ 100).
    #[oai(default, validator(max_items = 100))]
    pub participant_ids: Vec<wire::IdText>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListRecordingsRequest {
    /// 1..100, default 20.
    #[oai(
        default = "qubital_plugin::list::default_limit",
        validator(minimum(value = "1"), maximum(value = "100"))
    )]
    pub limit: u32,
    #[oai(default)]
    pub offset: u32,
    /// Case-insensitive substring of the topic.
    pub name: Option<wire::FreeText<200>>,
    /// Keeps recordings in which **every** listed user (user ids, ≤ 100) took part.
    #[oai(validator(max_items = 100))]
    pub people: Option<Vec<wire::IdText>>,
    /// Started at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Started before this instant.
    pub to: Option<DateTime<Utc>>,
}

/// A start request, checked.
struct Start {
    space_id: Uuid,
    /// Trimmed.
    topic: String,
    zone: String,
    /// Distinct user ids.
    participants: Vec<i64>,
}

impl Start {
    /// `422` for a topic, zone or participant id the schema cannot check.
    fn validate(body: StartRecordingRequest) -> Result<Self, Problem> {
        let mut errors = Vec::new();
        let topic = body.topic.trim();
        if topic.is_empty() || topic.chars().count() > TOPIC_MAX || topic.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "body.topic",
                format!("1..{TOPIC_MAX} characters, no control characters"),
            ));
        }
        let participants = zone_and_participants(&body.zone, &body.participant_ids, &mut errors);
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        Ok(Self {
            space_id: body.space_id,
            topic: topic.to_owned(),
            zone: body.zone.into_string(),
            participants,
        })
    }
}

#[derive(Default)]
pub(crate) struct RecordingsApi;

#[OpenApi(tag = "RecordingsTag::Recordings")]
impl RecordingsApi {
    /// Start a recording
    ///
    /// Start recording a zone of a space.
    ///
    /// Permission: `StartRecording`. The conference of the space (same organization) is
    /// recorded to object storage. `402 recording-quota-exceeded` when the organization has
    /// started its monthly quota of recordings; `409 recording-active` when that zone is already
    /// being recorded; `404 not-found` for a participant who is not a member (naming the id);
    /// `503 integration-unavailable`
    /// when the recording service failed (nothing is recorded).
    #[oai(path = "/recordings/start", method = "post", operation_id = "start-recording")]
    async fn start(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        body: Json<StartRecordingRequest>,
    ) -> Result<Json<Recording>, Problem> {
        let caller = &auth.0;
        caller.require(&START_RECORDING)?;
        let start = Start::validate(body.0)?;
        let state = ctx.get::<RecordingsState>();
        let livekit = ctx.get::<LiveKit>();
        let Some(destination) = state.destination.as_ref().filter(|_| livekit.is_enabled()) else {
            return Err(Problem::integration_disabled("recording"));
        };

        // One start at a time per organization: two concurrent requests ask LiveKit once, and
        // the quota count is exact. The lease (not a lock) is what is held across the LiveKit
        // call, so a slow LiveKit keeps no pooled connection (docs/recordings.md).
        let org_id = caller.organization_id;
        let lease = Uuid::new_v4();
        let claim = || async {
            let taken = store::claim_start(ctx.db(), org_id, lease, START_LEASE.as_secs_f64()).await?;
            Ok::<_, Problem>(taken.then_some(()))
        };
        if qubital_plugin::lease::wait_for(START_WAIT, claim)
            .await?
            .is_none()
        {
            return Err(Problem::new(&types::INTEGRATION_UNAVAILABLE)
                .with_detail("Another recording of this organization is starting; retry shortly.")
                .with_retry_after(5));
        }
        let outcome = start_leased(&ctx, req, caller, &start, destination, lease).await;
        if outcome.is_err() {
            // Saved starts ended the lease in their transaction; a failed one gives it back.
            if let Err(error) = store::end_start(ctx.db(), org_id, lease).await {
                tracing::warn!(%error, "could not give a recording start lease back; it expires on its own");
            }
        }
        outcome.map(Json)
    }

    /// Stop a recording
    ///
    /// Stop a recording.
    ///
    /// Permission: `StopRecording`. The answer is normally `ending` (the file is being
    /// finalized; the status becomes `completed` or `failed` when LiveKit reports it).
    /// `409 recording-not-active` when it is not recording.
    #[oai(
        path = "/recordings/:recordingId/stop",
        method = "post",
        operation_id = "stop-recording"
    )]
    async fn stop(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        #[oai(name = "recordingId")] recording_id: Path<String>,
    ) -> Result<Json<Recording>, Problem> {
        let caller = &auth.0;
        caller.require(&STOP_RECORDING)?;
        let livekit = ctx.get::<LiveKit>();
        // Read, then ask LiveKit with no connection held; the answer is written under the row's
        // lock. Two stops at once both reach LiveKit (stopping is idempotent there) and both
        // write its answer, which only ever moves a recording forward.
        let row = store::find(
            &mut *ctx.db().acquire().await?,
            caller.organization_id,
            &recording_id.0,
        )
        .await?
        .ok_or_else(Problem::not_found)?;
        if row.status != "active" {
            return Err(Problem::new(&RECORDING_NOT_ACTIVE));
        }
        let egress = match livekit.stop_egress(&row.egress_id).await {
            Ok(egress) => Some(egress),
            // Already over at LiveKit (or unknown there): take its word for the state.
            Err(ServerApiError::Refused(_)) | Err(ServerApiError::NotFound) => {
                livekit.egress(&row.egress_id).await.map_err(unavailable)?
            }
            Err(other) => return Err(unavailable(other)),
        };
        let mut tx = ctx.db().begin().await?;
        store::lock(&mut tx, caller.organization_id, &row.egress_id)
            .await?
            .ok_or_else(Problem::not_found)?;
        let changed = match egress {
            Some(egress) => egress::apply(&mut tx, &egress).await?,
            None => egress::fail_unknown(&mut tx, &row.egress_id, "unknown to LiveKit when stopped").await?,
        };
        let recording = load(&mut tx, caller.organization_id, &row.egress_id).await?;
        qubital_audit::record(
            &mut tx,
            AuditEvent::by(caller, Action::RecordingStopped, req)
                .target(Target::new("recording", &row.egress_id)),
        )
        .await?;
        tx.commit().await?;
        changed.iter().for_each(egress::Changed::count);
        tracing::info!(recording_id = %row.egress_id, "recording stopped");
        Ok(Json(recording))
    }

    /// List recordings
    ///
    /// List the organization's recordings, newest first: filter by topic, people and a date
    /// span, page with `limit`/`offset`.
    ///
    /// Permission: `ViewRecordings`.
    #[oai(path = "/recordings/list", method = "post", operation_id = "list-recordings")]
    async fn list(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<ListRecordingsRequest>,
    ) -> Result<DirectJson<Page<Recording>>, Problem> {
        let caller = &auth.0;
        caller.require(&VIEW_RECORDINGS)?;
        let body = body.0;
        let filter = list_filter(caller.organization_id, &body)?;
        let mut conn = ctx.db().acquire().await?;
        let (rows, total) = store::list(&mut conn, &filter).await?;
        let data = rows
            .into_iter()
            .map(|(row, participants)| recording(row, &participants))
            .collect();
        Ok(DirectJson(Page::new(data, body.limit, body.offset, total)))
    }
}

/// How long a start's lease lasts: longer than its checks and its LiveKit call (cut off at 10 s)
/// take; a start that crashed holds it no longer.
const START_LEASE: Duration = Duration::from_secs(60);
/// How long a start waits for another start of its organization.
const START_WAIT: Duration = Duration::from_secs(20);

/// A start, its organization's start lease held: the checks (one pooled connection, given back
/// before LiveKit is asked), the LiveKit call, then the save, which ends the lease.
async fn start_leased(
    ctx: &AppContext,
    req: &Request,
    caller: &Caller,
    start: &Start,
    destination: &S3Destination,
    lease: Uuid,
) -> Result<Recording, Problem> {
    let org_id = caller.organization_id;
    let quota = ctx.get::<RecordingsState>().monthly_quota;
    let space = check_start(&mut *ctx.db().acquire().await?, org_id, start, quota).await?;
    let file_key = format!("recordings/{}/{}.mp4", space.id, Uuid::now_v7());
    let livekit = ctx.get::<LiveKit>();
    let egress_id = start_egress(livekit, destination, &space, &file_key).await?;
    let saved = async {
        let mut tx = ctx.db().begin().await?;
        if !store::end_start(&mut *tx, org_id, lease).await? {
            // It expired and another start took it: this one may break the quota or the zone.
            return Err(Problem::new(&types::INTEGRATION_UNAVAILABLE)
                .with_detail("Starting took too long; retry.")
                .with_retry_after(5));
        }
        save_start(tx, req, caller, start, &egress_id, &file_key).await
    }
    .await;
    match saved {
        Ok(recording) => {
            tracing::info!(recording_id = %egress_id, space_id = %space.id, "recording started");
            Ok(recording)
        }
        Err(problem) => {
            // Nothing records it: do not leave LiveKit recording.
            if let Err(error) = livekit.stop_egress(&egress_id).await {
                tracing::error!(%error, recording_id = %egress_id, "an unsaved recording could not be stopped");
            }
            Err(problem)
        }
    }
}

/// The checks of a start, under the organization's start lease: the space (`404`), the
/// participants (`404`), nothing recording that zone (`409 recording-active`), the monthly
/// quota (`402 recording-quota-exceeded`).
async fn check_start(
    conn: &mut sqlx::PgConnection,
    org_id: i64,
    start: &Start,
    monthly_quota: u32,
) -> Result<SpaceRef, Problem> {
    let space = qubital_spaces::find_in_organization(&mut *conn, org_id, start.space_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    directory::require_members(
        conn,
        org_id,
        IdsAt::Each("body.participantIds"),
        &start.participants,
    )
    .await?;
    if store::zone_is_recording(conn, org_id, space.id, &start.zone).await? {
        return Err(Problem::new(&RECORDING_ACTIVE));
    }
    if store::started_this_month(conn, org_id).await? >= i64::from(monthly_quota) {
        return Err(Problem::new(&RECORDING_QUOTA_EXCEEDED));
    }
    Ok(space)
}

/// Asks LiveKit to record the space's conference room (named by the space id) into
/// `file_key`. Returns the egress id. A refusal (nobody in the room) is `409
/// recording-refused`; any other failure `503`.
async fn start_egress(
    livekit: &LiveKit,
    destination: &S3Destination,
    space: &SpaceRef,
    file_key: &str,
) -> Result<String, Problem> {
    let room = space.id.to_string();
    let egress = livekit
        .start_room_recording(&RoomRecording {
            room: &room,
            filepath: file_key,
            destination,
        })
        .await
        .map_err(|error| match error {
            ServerApiError::Refused(reason) => {
                tracing::warn!(%reason, "the recording was refused");
                Problem::new(&RECORDING_REFUSED)
            }
            other => unavailable(other),
        })?;
    Ok(egress.id)
}

/// Saves a started recording and its participants, commits, and counts it. The space is looked
/// up again: deleted while LiveKit was asked, the recording is kept without it (as its foreign
/// key's `ON DELETE SET NULL` would have left it).
async fn save_start(
    mut tx: Transaction<'static, Postgres>,
    req: &Request,
    caller: &Caller,
    start: &Start,
    egress_id: &str,
    file_key: &str,
) -> Result<Recording, Problem> {
    let org_id = caller.organization_id;
    let space = qubital_spaces::find_in_organization(&mut *tx, org_id, start.space_id).await?;
    let new = NewRecording {
        egress_id,
        org_id,
        room_id: space.map(|space| space.internal_id),
        space_id: start.space_id,
        zone: &start.zone,
        topic: &start.topic,
        started_by: caller.user_id,
        file_key,
    };
    let id = store::insert(&mut tx, &new).await?;
    store::add_participants(&mut tx, id, &start.participants).await?;
    let org_label = metrics::org_label(&mut tx, org_id).await?;
    let recording = load(&mut tx, org_id, egress_id).await?;
    qubital_audit::record(
        &mut tx,
        AuditEvent::by(caller, Action::RecordingStarted, req)
            .target(Target::new("recording", egress_id).named(&start.topic))
            .target(Target::new("space", start.space_id)),
    )
    .await?;
    tx.commit().await?;
    metrics::recording_started(&org_label);
    Ok(recording)
}

/// A list request as a store filter; `422` for a malformed person. A span that ends before it
/// starts is kept as it is: it holds no recording.
fn list_filter(org_id: i64, body: &ListRecordingsRequest) -> Result<RecordingFilter, Problem> {
    let mut errors = Vec::new();
    let people = match body.people.as_deref() {
        // Refused before looking at any of them (the schema says so too).
        Some(ids) if ids.len() > PEOPLE_MAX => {
            errors.push(FieldError::new("body.people", format!("at most {PEOPLE_MAX}")));
            None
        }
        ids => ids
            .map(|ids| wire::distinct_ids("body.people", ids, &mut errors))
            .filter(|ids| !ids.is_empty()),
    };
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    Ok(RecordingFilter {
        org_id,
        topic_like: body
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(contains_pattern),
        people,
        from: body.from,
        to: body.to,
        limit: i64::from(body.limit),
        offset: i64::from(body.offset),
    })
}
