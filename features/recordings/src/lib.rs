//! Recordings: room-composite recordings of a space's zone through LiveKit Egress, written to
//! object storage, under a monthly per-organization quota.
//!
//! The LiveKit client is the one the realtime feature provides (`LIVEKIT_*` are registered
//! once, there). Decisions are written down in `docs/recordings.md`.

mod api;
mod conference;
mod downloads;
pub mod metrics;
pub mod permissions;
mod presence;
pub mod problems;
pub mod reconcile;
mod store;
pub mod usage;
mod webhook;

use std::time::Duration;

use anyhow::Context;
use platform_livekit::egress::S3Destination;
use platform_storage::{BucketConfig, ObjectStorage};
use qubital_plugin::{Api, Boot, Environment, Feature, Settings, Table};

static MIGRATIONS: qubital_plugin::Migrator = qubital_plugin::sqlx::migrate!("../../migrations/recordings");

qubital_plugin::inventory::submit! {
    Feature::new("recordings")
        .apis(&[
            Api::of::<api::RecordingsApi>(),
            Api::of::<presence::RecordingPresenceApi>(),
            Api::of::<downloads::RecordingDownloadsApi>(),
            Api::of::<webhook::LiveKitWebhookApi>(),
            Api::of::<reconcile::ReconcileApi>(),
        ])
        .migrations(&MIGRATIONS)
        .tables(&[
            Table::kept("recordings", "the organization's archive, deleted with it"),
            Table::kept("recording_participants", "deleted with their recording"),
            Table::pruned(
                "livekit_webhook_events",
                "received_at < now() - interval '7 days'",
                "LiveKit redelivers within minutes, so an older event id will not come back",
            ),
            Table::pruned(
                "conference_activity_days",
                "day < (now() AT TIME ZONE 'UTC')::date - 35",
                "the longest active-users window is 30 days",
            ),
        ])
        .settings(&[Settings::of::<RecordingsSettings>()])
        .jobs(&[reconcile::RECONCILE, usage::USAGE])
        .init(init)
}

/// Recording settings: the quota and the bucket LiveKit uploads the files to.
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Recordings")]
pub struct RecordingsSettings {
    /// Recordings an organization may start per calendar month (UTC).
    #[arg(
        long = "recordings-monthly-quota",
        env = "RECORDINGS_MONTHLY_QUOTA",
        default_value_t = 100
    )]
    pub monthly_quota: u32,

    /// Bucket the recordings are uploaded to (R2 or any S3-compatible storage). Required in
    /// production; unset in development disables recording (503).
    #[arg(long = "recordings-s3-bucket", env = "RECORDINGS_S3_BUCKET")]
    pub s3_bucket: Option<String>,

    /// Endpoint of the S3-compatible storage (R2: `https://<account>.r2.cloudflarestorage.com`;
    /// empty for AWS S3).
    #[arg(long = "recordings-s3-endpoint", env = "RECORDINGS_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// Region of the bucket (`auto` for R2).
    #[arg(
        long = "recordings-s3-region",
        env = "RECORDINGS_S3_REGION",
        default_value = "auto"
    )]
    pub s3_region: String,

    /// Access key id LiveKit uploads with. Required with the bucket.
    #[arg(long = "recordings-s3-access-key-id", env = "RECORDINGS_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,

    /// Secret access key LiveKit uploads with. Required with the bucket.
    #[arg(
        long = "recordings-s3-secret-access-key",
        env = "RECORDINGS_S3_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    pub s3_secret_access_key: Option<String>,

    /// How long a download link stays valid, seconds (1..604800: SigV4's limit is 7 days).
    #[arg(
        long = "recordings-download-link-ttl-secs",
        env = "RECORDINGS_DOWNLOAD_LINK_TTL_SECS",
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..=604_800)
    )]
    pub download_link_ttl_secs: u64,

    /// Bearer token of the internal reconcile endpoint (`POST /internal/recordings/reconcile`),
    /// for a scheduler or an operator. Unset: the endpoint answers 503 (the reconcile job
    /// runs regardless).
    #[arg(
        long = "recordings-reconcile-token",
        env = "RECORDINGS_RECONCILE_TOKEN",
        hide_env_values = true
    )]
    pub reconcile_token: Option<String>,
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl RecordingsSettings {
    /// The upload destination, or the first variable missing for one.
    pub fn destination(&self) -> Result<S3Destination, &'static str> {
        let bucket = present(&self.s3_bucket).ok_or("RECORDINGS_S3_BUCKET")?;
        let access_key = present(&self.s3_access_key_id).ok_or("RECORDINGS_S3_ACCESS_KEY_ID")?;
        let secret = present(&self.s3_secret_access_key).ok_or("RECORDINGS_S3_SECRET_ACCESS_KEY")?;
        let endpoint = present(&self.s3_endpoint).unwrap_or_default();
        Ok(S3Destination {
            bucket: bucket.to_owned(),
            endpoint: endpoint.to_owned(),
            region: self.s3_region.trim().to_owned(),
            access_key: access_key.to_owned(),
            secret: secret.to_owned(),
            // R2 and most S3-compatible servers want path-style addressing behind a custom
            // endpoint; AWS itself (no endpoint) uses virtual hosts.
            force_path_style: !endpoint.is_empty(),
        })
    }
}

