//! The calendar operations, one `#[OpenApi]` type per resource: connecting a provider
//! ([`connections`]) and the events of spaces ([`events`]). Here: what they share — the
//! provider lookup, the mapping of provider failures to problems, and the connection DTO.

mod connections;
mod events;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use platform_calendar::{CalendarError, CalendarProvider};
use poem_openapi::{Enum, Object, Tags};
use qubital_plugin::{problem::types, Problem};
use uuid::Uuid;

pub(crate) use connections::CalendarConnectionsApi;
pub(crate) use events::CalendarEventsApi;

use crate::{
    problems::CALENDAR_CONNECTION_BROKEN, providers::Lookup, settings::CalendarState, store::ConnectionRow,
    tokens::CallError,
};

#[derive(Tags)]
enum CalendarTag {
    /// Connecting a calendar provider account (Google now) and the events of spaces scheduled
    /// on it.
    Calendar,
}

/// Whether a connection works.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum CalendarConnectionStatus {
    /// Synced and usable.
    Active,
    /// The provider refused the grant (revoked by the member, expired): connect again.
    Broken,
}

/// A member's connection to a calendar provider. Tokens are never sent.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CalendarConnection {
    pub id: Uuid,
    /// The provider's name (`google`).
    pub provider: String,
    /// The provider account that granted access, when the provider says.
    pub account_email: Option<String>,
    pub status: CalendarConnectionStatus,
    /// When the provider refused the grant (status `broken`).
    pub broken_at: Option<DateTime<Utc>>,
    /// The last completed sync.
    pub last_synced_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn connection(row: ConnectionRow) -> CalendarConnection {
    CalendarConnection {
        id: row.id,
        provider: row.provider,
        account_email: row.account_email,
        status: if row.status == "active" {
            CalendarConnectionStatus::Active
        } else {
            CalendarConnectionStatus::Broken
        },
        broken_at: row.broken_at,
        last_synced_at: row.last_synced_at,
        created_at: row.created_at,
    }
}

/// The configured provider called `name`: `404` for a name no provider has, `503
/// integration-disabled` for one this deployment does not configure.
fn provider<'a>(state: &'a CalendarState, name: &str) -> Result<&'a Arc<dyn CalendarProvider>, Problem> {
    match state.providers.lookup(name) {
        Lookup::Ready(provider) => Ok(provider),
        Lookup::Disabled => Err(Problem::integration_disabled("This calendar provider")),
        Lookup::Unknown => Err(Problem::not_found()),
    }
}

/// `409 calendar-connection-broken` unless the connection is active.
fn active(row: &ConnectionRow) -> Result<(), Problem> {
    if row.status == "active" {
        Ok(())
    } else {
        Err(broken())
    }
}

fn broken() -> Problem {
    Problem::new(&CALENDAR_CONNECTION_BROKEN)
}

/// A failed provider call as the client sees it (the provider's words go to the logs only).
fn call_problem(error: CallError) -> Problem {
    match error {
        CallError::Broken | CallError::Unreadable => broken(),
        CallError::Database(error) => Problem::from(error),
        CallError::Provider(error) => provider_problem(error),
    }
}

fn provider_problem(error: CalendarError) -> Problem {
    match error {
        CalendarError::RateLimited { retry_after } => {
            tracing::warn!(?retry_after, "the calendar provider rate-limited us");
            Problem::new(&types::INTEGRATION_UNAVAILABLE)
                .with_detail("The calendar provider is busy; try again shortly.")
                .with_retry_after(retry_after.map_or(30, |wait| wait.as_secs().max(1)))
        }
        CalendarError::Unavailable(message) => {
            Problem::integration_unavailable("The calendar provider", message)
        }
        CalendarError::InvalidGrant | CalendarError::InsufficientScope { .. } => broken(),
        other => {
            tracing::warn!(error = %other, "the calendar provider refused a request");
            Problem::new(&types::INTEGRATION_ERROR).with_detail("The calendar provider refused the change.")
        }
    }
}
