//! Egress (recordings), on `livekit-api`'s `EgressClient`. The client signs a short-lived token with the `roomRecord` grant per
//! request, exactly as LiveKit's server expects; the base URL is the configured server-API URL,
//! so tests point it at a local fake.

use livekit_api::services::egress::{
    EgressClient, EgressListFilter, EgressListOptions, EgressOutput, RoomCompositeOptions,
};
use livekit_protocol as proto;

use crate::{LiveKit, ServerApiError};

/// An S3-compatible bucket (R2) the egress uploads the file to. `Debug` never shows the secret.
#[derive(Clone, Default)]
pub struct S3Destination {
    pub bucket: String,
    /// Empty for AWS itself; the account endpoint for R2.
    pub endpoint: String,
    pub region: String,
    pub access_key: String,
    pub secret: String,
    pub force_path_style: bool,
}

impl std::fmt::Debug for S3Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Destination")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret", &"[REDACTED]")
            .field("force_path_style", &self.force_path_style)
            .finish()
    }
}

/// A room-composite recording to start.
#[derive(Clone, Debug)]
pub struct RoomRecording<'a> {
    pub room: &'a str,
    /// Object key of the file in the bucket.
    pub filepath: &'a str,
    pub destination: &'a S3Destination,
}

/// Where an egress is, in LiveKit's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EgressState {
    Starting,
    Active,
    Ending,
    Complete,
    Failed,
    Aborted,
    LimitReached,
}

impl EgressState {
    fn from_proto(status: i32) -> Self {
        match proto::EgressStatus::try_from(status) {
            Ok(proto::EgressStatus::EgressStarting) => EgressState::Starting,
            Ok(proto::EgressStatus::EgressActive) => EgressState::Active,
            Ok(proto::EgressStatus::EgressEnding) => EgressState::Ending,
            Ok(proto::EgressStatus::EgressComplete) => EgressState::Complete,
            Ok(proto::EgressStatus::EgressAborted) => EgressState::Aborted,
            Ok(proto::EgressStatus::EgressLimitReached) => EgressState::LimitReached,
            Ok(proto::EgressStatus::EgressFailed) | Err(_) => EgressState::Failed,
        }
    }

    /// Whether the egress is over (nothing more will happen to it).
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            EgressState::Starting | EgressState::Active | EgressState::Ending
        )
    }
}

/// What LiveKit says about one egress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Egress {
    pub id: String,
    pub room: String,
    pub state: EgressState,
    /// Unix nanoseconds; `None` when LiveKit reports none.
    pub started_at_ns: Option<i64>,
    pub ended_at_ns: Option<i64>,
    /// Length of the recorded file, nanoseconds.
    pub duration_ns: Option<i64>,
    /// Where the file was uploaded (the first file result).
    pub location: Option<String>,
    /// LiveKit's error text (for logs and the row; never for clients).
    pub error: Option<String>,
}

fn positive(value: i64) -> Option<i64> {
    (value > 0).then_some(value)
}

impl From<proto::EgressInfo> for Egress {
    fn from(info: proto::EgressInfo) -> Self {
        #[allow(deprecated)]
        let file = info.file_results.first().cloned().or(match info.result {
            Some(proto::egress_info::Result::File(file)) => Some(file),
            _ => None,
        });
        Egress {
            state: EgressState::from_proto(info.status),
            started_at_ns: positive(info.started_at),
            ended_at_ns: positive(info.ended_at),
            duration_ns: file.as_ref().and_then(|f| positive(f.duration)),
            location: file.map(|f| f.location).filter(|l| !l.is_empty()),
            error: Some(info.error).filter(|e| !e.is_empty()),
            id: info.egress_id,
            room: info.room_name,
        }
    }
}

impl LiveKit {
    fn egress_client(&self) -> Result<EgressClient, ServerApiError> {
        let credentials = self.credentials()?;
        Ok(EgressClient::with_api_key(
            &credentials.api_url,
            &credentials.api_key,
            &credentials.api_secret,
        )
        .with_failover(false)
        .with_request_timeout(crate::REQUEST_TIMEOUT))
    }

    /// Starts a room-composite recording of `room` into an MP4 file in the bucket.
    pub async fn start_room_recording(&self, request: &RoomRecording<'_>) -> Result<Egress, ServerApiError> {
        let destination = request.destination;
        let output = proto::EncodedFileOutput {
            file_type: proto::EncodedFileType::Mp4 as i32,
            filepath: request.filepath.to_owned(),
            output: Some(proto::encoded_file_output::Output::S3(proto::S3Upload {
                access_key: destination.access_key.clone(),
                secret: destination.secret.clone(),
                region: destination.region.clone(),
                endpoint: destination.endpoint.clone(),
                bucket: destination.bucket.clone(),
                force_path_style: destination.force_path_style,
                ..Default::default()
            })),
            ..Default::default()
        };
        let info = self
            .egress_client()?
            .start_room_composite_egress(
                request.room,
                vec![EgressOutput::File(output)],
                RoomCompositeOptions {
                    layout: "grid".into(),
                    ..Default::default()
                },
            )
            .await?;
        Ok(info.into())
    }

    /// Stops an egress; LiveKit answers with its state (normally `Ending`).
    pub async fn stop_egress(&self, egress_id: &str) -> Result<Egress, ServerApiError> {
        Ok(self.egress_client()?.stop_egress(egress_id).await?.into())
    }

    /// The state of one egress, `None` when LiveKit no longer knows it.
    pub async fn egress(&self, egress_id: &str) -> Result<Option<Egress>, ServerApiError> {
        let items = match self
            .egress_client()?
            .list_egress(EgressListOptions {
                filter: EgressListFilter::Egress(egress_id.to_owned()),
                ..Default::default()
            })
            .await
        {
            Ok(items) => items,
            Err(error) => match ServerApiError::from(error) {
                ServerApiError::NotFound => return Ok(None),
                other => return Err(other),
            },
        };
        Ok(items
            .into_iter()
            .find(|info| info.egress_id == egress_id)
            .map(Egress::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn egress_info_becomes_an_egress() {
        let info = proto::EgressInfo {
            egress_id: "EG_1".into(),
            room_name: "room".into(),
            status: proto::EgressStatus::EgressComplete as i32,
            started_at: 1_000,
            ended_at: 2_000,
            file_results: vec![proto::FileInfo {
                duration: 5_000_000_000,
                location: "s3://bucket/a.mp4".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let egress = Egress::from(info);
        assert_eq!(egress.state, EgressState::Complete);
        assert!(egress.state.is_final());
        assert_eq!(egress.duration_ns, Some(5_000_000_000));
        assert_eq!(egress.location.as_deref(), Some("s3://bucket/a.mp4"));
        assert_eq!(egress.error, None);
        assert_eq!(EgressState::from_proto(99), EgressState::Failed);
        assert!(!EgressState::from_proto(proto::EgressStatus::EgressEnding as i32).is_final());
    }
}