/// What the recording operations need, built once at boot.
#[derive(Clone, Debug)]
pub struct RecordingsState {
    /// `None`: recording is disabled in this (development) deployment.
    pub destination: Option<S3Destination>,
    /// Signs download links for the same bucket (`None` with `destination`).
    pub storage: Option<ObjectStorage>,
    pub download_link_ttl: Duration,
    pub monthly_quota: u32,
    /// `None`: the internal reconcile endpoint is disabled.
    pub reconcile_token: Option<String>,
}

/// The state a process provides, from its settings: production refuses a missing storage
/// setting with an error naming the variable; development disables recording; a process that
/// serves no API needs nothing.
pub fn state(
    environment: Environment,
    serves_api: bool,
    settings: &RecordingsSettings,
) -> anyhow::Result<RecordingsState> {
    if let Some(endpoint) = present(&settings.s3_endpoint) {
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            anyhow::bail!("RECORDINGS_S3_ENDPOINT must be an http(s):// URL");
        }
    }
    let destination = match settings.destination() {
        Ok(destination) => Some(destination),
        // Only the API starts recordings: `migrate` and `eventsync` need no storage secrets.
        Err(_) if !serves_api => None,
        Err(variable) if environment.is_development() => {
            tracing::warn!("{variable} is unset: recording is disabled (its operations answer 503)");
            None
        }
        Err(variable) => anyhow::bail!("{variable} is required in production"),
    };
    let storage = destination
        .as_ref()
        .map(|d| {
            ObjectStorage::new(&BucketConfig {
                endpoint: Some(d.endpoint.clone()).filter(|e| !e.is_empty()),
                region: d.region.clone(),
                bucket: d.bucket.clone(),
                access_key_id: d.access_key.clone(),
                secret_access_key: d.secret.clone(),
                public_base_url: None,
            })
        })
        .transpose()
        .context("the recordings bucket settings are not usable")?;
    let reconcile_token = present(&settings.reconcile_token).map(str::to_owned);
    if reconcile_token.as_ref().is_some_and(|token| token.len() < 32) {
        anyhow::bail!("RECORDINGS_RECONCILE_TOKEN must be at least 32 characters");
    }
    Ok(RecordingsState {
        destination,
        storage,
        download_link_ttl: Duration::from_secs(settings.download_link_ttl_secs),
        monthly_quota: settings.monthly_quota,
        reconcile_token,
    })
}

fn init(boot: &mut Boot) -> anyhow::Result<()> {
    let settings = boot
        .get::<RecordingsSettings>()
        .cloned()
        .context("recordings settings are registered")?;
    let state = state(boot.environment, boot.serves_api(), &settings)?;
    boot.provide(state);
    if boot.serves_api() {
        metrics::register();
    }
    Ok(())
}
