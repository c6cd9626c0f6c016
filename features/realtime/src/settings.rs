//! The realtime feature's settings (environment variables, also flags) and what `init` makes
//! of them. LiveKit's own settings are `platform_livekit::LiveKitSettings`, registered by this
//! feature too.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use anyhow::{bail, Context};
use platform_livekit::{LiveKit, LiveKitSettings};
use qubital_plugin::{secret::present, Boot, Environment, ExposeSecret, SecretString};

use crate::{centrifugo::CentrifugoTokens, keys::Keyring, keys::RouterKeys, worker_auth::WorkerVerifier};

/// Token lifetimes, the office-router signing keys, Centrifugo.
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Realtime access")]
pub struct RealtimeSettings {
    /// Lifetime of a conference token, in seconds (the participant must join within it).
    /// LiveKit checks it only at join, so a short one limits what a leaked token is worth.
    #[arg(long = "conference-token-ttl-secs", env = "CONFERENCE_TOKEN_TTL_SECS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(60..=3_600))]
    pub conference_token_ttl_secs: u64,

    /// `iss` of the office-router connection tokens (the same variable names the backend's own
    /// access-token issuer).
    #[arg(long = "router-token-issuer", env = "JWT_ISSUER", default_value = "qubital")]
    pub router_token_issuer: String,

    /// `aud` of the office-router connection tokens: what the Worker expects.
    #[arg(
        long = "router-token-audience",
        env = "JWT_AUDIENCE",
        default_value = "office-router"
    )]
    pub router_token_audience: String,

    /// RSA private key (PEM, PKCS#1 or PKCS#8, at least 2048 bits) signing the office-router
    /// tokens; `\n` escapes are accepted. Required in production; development generates a
    /// throwaway key.
    #[arg(
        long = "router-token-private-key",
        env = "JWT_PRIVATE_KEY",
        hide_env_values = true
    )]
    pub router_token_private_key: Option<SecretString>,

    /// The previous signing key after a rotation (PEM; public or private, only the public half
    /// is used): still published in the JWKS so tokens in flight keep verifying. Never signs.
    #[arg(
        long = "router-token-previous-key",
        env = "JWT_PREVIOUS_KEY",
        hide_env_values = true
    )]
    pub router_token_previous_key: Option<SecretString>,

    /// WebSocket URL of the office router, returned with its tokens (optional).
    #[arg(long = "office-router-url", env = "OFFICE_ROUTER_URL")]
    pub office_router_url: Option<String>,

    /// HMAC secret of Centrifugo connection tokens (Centrifugo's `token_hmac_secret_key`), at
    /// least 32 bytes. Required in production; development generates a throwaway one.
    #[arg(
        long = "centrifugo-token-secret",
        env = "CENTRIFUGO_TOKEN_SECRET",
        hide_env_values = true
    )]
    pub centrifugo_token_secret: Option<SecretString>,

    /// Lifetime of a Centrifugo connection token, in seconds (the client refreshes it).
    #[arg(long = "centrifugo-token-ttl-secs", env = "CENTRIFUGO_TOKEN_TTL_SECS", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(60..=86_400))]
    pub centrifugo_token_ttl_secs: u64,

    /// Centrifugo's client WebSocket URL, returned with connection tokens (optional).
    #[arg(long = "centrifugo-client-url", env = "CENTRIFUGO_CLIENT_URL")]
    pub centrifugo_client_url: Option<String>,
}

/// How the backend checks the tokens of the office-router Worker on `/worker/...`.
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Worker authentication")]
pub struct WorkerAuthSettings {
    /// Public key (PEM) verifying the Worker's tokens: RSA → RS256, P-256 → ES256. Set this or
    /// WORKER_JWT_SECRET (required in production).
    #[arg(long = "worker-jwt-public-key", env = "WORKER_JWT_PUBLIC_KEY")]
    pub worker_jwt_public_key: Option<String>,

