//! Calendar sync: a member connects a calendar provider (Google now; any
//! [`CalendarProvider`](platform_calendar::CalendarProvider) later), events of the
//! organization's spaces are created on the organizer's connected calendar with a join link,
//! and a sync job brings back what changes at the provider (moves, cancellations, attendees'
//! answers). Decisions are written down in `docs/calendar.md`.
//!
//! It reaches other features only through their crates: spaces through
//! `qubital_spaces::find_in_organization`, members' addresses and memberships through
//! `qubital_auth` (`directory::membership_role`, `store::users::profile`), and the identity
//! feature's sealer (`AuthState::sealer`) encrypts the provider tokens at rest.
//!
//! # API boundary
//!
//! No other feature calls this one. Public for providers, tests and operators:
//! [`providers`] (a provider registers itself with [`providers::ProviderRegistration`]; a test
//! proves a second provider needs nothing else), [`jobs`] (one sync pass on demand) and
//! [`settings`].

mod api;
pub mod jobs;
pub mod permissions;
pub mod problems;
pub mod providers;
pub mod settings;
mod store;
mod sync;
mod tokens;

use qubital_plugin::{Api, Feature, Settings, Table};

static MIGRATIONS: qubital_plugin::Migrator = qubital_plugin::sqlx::migrate!("../../migrations/calendar");

qubital_plugin::inventory::submit! {
    Feature::new("calendar")
        .apis(&[
            Api::of::<api::CalendarConnectionsApi>(),
            Api::of::<api::CalendarEventsApi>(),
        ])
        .migrations(&MIGRATIONS)
        .tables(&[
            Table::kept("calendar_connections", "deleted when the member disconnects, or with the member or organization"),
            Table::pruned(
                "calendar_oauth_states",
                "expires_at < now() - interval '1 hour'",
                "a connect lives ten minutes",
            ),
            Table::pruned(
                "calendar_events",
                "status = 'cancelled' AND updated_at < now() - interval '30 days'",
                "an event cancelled at the provider a month ago no longer needs showing",
            ),
            Table::kept("calendar_event_attendees", "deleted with their event"),
        ])
        .settings(&[
            Settings::of::<settings::CalendarSettings>(),
            Settings::of::<platform_calendar::GoogleCalendarSettings>(),
        ])
        .jobs(&[jobs::SYNC])
        .init(settings::init)
}
