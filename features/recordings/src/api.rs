//! The recording operations, one `#[OpenApi]` type per resource: start, stop and list
//! ([`recordings`]), presence in a recorded zone ([`presence`]), download links
//! ([`downloads`]) under the `Recordings` tag, and the internal reconcile endpoint
//! ([`reconcile`]). Here: the Recording DTO and the checks they share.

mod downloads;
mod presence;
mod reconcile;
mod recordings;

use chrono::{DateTime, Utc};
use platform_livekit::ServerApiError;
use poem_openapi::{Enum, Object, Tags};
use qubital_plugin::{problem::types, wire, FieldError, Problem};
use uuid::Uuid;

pub(crate) use downloads::RecordingDownloadsApi;
pub(crate) use presence::RecordingPresenceApi;
pub(crate) use reconcile::ReconcileApi;
pub(crate) use recordings::RecordingsApi;

use crate::store::{self, RecordingRow};

const ZONE_MAX: usize = 64;
/// The most user ids of `participantIds` (and `people`): checked before any of them is looked at.
const PARTICIPANTS_MAX: usize = 100;
const PEOPLE_MAX: usize = PARTICIPANTS_MAX;

#[derive(Tags)]
enum RecordingsTag {
    /// Recordings of a space's zone, stored as files and listed per organization.
    Recordings,
}

/// Where a recording is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum, serde::Serialize)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
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
// Serialised with serde for the list (`DirectJson`: the same form, checked in debug builds).
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
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
    #[serde(serialize_with = "qubital_plugin::payload::rfc3339")]
    pub started_at: DateTime<Utc>,
    #[serde(serialize_with = "qubital_plugin::payload::rfc3339_opt")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Length of the recorded file, whole seconds, once known.
    pub duration_seconds: Option<u64>,
    /// Users who were in the recorded zone: at start, or reported since (user ids).
    pub participant_ids: Vec<String>,
}

fn recording(row: RecordingRow, participants: &[i64]) -> Recording {
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
        participant_ids: participants.iter().map(i64::to_string).collect(),
    }
}

/// The recording `recording_id` of organization `org_id` with its participants, or `404`.
async fn load(conn: &mut sqlx::PgConnection, org_id: i64, recording_id: &str) -> Result<Recording, Problem> {
    let (row, participants) = store::find_with_participants(conn, org_id, recording_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    Ok(recording(row, &participants))
}

/// Checks a request's `zone` and `participantIds` (adding to `errors`); returns the distinct
/// participant user ids.
fn zone_and_participants(
    zone: &str,
    participant_ids: &[wire::IdText],
    errors: &mut Vec<FieldError>,
) -> Vec<i64> {
    if !valid_zone(zone) {
        errors.push(FieldError::new(
            "body.zone",
            format!("1..{ZONE_MAX} of A-Z a-z 0-9 _ - . :"),
        ));
    }
    // Refused before looking at any of them (the schema says so too).
    if participant_ids.len() > PARTICIPANTS_MAX {
        errors.push(FieldError::new(
            "body.participantIds",
            format!("at most {PARTICIPANTS_MAX}"),
        ));
        return Vec::new();
    }
    wire::distinct_ids("body.participantIds", participant_ids, errors)
}

fn valid_zone(zone: &str) -> bool {
    (1..=ZONE_MAX).contains(&zone.len())
        && zone
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

/// `503 integration-unavailable`: LiveKit failed (the detail is in the logs only).
fn recording_unavailable() -> Problem {
    Problem::new(&types::INTEGRATION_UNAVAILABLE)
        .with_detail("The recording service is unavailable; try again.")
        .with_retry_after(5)
}

/// LiveKit's failure as the client sees it: `503`, disabled or unavailable.
fn unavailable(error: ServerApiError) -> Problem {
    match error {
        ServerApiError::Disabled => Problem::integration_disabled("recording"),
        other => {
            tracing::error!(error = %other, "the recording service failed");
            recording_unavailable()
        }
    }
}