    /// Shared secret (HS256, at least 32 bytes) verifying the Worker's tokens, instead of a
    /// public key.
    #[arg(long = "worker-jwt-secret", env = "WORKER_JWT_SECRET", hide_env_values = true)]
    pub worker_jwt_secret: Option<SecretString>,

    /// `iss` the Worker's tokens must carry.
    #[arg(
        long = "worker-jwt-issuer",
        env = "WORKER_JWT_ISSUER",
        default_value = "office-router"
    )]
    pub worker_jwt_issuer: String,

    /// `aud` the Worker's tokens must carry.
    #[arg(
        long = "worker-jwt-audience",
        env = "WORKER_JWT_AUDIENCE",
        default_value = "qubital"
    )]
    pub worker_jwt_audience: String,

    /// Clock skew tolerated on `exp`/`nbf`, in seconds.
    #[arg(long = "worker-jwt-leeway-secs", env = "WORKER_JWT_LEEWAY_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(0..=60))]
    pub worker_jwt_leeway_secs: u64,
}

/// A PEM from an environment variable: `\n` escapes (common in `.env` files and secret
/// stores) become line breaks.
pub(crate) fn pem_text(value: &str) -> String {
    value.trim().replace("\\n", "\n")
}

/// Smallest accepted `CENTRIFUGO_TOKEN_SECRET`, in bytes.
const MIN_CENTRIFUGO_SECRET_BYTES: usize = 32;

/// What the realtime operations need, built once at boot.
#[derive(Clone)]
pub struct RealtimeState {
    pub livekit: LiveKit,
    pub conference_ttl: Duration,
    pub router_keys: RouterKeys,
    pub router_issuer: String,
    pub router_audience: String,
    pub router_url: Option<String>,
    pub centrifugo: CentrifugoTokens,
}

/// Everything the feature provides, from its settings. Production refuses missing secrets with
/// an error naming the variable; development generates throwaway keys and disables an
/// unconfigured LiveKit.
pub struct Provided {
    pub state: RealtimeState,
    pub worker: WorkerVerifier,
}

/// What a process that serves these operations provides (see [`Provided`]).
pub fn build(
    environment: Environment,
    livekit: &LiveKitSettings,
    settings: &RealtimeSettings,
    worker: &WorkerAuthSettings,
) -> anyhow::Result<Provided> {
    platform_livekit::install_jwt_crypto_provider();
    let livekit = conference(environment, livekit)?;
    let router_keys = router_keys(environment, settings)?;
    let centrifugo_secret = centrifugo_secret(environment, settings)?;
    let worker = worker_verifier(environment, worker)?;
    Ok(Provided {
        state: RealtimeState {
            livekit,
            conference_ttl: Duration::from_secs(settings.conference_token_ttl_secs),
            router_keys,
            router_issuer: settings.router_token_issuer.trim().to_owned(),
            router_audience: settings.router_token_audience.trim().to_owned(),
            router_url: present(&settings.office_router_url).map(str::to_owned),
            centrifugo: CentrifugoTokens::new(
                &centrifugo_secret,
                settings.centrifugo_token_ttl_secs,
                present(&settings.centrifugo_client_url).map(str::to_owned),
            ),
        },
        worker,
    })
}

/// The LiveKit client; disabled (development) without its settings.
fn conference(environment: Environment, livekit: &LiveKitSettings) -> anyhow::Result<LiveKit> {
    match livekit.missing() {
        None => LiveKit::from_settings(livekit),
        Some(variable) => {
            environment.required(
                variable,
                &None,
                "the conference is disabled (its operations answer 503)",
            )?;
            Ok(LiveKit::disabled())
        }
    }
}

