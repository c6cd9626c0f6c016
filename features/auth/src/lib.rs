//! Identity: WorkOS sign-in flows, backend-signed access tokens bound to server-side sessions,
//! the development sign-in, and the [`Authenticator`](qubital_plugin::auth::Authenticator)
//! behind every operation's `cookieAuth`. Decisions are written down in `docs/identity.md`.
//!
//! # API boundary
//!
//! This crate owns the identity tables (users, organizations, memberships, sessions, sign-in
//! state, invitations; see `TABLES`). Other features never name them; they call:
//!
//! - [`store`]: every statement on those tables, as typed functions returning typed rows (the
//!   users and organizations features are built on it);
//! - [`directory`]: the [`User`] DTO ([`directory::load_user`]), [`directory::Organization`],
//!   membership roles, WorkOS role slugs;
//! - [`enter`]: entering an organization — create one, join by invitation or invite link,
//!   switch — from a session or a sign-up (the organizations feature's create, accept and join
//!   operations are these);
//! - [`sessions`]: ending sessions (member removed, user deleted) and revoking them with
//!   WorkOS;
//! - [`ratelimit::limit`]: a per-minute budget for any key, counted in Postgres (the guests
//!   feature's join limits);
//! - [`crypto::Sealer`] (through [`AuthState::sealer`]): authenticated encryption of small
//!   values (the guests feature's invite tokens);
//! - [`validate`], [`crypto::random_token`], [`workos_problem`], [`permissions`], [`problems`];
//! - `test_support` (Cargo feature `test-support`, for other crates' tests): signing in, and the
//!   WorkOS sign-in steps against `platform-workos`'s fake.
//!
//! Everything else (the operations, the sign-in flows, tokens) is this crate's
//! own.

mod api;
pub mod crypto;
mod development;
pub mod directory;
pub mod enter;
mod jobs;
pub mod permissions;
mod probes;
pub mod problems;
pub mod ratelimit;
pub mod session_cache;
pub mod sessions;
pub mod settings;
mod sign_in;
pub mod state;
pub mod store;
#[cfg(feature = "test-support")]
pub mod test_support;
mod token_lease;
pub mod tokens;
pub mod validate;

use platform_workos::WorkosSettings;
use qubital_plugin::{Api, Feature, Settings, Table};

pub use directory::User;
pub use settings::{generate_encryption_key, AuthSettings};
pub use state::{workos_problem, AuthState};

static MIGRATIONS: qubital_plugin::Migrator = qubital_plugin::sqlx::migrate!("../../migrations/auth");

qubital_plugin::inventory::submit! {
    Feature::new("auth")
        .apis(&[Api::of::<api::AuthApi>(), Api::of::<api::DevApi>().development_only()])
        .migrations(&MIGRATIONS)
        .tables(&TABLES)
        .settings(&[Settings::of::<WorkosSettings>(), Settings::of::<AuthSettings>()])
        .probes(&[probes::WORKOS])
        .jobs(&[jobs::SESSION_CHANGES])
        .init(settings::init)
}

/// The identity tables. Other features reach them only through this crate's API (see "API
/// boundary" above).
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
