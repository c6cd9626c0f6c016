//! Identity: WorkOS sign-in flows, backend-signed access tokens bound to server-side sessions,
//! the development sign-in, and the [`Authenticator`](qubital_plugin::auth::Authenticator)
//! behind every operation's `cookieAuth`.
//!
//! It also owns the identity tables (users, organizations, memberships, sessions,
//! invitations) and the flows other identity features reuse ([`flows`], [`sessions`],
//! [`directory`]). Decisions are written down in `docs/identity.md`.

pub mod api;
pub mod crypto;
pub mod dev;
pub mod directory;
pub mod flows;
pub mod ratelimit;
pub mod sessions;
pub mod settings;
pub mod state;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod tokens;
pub mod validate;

use std::{sync::Arc, time::Duration};

use anyhow::{bail, Context};
use base64::Engine;
use futures::FutureExt;
use platform_workos::{Workos, WorkosSettings};
use qubital_plugin::{auth::SharedAuthenticator, Api, Boot, Feature, Job, JobContext, ProcessRole, Settings};

pub use directory::User;
pub use settings::AuthSettings;
pub use state::{workos_problem, AuthState};

static MIGRATIONS: qubital_plugin::Migrator = qubital_plugin::sqlx::migrate!("../../migrations/auth");

qubital_plugin::inventory::submit! {
    Feature::new("auth")
        .apis(&[Api::of::<api::AuthApi>(), Api::of::<dev::DevApi>().development_only()])
        .migrations(&MIGRATIONS)
        .settings(&[Settings::of::<WorkosSettings>(), Settings::of::<AuthSettings>()])
        .jobs(&[Job::new("auth.cleanup", ProcessRole::Serve, Duration::from_secs(60), cleanup).singleton()])
        .init(init)
}

/// Smallest accepted `JWT_SECRET`, in bytes.
const MIN_JWT_SECRET_BYTES: usize = 32;

fn init(boot: &mut Boot) -> anyhow::Result<()> {
    let development = boot.environment.is_development();
    let workos_settings = boot
        .get::<WorkosSettings>()
        .cloned()
        .context("WorkOS settings are registered")?;
    let settings = boot
        .get::<AuthSettings>()
        .cloned()
        .context("auth settings are registered")?;

    let workos = match workos_settings.missing() {
        None => Workos::from_settings(&workos_settings)?,
        Some(variable) if development => {
            tracing::warn!("{variable} is unset: WorkOS is disabled (its operations answer 503); use POST /auth/dev/sign-in");
            Workos::disabled()
        }
        Some(variable) => bail!("{variable} is required in production"),
    };
    if !boot.serves_api() {
        // `qubital eventsync` needs WorkOS (to follow its events) but serves no session: no
        // session keys are required, and nothing here can authenticate a request.
        boot.provide(workos);
        return Ok(());
    }

    let jwt_secret = match settings.jwt_secret.as_deref().filter(|s| !s.is_empty()) {
        Some(secret) if secret.len() < MIN_JWT_SECRET_BYTES => {
            bail!("JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes")
        }
        Some(secret) => secret.as_bytes().to_vec(),
        None if development => {
            tracing::warn!("JWT_SECRET is unset: using a throwaway key (sessions end with this process)");
            crypto::random_token(48).into_bytes()
        }
        None => bail!("JWT_SECRET is required in production"),
    };
    let sealer = match settings
        .session_encryption_key
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        Some(key) => crypto::Sealer::from_base64(key)
            .map_err(|reason| anyhow::anyhow!("SESSION_ENCRYPTION_KEY {reason}"))?,
        None if development => {
            tracing::warn!("SESSION_ENCRYPTION_KEY is unset: using a throwaway key");
            crypto::Sealer::generate()
        }
        None => bail!(
            "SESSION_ENCRYPTION_KEY is required in production (32 random bytes, base64: {})",
            "openssl rand -base64 32"
        ),
    };
    if workos.is_enabled() && settings.redirect_uri.is_none() {
        if development {
            tracing::warn!("WORKOS_REDIRECT_URI is unset: OAuth sign-in is disabled");
        } else {
            bail!("WORKOS_REDIRECT_URI is required in production");
        }
    }

    let tokens = tokens::TokenKeys::new(&jwt_secret, &settings.jwt_issuer, settings.access_token_ttl_secs);
    let state = AuthState::new(tokens, sealer, settings, !development);
    boot.provide(workos.clone());
    boot.provide(state.clone());
    boot.provide(SharedAuthenticator(Arc::new(sessions::SessionAuthenticator {
        state,
        workos,
    })));
    Ok(())
}

/// The `auth.cleanup` job: drops expired sign-in state, old rate-limit windows, and sessions
/// ended (or expired) more than 30 days ago.
pub fn cleanup(job: JobContext) -> futures::future::BoxFuture<'static, anyhow::Result<()>> {
    async move {
        let db = job.app.db();
        sqlx::query("DELETE FROM oauth_states WHERE expires_at < now() - interval '1 hour'")
            .execute(db)
            .await?;
        sqlx::query("DELETE FROM pending_sign_ins WHERE expires_at < now() - interval '1 hour'")
            .execute(db)
            .await?;
        sqlx::query("DELETE FROM auth_rate_limits WHERE window_start < now() - interval '5 minutes'")
            .execute(db)
            .await?;
        sqlx::query(
            "DELETE FROM user_sessions
             WHERE COALESCE(ended_at, expires_at) < now() - interval '30 days'",
        )
        .execute(db)
        .await?;
        Ok(())
    }
    .boxed()
}

/// A fresh random key for `SESSION_ENCRYPTION_KEY` (for docs and tooling).
pub fn generate_encryption_key() -> String {
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}
