//! Realtime access: short-lived credentials for the realtime transports, and the endpoints the
//! office-router Worker calls.
//!
//! - the conference token of a space (LiveKit, through `platform-livekit`),
//! - the office-router connection token (RS256, 60 s) and its JWKS with key rotation,
//! - the Centrifugo connection token (HS256, identity channels only),
//! - `/worker/...`: may user U enter space S, describe member U of organization O — behind the
//!   Worker's own JWT (`workerAuth`).
//!
//! It registers the LiveKit settings and provides the [`LiveKit`] client (and the
//! [`CentrifugoTokens`] signer) to other features through the app context. Decisions are
//! written down in `docs/spaces-and-realtime.md`.

pub mod api;
pub mod centrifugo;
pub mod keys;
pub mod settings;
pub mod worker_api;
pub mod worker_auth;

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use anyhow::{bail, Context};
use platform_livekit::{LiveKit, LiveKitSettings};
use qubital_plugin::{secret::present, Api, Boot, Environment, ExposeSecret, Feature, Settings};

pub use centrifugo::CentrifugoTokens;
pub use keys::{Keyring, RouterKeys};
pub use settings::{RealtimeSettings, WorkerAuthSettings};
pub use worker_auth::{WorkerAuth, WorkerVerifier};

qubital_plugin::inventory::submit! {
    Feature::new("realtime")
        .apis(&[Api::of::<api::RealtimeApi>(), Api::of::<worker_api::WorkerApi>()])
        .settings(&[
            Settings::of::<LiveKitSettings>(),
            Settings::of::<RealtimeSettings>(),
            Settings::of::<WorkerAuthSettings>(),
        ])
        .init(init)
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

pub fn build(
    environment: Environment,
    livekit: &LiveKitSettings,
    settings: &RealtimeSettings,
    worker: &WorkerAuthSettings,
) -> anyhow::Result<Provided> {
    platform_livekit::install_jwt_crypto_provider();

    let livekit = match livekit.missing() {
        None => LiveKit::from_settings(livekit)?,
        Some(variable) => {
            environment.required(
                variable,
                &None,
                "the conference is disabled (its operations answer 503)",
            )?;
            LiveKit::disabled()
        }
    };

    let previous = present(&settings.router_token_previous_key);
    let router_keys = match environment.required_secret(
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

    let centrifugo_secret = match environment.required_secret(
        "CENTRIFUGO_TOKEN_SECRET",
        &settings.centrifugo_token_secret,
        MIN_CENTRIFUGO_SECRET_BYTES,
        "using a throwaway secret",
    )? {
        Some(secret) => secret.expose_secret().as_bytes().to_vec(),
        None => {
            let mut secret = vec![0u8; 48];
            aws_lc_rs::rand::fill(&mut secret).context("the system RNG")?;
            secret
        }
    };

    let worker = match WorkerVerifier::from_settings(worker)? {
        Some(verifier) => verifier,
        None => {
            environment.required(
                "WORKER_JWT_PUBLIC_KEY or WORKER_JWT_SECRET",
                &None,
                "Worker endpoints refuse every token",
            )?;
            WorkerVerifier::refusing_all(worker)
        }
    };

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

fn init(boot: &mut Boot) -> anyhow::Result<()> {
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
