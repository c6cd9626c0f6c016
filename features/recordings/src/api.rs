//! The recording operations: start, stop, list. Presence in the recorded zone and download
//! links are in their own modules, under the same tag.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use platform_livekit::{egress::RoomRecording, LiveKit, ServerApiError};
use poem::web::Data;
use poem_openapi::{param::Path, payload::Json, Enum, Object, OpenApi, Tags};
use qubital_plugin::{auth::CookieAuth, problem::types, AppContext, FieldError, Page, Problem};
use uuid::Uuid;

use crate::{
    metrics,
    permissions::{START_RECORDING, STOP_RECORDING, VIEW_RECORDINGS},
    problems::{RECORDING_ACTIVE, RECORDING_NOT_ACTIVE, RECORDING_QUOTA_EXCEEDED, RECORDING_REFUSED},
    store::{self, RecordingRow},
    RecordingsState,
};

const TOPIC_MAX: usize = 200;
const ZONE_MAX: usize = 64;
const PARTICIPANTS_MAX: usize = 100;

#[derive(Tags)]
pub(crate) enum RecordingsTag {
    /// Recordings of a space's zone, stored as files and listed per organization.
    Recordings,
}

/// Where a recording is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum RecordingStatus {
    /// Recording now.
    Active,
    /// Asked to stop; the file is being finalized.
    Ending,
    /// The file is stored.
    Completed,
    /// The recording failed; there may be no file.
    Failed,
}

impl RecordingStatus {
    fn from_row(status: &str) -> Self {
        match status {
            "active" => RecordingStatus::Active,
            "ending" => RecordingStatus::Ending,
            "completed" => RecordingStatus::Completed,
            _ => RecordingStatus::Failed,
        }
    }
}

/// A recording.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Recording {
    /// Opaque id of the recording.
    pub recording_id: String,
    /// The recorded space; absent once the space is deleted.
    pub space_id: Option<Uuid>,
    pub zone: String,
    /// The conference topic given at start.
    pub topic: String,
    pub status: RecordingStatus,
    /// Who started it (a user id); absent once that user is deleted.
    pub started_by: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Length of the recorded file, whole seconds, once known.
    pub duration_seconds: Option<u64>,
    /// Users who were in the recorded zone: at start, or reported since (user ids).
    pub participant_ids: Vec<String>,
}

