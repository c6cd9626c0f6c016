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
pub mod permissions;
pub mod problems;
pub mod ratelimit;
pub mod sessions;
pub mod settings;
pub mod state;
pub mod store;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod tokens;
pub mod validate;

use std::sync::Arc;

use base64::Engine;
use platform_workos::{Workos, WorkosSettings};
use qubital_plugin::{auth::SharedAuthenticator, Api, Boot, ExposeSecret, Feature, Settings, Table};

pub use directory::User;
pub use settings::AuthSettings;
pub use state::{workos_problem, AuthState};

static MIGRATIONS: qubital_plugin::Migrator = qubital_plugin::sqlx::migrate!("../../migrations/auth");

qubital_plugin::inventory::submit! {
    Feature::new("auth")
        .apis(&[Api::of::<api::AuthApi>(), Api::of::<dev::DevApi>().development_only()])
        .migrations(&MIGRATIONS)
        .tables(&TABLES)
        .settings(&[Settings::of::<WorkosSettings>(), Settings::of::<AuthSettings>()])
        .init(init)
}

/// The identity tables. Other features reach them only through this crate's API
/// ([`directory`], [`sessions`], [`flows`]).
const TABLES: [Table; 8] = [
    Table::kept("organizations", "one row per organization, deleted with it"),
    Table::kept("users", "one row per person, deleted with their account"),
    Table::kept(
        "user_organizations",
        "one row per membership, deleted when it ends",
    ),
    Table::pruned(
        "user_sessions",
        "COALESCE(ended_at, expires_at) < now() - interval '30 days'",
        "a session ended or expired a month ago is kept only for support questions",
    ),
    Table::pruned(
        "oauth_states",
        "expires_at < now() - interval '1 hour'",
        "an OAuth sign-in lives ten minutes",
    ),
    Table::pruned(
        "pending_sign_ins",
        "expires_at < now() - interval '1 hour'",
        "an organization selection or sign-up step lives ten minutes",
    ),
    Table::pruned(
        "auth_rate_limits",
        "window_start < now() - interval '5 minutes'",
        "a rate-limit window counts one minute",
    ),
    Table::pruned(
        "invitations",
        "state <> 'pending' AND updated_at < now() - interval '90 days'",
        "an accepted or revoked invitation is history after a quarter; pending ones expire into it",
    ),
];

/// Smallest accepted `JWT_SECRET`, in bytes.
const MIN_JWT_SECRET_BYTES: usize = 32;

fn init(boot: &mut Boot) -> anyhow::Result<()> {
    let development = boot.environment.is_development();
    let workos_settings = boot.get::<WorkosSettings>().cloned().expect("registered above");
    let settings = boot.get::<AuthSettings>().cloned().expect("registered above");

    let workos = match workos_settings.missing() {
        None => Workos::from_settings(&workos_settings)?,
        Some(variable) => {
            boot.environment.required(
                variable,
                &None,
                "WorkOS is disabled (its operations answer 503); use POST /auth/dev/sign-in",
            )?;
            Workos::disabled()
        }
    };
    if !boot.serves_api() {
        // A worker needs WorkOS (to follow its events) but serves no session: no session keys
        // are required, and nothing here can authenticate a request.
        boot.provide(workos);
        return Ok(());
    }

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
    if workos.is_enabled() {
        boot.environment.required(
            "WORKOS_REDIRECT_URI",
            &settings.redirect_uri,
            "OAuth sign-in is disabled",
        )?;
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

/// A fresh random key for `SESSION_ENCRYPTION_KEY` (for docs and tooling).
pub fn generate_encryption_key() -> String {
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}