/// The office-router signing keys (a throwaway key, generated on first use, in development),
/// and a non-blank issuer and audience.
fn router_keys(environment: Environment, settings: &RealtimeSettings) -> anyhow::Result<RouterKeys> {
    let previous = qubital_plugin::secret::present_secret(&settings.router_token_previous_key)
        .map(|k| k.expose_secret());
    let keys = match environment.required_secret(
        "JWT_PRIVATE_KEY",
        &settings.router_token_private_key,
        1,
        "signing office-router tokens with a throwaway key (make one with: openssl genrsa 2048)",
    )? {
        Some(current) => {
            RouterKeys::Configured(Arc::new(Keyring::from_pem(current.expose_secret(), previous)?))
        }
        None if previous.is_some() => bail!("JWT_PREVIOUS_KEY is set without JWT_PRIVATE_KEY"),
        None => RouterKeys::Generated(Arc::new(OnceLock::new())),
    };
    for (variable, value) in [
        ("JWT_ISSUER", &settings.router_token_issuer),
        ("JWT_AUDIENCE", &settings.router_token_audience),
    ] {
        if value.trim().is_empty() {
            bail!("{variable} must not be empty");
        }
    }
    Ok(keys)
}

/// The Centrifugo HMAC secret (a random one in development).
fn centrifugo_secret(environment: Environment, settings: &RealtimeSettings) -> anyhow::Result<Vec<u8>> {
    match environment.required_secret(
        "CENTRIFUGO_TOKEN_SECRET",
        &settings.centrifugo_token_secret,
        MIN_CENTRIFUGO_SECRET_BYTES,
        "using a throwaway secret",
    )? {
        Some(secret) => Ok(secret.expose_secret().as_bytes().to_vec()),
        None => {
            let mut secret = vec![0u8; 48];
            aws_lc_rs::rand::fill(&mut secret).context("the system RNG")?;
            Ok(secret)
        }
    }
}

/// The check of the Worker's tokens (refusing every one in development without a key).
fn worker_verifier(environment: Environment, worker: &WorkerAuthSettings) -> anyhow::Result<WorkerVerifier> {
    match WorkerVerifier::from_settings(worker)? {
        Some(verifier) => Ok(verifier),
        None => {
            environment.required(
                "WORKER_JWT_PUBLIC_KEY or WORKER_JWT_SECRET",
                &None,
                "Worker endpoints refuse every token",
            )?;
            Ok(WorkerVerifier::refusing_all(worker))
        }
    }
}

/// What a process that serves none of these operations provides: everything disabled or
/// refusing, nothing generated, nothing logged.
fn inert(settings: &RealtimeSettings, worker: &WorkerAuthSettings) -> Provided {
    let mut secret = [0u8; 32];
    let _ = aws_lc_rs::rand::fill(&mut secret);
    Provided {
        state: RealtimeState {
            livekit: LiveKit::disabled(),
            conference_ttl: Duration::from_secs(settings.conference_token_ttl_secs),
            router_keys: RouterKeys::Generated(Arc::new(OnceLock::new())),
            router_issuer: settings.router_token_issuer.clone(),
            router_audience: settings.router_token_audience.clone(),
            router_url: None,
            centrifugo: CentrifugoTokens::new(&secret, settings.centrifugo_token_ttl_secs, None),
        },
        worker: WorkerVerifier::refusing_all(worker),
    }
}

pub(crate) fn init(boot: &mut Boot) -> anyhow::Result<()> {
    let livekit = boot
        .get::<LiveKitSettings>()
        .cloned()
        .context("LiveKit settings are registered")?;
    let settings = boot
        .get::<RealtimeSettings>()
        .cloned()
        .context("realtime settings are registered")?;
    let worker = boot
        .get::<WorkerAuthSettings>()
        .cloned()
        .context("Worker settings are registered")?;
    // `qubital eventsync` serves none of these operations: it needs none of their secrets.
    let provided = if !boot.serves_api() {
        inert(&settings, &worker)
    } else {
        build(boot.environment, &livekit, &settings, &worker)?
    };
    boot.provide(provided.state.livekit.clone());
    boot.provide(provided.state.centrifugo.clone());
    boot.provide(provided.worker);
    boot.provide(provided.state);
    Ok(())
}
