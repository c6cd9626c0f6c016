//! Guests: people without an account, invited into one space for a limited time. A moderator
//! makes an invitation (an URL carrying an opaque, sealed token); the guest knocks with it and a
//! display name and waits in the lobby; a member the invitation allows admits or denies them;
//! an admitted guest gets a least-privilege conference token for that one space, expiring no
//! later than the invitation. A guest never gets a session, organization data, member lists or
//! other spaces. Decisions are written down in `docs/guests.md`.
//!
//! It reaches other features only through their crates: spaces through
//! `qubital_spaces::find_in_organization`, the sealing key, the rate limiter and membership
//! roles through `qubital_auth` (`AuthState::sealer`, `ratelimit::limit`,
//! `directory::membership_role`), the conference token through `qubital_realtime::conference`.
//!
//! # API boundary
//!
//! No other feature calls this one. Public for tests and operators: [`settings`],
//! [`permissions`], [`problems`].

mod api;
mod invite_token;
pub mod permissions;
pub mod problems;
pub mod settings;
mod store;

use qubital_plugin::{Api, Feature, Migrator, Settings, Table};

static MIGRATIONS: Migrator = qubital_plugin::sqlx::migrate!("../../migrations/guests");

qubital_plugin::inventory::submit! {
    Feature::new("guests")
        .apis(&[Api::of::<api::GuestInvitesApi>(), Api::of::<api::GuestsApi>()])
        .migrations(&MIGRATIONS)
        // Guests first: pruning an invitation takes its guests with it.
        .tables(&[
            Table::pruned(
                "guests",
                "expires_at < now() - interval '1 day'",
                "a guest exists for its invitation, which lives at most 7 days; a day after it ends \
                 the lobby and its decisions are history",
            ),
            Table::pruned(
                "guest_invites",
                "COALESCE(revoked_at, expires_at) < now() - interval '30 days'",
                "an invitation lives at most 7 days; ended ones stay listed for a month",
            ),
        ])
        .settings(&[Settings::of::<settings::GuestSettings>()])
        .init(settings::init)
}
