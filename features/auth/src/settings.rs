//! The identity feature's settings (environment variables, also flags), and `init`: settings
//! to state, with the production-secret rule.

use std::{sync::Arc, time::Duration};

use base64::Engine;
use platform_workos::{Workos, WorkosSettings};
use qubital_plugin::{auth::SharedAuthenticator, Boot, ExposeSecret, SecretString};

use crate::{
    crypto,
    session_cache::{self, ParticipantCache, SessionCache},
    sessions,
    state::AuthState,
    tokens,
};

/// Sign-in, session and token settings.
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Identity")]
pub struct AuthSettings {
    /// Key signing the access tokens (HS256), at least 32 bytes. Required in production;
    /// development generates a throwaway one at boot.
    #[arg(long = "jwt-secret", env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<SecretString>,

    /// `iss` (and `aud`) of the access tokens.
    #[arg(long = "jwt-issuer", env = "JWT_ISSUER", default_value = "qubital")]
    pub jwt_issuer: String,

    /// Lifetime of an access token, in seconds. An expired token with a live session is
    /// refreshed transparently.
    #[arg(long = "access-token-ttl-secs", env = "ACCESS_TOKEN_TTL_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub access_token_ttl_secs: u64,

    /// Absolute lifetime of a session (and of its cookie), in days.
    #[arg(long = "session-ttl-days", env = "SESSION_TTL_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=365))]
    pub session_ttl_days: u32,

    /// AES-256-GCM key sealing WorkOS refresh tokens at rest: 32 bytes, base64. Required in
    /// production; development generates a throwaway one (sessions then die with the process).
    #[arg(
        long = "session-encryption-key",
        env = "SESSION_ENCRYPTION_KEY",
        hide_env_values = true
    )]
    pub session_encryption_key: Option<SecretString>,

    /// Redirect URI of the web OAuth flow (registered with WorkOS). Required in production.
    #[arg(long = "workos-redirect-uri", env = "WORKOS_REDIRECT_URI")]
    pub redirect_uri: Option<String>,

    /// Redirect URI of the desktop OAuth flow [default: the web one].
    #[arg(long = "workos-desktop-redirect-uri", env = "WORKOS_DESKTOP_REDIRECT_URI")]
    pub desktop_redirect_uri: Option<String>,

    /// Seconds a live session (user, organization, role) and a member's shown name for the
    /// realtime tokens may be reused without reading the database; an ended session, a changed
    /// role or a new name takes effect within this bound everywhere, and at once where a
    /// notification arrives (see docs/identity.md). 0 turns the caches off.
    #[arg(long = "session-cache-secs", env = "SESSION_CACHE_SECS", default_value_t = 2,
          value_parser = clap::value_parser!(u64).range(0..=5))]
    pub session_cache_secs: u64,

    /// Sign-in requests (start/finalize/select/sign-up) allowed per client IP per minute.
    #[arg(long = "sign-in-rate-limit", env = "SIGN_IN_RATE_LIMIT_PER_MINUTE", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub sign_in_rate_limit: u32,
}

/// Smallest accepted `JWT_SECRET`, in bytes.
const MIN_JWT_SECRET_BYTES: usize = 32;

/// Reads the settings and provides the WorkOS client, and — when this process serves the API —
/// the session keys ([`AuthState`]) and the [`SharedAuthenticator`] behind `cookieAuth`.
pub(crate) fn init(boot: &mut Boot) -> anyhow::Result<()> {
    let workos_settings = boot
        .get::<WorkosSettings>()
        .cloned()
        .expect("registered in lib.rs");
    let settings = boot.get::<AuthSettings>().cloned().expect("registered in lib.rs");
    let workos = workos_client(boot, &workos_settings)?;
    // The audit relay learns an organization's WorkOS id from the identity tables.
    boot.provide(qubital_audit::WorkosOrganizations(workos_organization_of));
    if !boot.serves_api() {
        // A worker needs WorkOS (to follow its events) but serves no session: no session keys
        // are required, and nothing here can authenticate a request.
        boot.provide(workos);
        return Ok(());
    }
    let (tokens, sealer) = session_keys(boot, &settings)?;
    if workos.is_enabled() {
        boot.environment.required(
            "WORKOS_REDIRECT_URI",
            &settings.redirect_uri,
            "OAuth sign-in is disabled",
        )?;
    }
    let secure_cookies = !boot.environment.is_development();
    let state = AuthState::new(tokens, sealer, settings, secure_cookies);
    boot.provide(workos.clone());
    boot.provide(state.clone());
    let cache_ttl = Duration::from_secs(state.settings().session_cache_secs);
    let cache = SessionCache::new(cache_ttl, &session_cache::GENERATION);
    boot.provide(Arc::new(ParticipantCache::new(
        cache_ttl,
        &session_cache::GENERATION,
    )));
    boot.provide(SharedAuthenticator(Arc::new(sessions::SessionAuthenticator {
        state,
        workos,
        cache,
    })));
    Ok(())
}

/// An organization's WorkOS id, for the audit relay (`qubital_audit::WorkosOrganizations`).
fn workos_organization_of(
    conn: &mut sqlx::PgConnection,
    id: i64,
) -> futures::future::BoxFuture<'_, Result<Option<String>, sqlx::Error>> {
    Box::pin(crate::store::organizations::workos_org_id(conn, id, false))
}

/// The WorkOS client, or a disabled one when its credentials are unset (which only development
/// allows).
fn workos_client(boot: &Boot, settings: &WorkosSettings) -> anyhow::Result<Workos> {
    if settings.is_live() {
        boot.refuse_development_with("a live WorkOS API key (WORKOS_API_KEY=sk_live_…)")?;
    }
    match settings.missing() {
        None => Workos::from_settings(settings),
        Some(variable) => {
            boot.environment.required(
                variable,
                &None,
                "WorkOS is disabled (its operations answer 503); use POST /auth/dev/sign-in",
            )?;
            Ok(Workos::disabled())
        }
    }
}

/// The keys signing access tokens and sealing secrets at rest: from settings, or throwaway ones
/// in development.
fn session_keys(boot: &Boot, settings: &AuthSettings) -> anyhow::Result<(tokens::TokenKeys, crypto::Sealer)> {
    let jwt_secret = match boot.environment.required_secret(
        "JWT_SECRET",
        &settings.jwt_secret,
        MIN_JWT_SECRET_BYTES,
        "using a throwaway key (sessions end with this process)",
    )? {
        Some(secret) => secret.expose_secret().as_bytes().to_vec(),
        None => crypto::random_token(48).into_bytes(),
    };
    let sealer = match boot.environment.required_secret(
        "SESSION_ENCRYPTION_KEY",
        &settings.session_encryption_key,
        1,
        "using a throwaway key (generate one with: openssl rand -base64 32)",
    )? {
        Some(key) => crypto::Sealer::from_base64(key.expose_secret())
            .map_err(|reason| anyhow::anyhow!("SESSION_ENCRYPTION_KEY {reason}"))?,
        None => crypto::Sealer::generate(),
    };
    let tokens = tokens::TokenKeys::new(&jwt_secret, &settings.jwt_issuer, settings.access_token_ttl_secs);
    Ok((tokens, sealer))
}

/// A fresh random key for `SESSION_ENCRYPTION_KEY` (for docs and tooling).
pub fn generate_encryption_key() -> String {
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}
