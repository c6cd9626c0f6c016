//! The uploads feature's settings (environment variables, also flags) and what `init` makes of
//! them: the bucket images are uploaded to and the public URL they are read from.

use anyhow::Context;
use platform_storage::{BucketConfig, ObjectStorage};
use qubital_plugin::{secret::present, Boot, Environment, ExposeSecret, SecretString};

/// The bucket of avatars and organization logos.
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Uploads")]
pub struct UploadSettings {
    /// Bucket avatars and organization logos are uploaded to (R2 or any S3-compatible storage;
    /// its objects must be publicly readable at `UPLOADS_PUBLIC_BASE_URL`). Required in
    /// production; unset in development disables uploads (503).
    #[arg(long = "uploads-s3-bucket", env = "UPLOADS_S3_BUCKET")]
    pub uploads_s3_bucket: Option<String>,

    /// Endpoint of the S3-compatible storage (R2: `https://<account>.r2.cloudflarestorage.com`;
    /// empty for AWS S3).
    #[arg(long = "uploads-s3-endpoint", env = "UPLOADS_S3_ENDPOINT")]
    pub uploads_s3_endpoint: Option<String>,

    /// Region of the bucket (`auto` for R2).
    #[arg(long = "uploads-s3-region", env = "UPLOADS_S3_REGION", default_value = "auto")]
    pub uploads_s3_region: String,

    /// Access key id the backend signs uploads and copies with. Required with the bucket.
    #[arg(long = "uploads-s3-access-key-id", env = "UPLOADS_S3_ACCESS_KEY_ID")]
    pub uploads_s3_access_key_id: Option<String>,

    /// Secret access key of that key id. Required with the bucket.
    #[arg(
        long = "uploads-s3-secret-access-key",
        env = "UPLOADS_S3_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    pub uploads_s3_secret_access_key: Option<SecretString>,

    /// Where the bucket's objects are publicly readable (an R2 custom domain, a CDN):
    /// `avatarUrl` and `logoUrl` are `<this>/<key>`. Required with the bucket.
    #[arg(long = "uploads-public-base-url", env = "UPLOADS_PUBLIC_BASE_URL")]
    pub uploads_public_base_url: Option<String>,
}

/// What the upload operations and the cleanup job need, built once at boot.
#[derive(Clone, Debug)]
pub struct UploadState {
    /// `None`: uploads are disabled in this (development) deployment, or this process serves
    /// no API. `Debug` never shows the secret.
    pub storage: Option<Bucket>,
}

/// The configured bucket.
#[derive(Clone, Debug)]
pub struct Bucket {
    pub storage: ObjectStorage,
    /// `UPLOADS_PUBLIC_BASE_URL`, ending with `/`: an object's public URL is this and its key.
    pub public_base_url: String,
}

impl Bucket {
    /// The public URL of `key` (keys are made of `[a-z0-9./-]`, so nothing needs encoding).
    pub fn public_url(&self, key: &str) -> String {
        format!("{}{key}", self.public_base_url)
    }

    /// The key of `url` if it is one of this bucket's public URLs under `prefix`.
    pub fn key_of<'u>(&self, url: &'u str, prefix: &str) -> Option<&'u str> {
        url.strip_prefix(self.public_base_url.as_str())
            .filter(|key| key.starts_with(prefix))
    }
}

const DISABLED: &str = "avatar and logo uploads are disabled (their operations answer 503)";

/// The state a process provides, from its settings: production refuses a missing setting with
/// an error naming the variable; development disables uploads; a process that serves no API
/// needs none. Malformed values are refused everywhere.
pub fn state(
    environment: Environment,
    serves_api: bool,
    settings: &UploadSettings,
) -> anyhow::Result<UploadState> {
    if !serves_api {
        return Ok(UploadState { storage: None });
    }
    Ok(UploadState {
        storage: bucket(environment, settings)?,
    })
}

fn bucket(environment: Environment, settings: &UploadSettings) -> anyhow::Result<Option<Bucket>> {
    let Some(bucket) = environment.required("UPLOADS_S3_BUCKET", &settings.uploads_s3_bucket, DISABLED)?
    else {
        return Ok(None);
    };
    let Some(access_key_id) = environment.required(
        "UPLOADS_S3_ACCESS_KEY_ID",
        &settings.uploads_s3_access_key_id,
        DISABLED,
    )?
    else {
        return Ok(None);
    };
    let Some(secret) = environment.required_secret(
        "UPLOADS_S3_SECRET_ACCESS_KEY",
        &settings.uploads_s3_secret_access_key,
        1,
        DISABLED,
    )?
    else {
        return Ok(None);
    };
    let Some(public_base_url) = environment.required(
        "UPLOADS_PUBLIC_BASE_URL",
        &settings.uploads_public_base_url,
        DISABLED,
    )?
    else {
        return Ok(None);
    };
    let config = BucketConfig {
        endpoint: present(&settings.uploads_s3_endpoint).map(str::to_owned),
        region: settings.uploads_s3_region.trim().to_owned(),
        bucket: bucket.to_owned(),
        access_key_id: access_key_id.to_owned(),
        secret_access_key: secret.expose_secret().trim().to_owned(),
        public_base_url: Some(public_base_url.to_owned()),
    };
    let storage = ObjectStorage::new(&config).context("the UPLOADS_* bucket settings are not usable")?;
    // Validated by `ObjectStorage::new`: an absolute http(s) URL without query or fragment.
    let public_base_url = format!("{}/", public_base_url.trim_end_matches('/'));
    Ok(Some(Bucket {
        storage,
        public_base_url,
    }))
}

pub(crate) fn init(boot: &mut Boot) -> anyhow::Result<()> {
    let settings = boot
        .get::<UploadSettings>()
        .cloned()
        .context("upload settings are registered")?;
    let state = state(boot.environment, boot.serves_api(), &settings)?;
    boot.provide(state);
    Ok(())
}