fn recording(row: RecordingRow, participants: Vec<String>) -> Recording {
    Recording {
        recording_id: row.egress_id,
        space_id: row.space_id,
        zone: row.zone,
        topic: row.topic,
        status: RecordingStatus::from_row(&row.status),
        started_by: row.started_by.map(|id| id.to_string()),
        started_at: row.started_at,
        ended_at: row.ended_at,
        duration_seconds: row.duration_ms.map(|ms| (ms.max(0) / 1000) as u64),
        participant_ids: participants,
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartRecordingRequest {
    /// The space whose conference is recorded.
    pub space_id: Uuid,
    /// Conference topic (1..200 characters).
    pub topic: String,
    /// Zone of the space being recorded: 1..64 of `A-Z a-z 0-9 _ - . :`.
    pub zone: String,
    /// Users present in the zone at start (user ids of members of the organization, ≤ 100).
    #[oai(default)]
    pub participant_ids: Vec<String>,
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
    pub name: Option<String>,
    /// Keeps recordings in which **every** listed user (user ids) took part.
    pub people: Option<Vec<String>>,
    /// Started at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Started before this instant.
    pub to: Option<DateTime<Utc>>,
}

fn parse_user_ids(location: &str, ids: &[String], errors: &mut Vec<FieldError>) -> Vec<i64> {
    let mut parsed = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        match id.trim().parse::<i64>() {
            Ok(value) if value > 0 => {
                if !parsed.contains(&value) {
                    parsed.push(value)
                }
            }
            _ => errors.push(FieldError::new(format!("{location}[{i}]"), "not a user id")),
        }
    }
    parsed
}

/// A field error for each user of `users` who is not a member of organization `org_id`.
pub(crate) async fn not_members(
    conn: &mut sqlx::PgConnection,
    org_id: i64,
    location: &str,
    users: &[i64],
) -> Result<Vec<FieldError>, sqlx::Error> {
    let mut errors = Vec::new();
    for (i, user) in users.iter().enumerate() {
        if qubital_auth::directory::membership_role(conn, *user, org_id)
            .await?
            .is_none()
        {
            errors.push(FieldError::new(
                format!("{location}[{i}]"),
                "not a member of the organization",
            ));
        }
    }
    Ok(errors)
}

/// Checks a request's `zone` and `participantIds` (adding to `errors`); returns the distinct
/// participant user ids.
pub(crate) fn zone_and_participants(
    zone: &str,
    participant_ids: &[String],
    errors: &mut Vec<FieldError>,
) -> Vec<i64> {
    if !valid_zone(zone) {
        errors.push(FieldError::new(
            "body.zone",
            format!("1..{ZONE_MAX} of A-Z a-z 0-9 _ - . :"),
        ));
    }
    if participant_ids.len() > PARTICIPANTS_MAX {
        errors.push(FieldError::new(
            "body.participantIds",
            format!("at most {PARTICIPANTS_MAX}"),
        ));
    }
    parse_user_ids("body.participantIds", participant_ids, errors)
}

fn valid_zone(zone: &str) -> bool {
    (1..=ZONE_MAX).contains(&zone.len())
        && zone
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

/// `503 integration-unavailable`: LiveKit failed (the detail is in the logs only).
pub(crate) fn recording_unavailable() -> Problem {
    Problem::new(&types::INTEGRATION_UNAVAILABLE)
        .with_detail("The recording service is unavailable; try again.")
        .with_retry_after(5)
}

fn unavailable(error: ServerApiError) -> Problem {
    match error {
        ServerApiError::Disabled => Problem::integration_disabled("recording"),
        other => {
            tracing::error!(error = %other, "the recording service failed");
            recording_unavailable()
        }
    }
}

pub(crate) async fn load(
    conn: &mut sqlx::PgConnection,
    org_id: i64,
    recording_id: &str,
) -> Result<Recording, Problem> {
    let row = store::find(conn, org_id, recording_id, false)
        .await?
        .ok_or_else(Problem::not_found)?;
    let participants = store::participants(conn, &[row.id]).await?;
    Ok(recording(
        row,
        participants
            .into_iter()
            .map(|(_, user)| user.to_string())
            .collect(),
    ))
}

#[derive(Default)]
pub struct RecordingsApi;

#[OpenApi(tag = "RecordingsTag::Recordings")]
impl RecordingsApi {
    /// Start recording a zone of a space.
    ///
    /// Permission: `StartRecording`. The conference of the space (same organization) is
    /// recorded to object storage. `402 recording-quota-exceeded` when the organization has
    /// started its monthly quota of recordings; `409 recording-active` when that zone is already
    /// being recorded; `422 validation` for an unknown participant; `503 integration-unavailable`
    /// when the recording service failed (nothing is recorded).
    #[oai(path = "/recordings/start", method = "post", operation_id = "start-recording")]
    async fn start(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<StartRecordingRequest>,
    ) -> Result<Json<Recording>, Problem> {
        let caller = &auth.0;
        caller.require(&START_RECORDING)?;
        let body = body.0;
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
        let state = ctx.get::<RecordingsState>();
        let livekit = ctx.get::<LiveKit>();
        let Some(destination) = state.destination.as_ref().filter(|_| livekit.is_enabled()) else {
            return Err(Problem::integration_disabled("recording"));
        };

        let mut tx = ctx.db().begin().await?;
        // One start at a time per organization: the checks below and LiveKit's egress happen
        // once for two concurrent requests, and the quota count is exact.
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtextextended('qubital.recordings.start:' || $1::text, 0))",
        )
        .bind(caller.organization_id)
        .execute(&mut *tx)
        .await?;
        let space = qubital_spaces::find_in_organization(&mut *tx, caller.organization_id, body.space_id)
            .await?
            .ok_or_else(Problem::not_found)?;
        let errors = not_members(
            &mut tx,
            caller.organization_id,
            "body.participantIds",
            &participants,
        )
        .await?;
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        let active: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM recordings
                            WHERE org_id = $1 AND space_id = $2 AND zone = $3 AND status = 'active')",
        )
        .bind(caller.organization_id)
        .bind(space.id)
        .bind(&body.zone)
        .fetch_one(&mut *tx)
        .await?;
        if active {
            return Err(Problem::new(&RECORDING_ACTIVE));
        }
        let this_month: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM recordings
             WHERE org_id = $1 AND started_at >= date_trunc('month', now(), 'UTC')",
        )
        .bind(caller.organization_id)
        .fetch_one(&mut *tx)
        .await?;
        if this_month >= i64::from(state.monthly_quota) {
            return Err(Problem::new(&RECORDING_QUOTA_EXCEEDED));
        }

        let room = space.id.to_string();
        let filepath = format!("recordings/{room}/{}.mp4", Uuid::now_v7());
        let egress = livekit
            .start_room_recording(&RoomRecording {
                room: &room,
                filepath: &filepath,
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

        let saved = async {
            let (id, org_public_id): (i64, String) = sqlx::query_as(
                "INSERT INTO recordings (egress_id, org_id, room_id, space_id, zone, topic, started_by, file_key)
                 VALUES ($1, $2, (SELECT id FROM rooms WHERE room_id = $3 AND org_id = $2), $3, $4, $5, $6, $7)
                 RETURNING id, (SELECT public_id FROM organizations WHERE id = $2)",
            )
            .bind(&egress.id)
            .bind(caller.organization_id)
            .bind(space.id)
            .bind(&body.zone)
            .bind(topic)
            .bind(caller.user_id)
            .bind(&filepath)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO recording_participants (recording_id, user_id) SELECT $1, unnest($2::bigint[])",
            )
            .bind(id)
            .bind(&participants)
            .execute(&mut *tx)
            .await?;
            let recording = load(&mut tx, caller.organization_id, &egress.id).await?;
            tx.commit().await?;
            metrics::recording_started(&org_public_id);
            Ok::<_, Problem>(recording)
        }
        .await;
        match saved {
            Ok(recording) => {
                tracing::info!(recording_id = %egress.id, space_id = %space.id, "recording started");
                Ok(Json(recording))
            }
            Err(problem) => {
                // Nothing records it: do not leave LiveKit recording.
                if let Err(error) = livekit.stop_egress(&egress.id).await {
                    tracing::error!(%error, recording_id = %egress.id, "an unsaved recording could not be stopped");
                }
                Err(problem)
            }
        }
    }

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
        auth: CookieAuth,
        #[oai(name = "recordingId")] recording_id: Path<String>,
    ) -> Result<Json<Recording>, Problem> {
        let caller = &auth.0;
        caller.require(&STOP_RECORDING)?;
        let livekit = ctx.get::<LiveKit>();
        let mut tx = ctx.db().begin().await?;
        let row = store::find(&mut tx, caller.organization_id, &recording_id.0, true)
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
        let changed = match egress {
            Some(egress) => store::apply_egress(&mut tx, &egress).await?,
            None => store::fail_unknown(&mut tx, &row.egress_id, "unknown to LiveKit when stopped").await?,
        };
        let recording = load(&mut tx, caller.organization_id, &row.egress_id).await?;
        tx.commit().await?;
        changed.iter().for_each(store::Changed::count);
        tracing::info!(recording_id = %row.egress_id, "recording stopped");
        Ok(Json(recording))
    }

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
    ) -> Result<Json<Page<Recording>>, Problem> {
        let caller = &auth.0;
        caller.require(&VIEW_RECORDINGS)?;
        let body = body.0;
        let mut errors = Vec::new();
        let people = body
            .people
            .as_deref()
            .map(|ids| parse_user_ids("body.people", ids, &mut errors))
            .filter(|ids| !ids.is_empty());
        if let (Some(from), Some(to)) = (body.from, body.to) {
            if from > to {
                errors.push(FieldError::new("body.to", "must not be before `from`"));
            }
        }
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        let name = body
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| n.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        const FILTER: &str = "r.org_id = $1
             AND ($2::text IS NULL OR r.topic ILIKE '%' || $2 || '%')
             AND ($3::bigint[] IS NULL OR cardinality($3) = (
                    SELECT count(*) FROM recording_participants p
                    WHERE p.recording_id = r.id AND p.user_id = ANY($3)))
             AND ($4::timestamptz IS NULL OR r.started_at >= $4)
             AND ($5::timestamptz IS NULL OR r.started_at < $5)";
        let mut conn = ctx.db().acquire().await?;
        let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM recordings r WHERE {FILTER}"))
            .bind(caller.organization_id)
            .bind(&name)
            .bind(&people)
            .bind(body.from)
            .bind(body.to)
            .fetch_one(&mut *conn)
            .await?;
        let rows: Vec<RecordingRow> = sqlx::query_as(&format!(
            "SELECT {} FROM recordings r LEFT JOIN rooms rm ON rm.id = r.room_id
             WHERE {FILTER} ORDER BY r.started_at DESC, r.id DESC LIMIT $6 OFFSET $7",
            store::COLUMNS
        ))
        .bind(caller.organization_id)
        .bind(&name)
        .bind(&people)
        .bind(body.from)
        .bind(body.to)
        .bind(i64::from(body.limit))
        .bind(i64::from(body.offset))
        .fetch_all(&mut *conn)
        .await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut by_recording: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (recording_id, user) in store::participants(&mut conn, &ids).await? {
            by_recording
                .entry(recording_id)
                .or_default()
                .push(user.to_string());
        }
        let data = rows
            .into_iter()
            .map(|row| {
                let participants = by_recording.remove(&row.id).unwrap_or_default();
                recording(row, participants)
            })
            .collect();
        Ok(Json(Page::new(data, body.limit, body.offset, total)))
    }
}
