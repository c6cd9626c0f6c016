//! The recordings feature's settings (environment variables, also flags) and what `init` makes
//! of them: the bucket LiveKit uploads to, the download links signed for it, the quota, and the
//! internal endpoint's token. `LIVEKIT_*` are the realtime feature's (registered once, there).

use std::{fmt, time::Duration};

use anyhow::Context;
use platform_livekit::egress::S3Destination;
use platform_storage::{BucketConfig, ObjectStorage};
use qubital_plugin::{secret::present, Boot, Environment, ExposeSecret, SecretString};

use crate::metrics;

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
    pub s3_secret_access_key: Option<SecretString>,

    /// How long a download link stays valid, seconds (1..604800: SigV4's limit is 7 days).
    #[arg(
        long = "recordings-download-link-ttl-secs",
        env = "RECORDINGS_DOWNLOAD_LINK_TTL_SECS",
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..=604_800)
    )]
    pub download_link_ttl_secs: u64,

    /// Bearer token of the internal reconcile endpoint (`POST /internal/recordings/reconcile`),
    /// for a scheduler or an operator, at least 32 characters. Unset: the endpoint answers 503
    /// (the reconcile job runs regardless).
    #[arg(
        long = "recordings-reconcile-token",
        env = "RECORDINGS_RECONCILE_TOKEN",
        hide_env_values = true
    )]
    pub reconcile_token: Option<SecretString>,
}

/// Smallest accepted `RECORDINGS_RECONCILE_TOKEN`, in bytes.
const MIN_RECONCILE_TOKEN_BYTES: usize = 32;

/// What the recording operations need, built once at boot.
#[derive(Clone)]
pub struct RecordingsState {
    /// `None`: recording is disabled in this (development) deployment, or this process serves
    /// no API.
    pub destination: Option<S3Destination>,
    /// Signs download links for the same bucket (`None` with `destination`).
    pub storage: Option<ObjectStorage>,
    pub download_link_ttl: Duration,
    pub monthly_quota: u32,
    /// `None`: the internal reconcile endpoint is disabled.
    pub reconcile_token: Option<SecretString>,
}

/// Written out rather than derived: the destination carries the bucket's secret.
impl fmt::Debug for RecordingsState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingsState")
            .field("bucket", &self.destination.as_ref().map(|d| &d.bucket))
            .field("storage", &self.storage)
            .field("download_link_ttl", &self.download_link_ttl)
            .field("monthly_quota", &self.monthly_quota)
            .field("reconcile_token", &self.reconcile_token)
            .finish()
    }
}

/// The state a process provides, from its settings: production refuses a missing storage
/// setting with an error naming the variable; development disables recording; a process that
/// serves no API needs no storage setting. Malformed values are refused everywhere.
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
    // Only the API starts recordings: `migrate` and worker processes need no storage secrets.
    let destination = if serves_api {
        destination(environment, settings)?
    } else {
        None
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
    let reconcile_token = environment
        .optional_secret(
            "RECORDINGS_RECONCILE_TOKEN",
            &settings.reconcile_token,
            MIN_RECONCILE_TOKEN_BYTES,
        )?
        // Compared with the trimmed bearer token of a request.
        .map(|token| SecretString::from(token.expose_secret().trim()));
    Ok(RecordingsState {
        destination,
        storage,
        download_link_ttl: Duration::from_secs(settings.download_link_ttl_secs),
        monthly_quota: settings.monthly_quota,
        reconcile_token,
    })
}

/// The upload destination; `None` (development) when a setting of it is unset, after a warning
/// naming the first one missing.
fn destination(
    environment: Environment,
    settings: &RecordingsSettings,
) -> anyhow::Result<Option<S3Destination>> {
    const DISABLED: &str = "recording is disabled (its operations answer 503)";
    let Some(bucket) = environment.required("RECORDINGS_S3_BUCKET", &settings.s3_bucket, DISABLED)? else {
        return Ok(None);
    };
    let Some(access_key) = environment.required(
        "RECORDINGS_S3_ACCESS_KEY_ID",
        &settings.s3_access_key_id,
        DISABLED,
    )?
    else {
        return Ok(None);
    };
    let Some(secret) = environment.required_secret(
        "RECORDINGS_S3_SECRET_ACCESS_KEY",
        &settings.s3_secret_access_key,
        1,
        DISABLED,
    )?
    else {
        return Ok(None);
    };
    let endpoint = present(&settings.s3_endpoint).unwrap_or_default();
    Ok(Some(S3Destination {
        bucket: bucket.to_owned(),
        endpoint: endpoint.to_owned(),
        region: settings.s3_region.trim().to_owned(),
        access_key: access_key.to_owned(),
        secret: secret.expose_secret().trim().to_owned(),
        // R2 and most S3-compatible servers want path-style addressing behind a custom
        // endpoint; AWS itself (no endpoint) uses virtual hosts.
        force_path_style: !endpoint.is_empty(),
    }))
}

pub(crate) fn init(boot: &mut Boot) -> anyhow::Result<()> {
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
