//! Bringing a connection's calendar back here: incremental with the provider's sync token, a
//! full read when there is none or the provider forgot it (`410 Gone` at Google), applied in one
//! transaction after the provider calls (none is made inside it). Only events this feature
//! created are mirrored (recognised by their provider id, which is derived from ours); the rest
//! of the member's calendar is never stored.
//!
//! Idempotent: an event is keyed by (connection, provider id), a report older than the stored
//! copy changes nothing, attendees are set by address; running a sync twice, or a full sync
//! after an incremental one, never duplicates anything.

use chrono::{DateTime, NaiveTime, Utc};
use platform_calendar::{CalendarError, EventStatus, EventTime, ProviderEvent};
use qubital_plugin::AppContext;
use uuid::Uuid;

use crate::{
    settings::CalendarState,
    store::{self, AttendeeInput, EventFields},
    tokens::{Acting, CallError},
};

/// A sync lease outlives any sane run; a run that dies leaves the connection to the next pass
/// after this.
const LEASE_SECS: i64 = 300;

/// What a sync of one connection did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Another run holds the connection, or it is not active.
    Skipped,
    /// The provider is not configured in this deployment.
    ProviderDisabled,
    /// Synced; `full` when every event was read (first sync, or the sync token had expired).
    Synced { full: bool, changed: usize },
    /// The provider refused the grant: the connection is now broken.
    Broken,
}

/// Syncs one connection (under its lease: concurrent runs, on any replica, skip it).
pub async fn sync_connection(ctx: &AppContext, connection_id: Uuid) -> anyhow::Result<Outcome> {
    let Some(sealer) = ctx
        .try_get::<qubital_auth::AuthState>()
        .map(|s| s.sealer().clone())
    else {
        anyhow::bail!("the identity feature's sealer is not available in this process");
    };
    let state = ctx.get::<CalendarState>();
    let db = ctx.db();
    let Some(connection) = store::claim_for_sync(db, connection_id, LEASE_SECS).await? else {
        return Ok(Outcome::Skipped);
    };
    let Some(provider) = state.providers.get(&connection.provider) else {
        store::release_lease(db, connection_id).await?;
        return Ok(Outcome::ProviderDisabled);
    };
    let acting = Acting {
        db,
        sealer: &sealer,
        provider,
        connection: &connection,
    };
    let result = run(ctx, &acting).await;
    if !matches!(result, Ok(Outcome::Synced { .. })) {
        store::release_lease(db, connection_id).await?;
    }
    result
}

async fn run(ctx: &AppContext, acting: &Acting<'_>) -> anyhow::Result<Outcome> {
    let connection = acting.connection;
    let calendar = connection.calendar_id.as_str();
    let list = |sync_token: Option<String>| async move {
        acting
            .call(|token| {
                let sync_token = sync_token.clone();
                async move {
                    acting
                        .provider
                        .list_changes(&token, calendar, sync_token.as_deref())
                        .await
                }
            })
            .await
    };
    let (changes, full) = match list(connection.sync_token.clone()).await {
        Ok(changes) => (changes, connection.sync_token.is_none()),
        Err(CallError::Provider(CalendarError::SyncTokenExpired)) => {
            tracing::info!(connection_id = %connection.id, "calendar sync token expired: full sync");
            match list(None).await {
                Ok(changes) => (changes, true),
                Err(error) => return failed(error),
            }
        }
        Err(error) => return failed(error),
    };
    let mut tx = ctx.db().begin().await?;
    let mut changed = 0;
    for event in &changes.events {
        if apply(&mut tx, connection.id, event).await? {
            changed += 1;
        }
    }
    if full {
        let listed: Vec<String> = changes
            .events
            .iter()
            .filter(|e| !e.is_cancelled())
            .map(|e| e.id.clone())
            .collect();
        changed += store::cancel_unlisted(&mut tx, connection.id, &listed).await? as usize;
    }
    store::finish_sync(&mut tx, connection.id, &changes.next_sync_token).await?;
    tx.commit().await?;
    Ok(Outcome::Synced { full, changed })
}

fn failed(error: CallError) -> anyhow::Result<Outcome> {
    match error {
        CallError::Broken | CallError::Unreadable => Ok(Outcome::Broken),
        other => Err(anyhow::anyhow!("calendar sync failed: {other}")),
    }
}

/// Applies one reported event to its local copy, if it is one of ours. `true` when something
/// changed.
pub(crate) async fn apply(
    conn: &mut sqlx::PgConnection,
    connection_id: Uuid,
    event: &ProviderEvent,
) -> Result<bool, sqlx::Error> {
    let Some((id, stored_at)) = store::event_by_provider_id(conn, connection_id, &event.id).await? else {
        return Ok(false);
    };
    if event.is_cancelled() {
        return store::cancel_event(conn, id).await;
    }
    // A report older than what is stored (replayed, or overtaken by our own write) is ignored.
    if let (Some(stored), Some(reported)) = (stored_at, event.updated) {
        if reported < stored {
            return Ok(false);
        }
    }
    let Some(reported) = Reported::of(event) else {
        return Ok(false);
    };
    let fields = store::update_event_fields(conn, id, &reported.fields()).await?;
    let attendees: Vec<AttendeeInput<'_>> = event
        .attendees
        .iter()
        .map(|a| AttendeeInput {
            email: &a.email,
            user_id: None,
            response_status: a.response_status.as_str(),
            organizer: a.organizer,
        })
        .collect();
    let attendees = store::set_attendees(conn, id, &attendees).await?;
    store::set_provider_updated(&mut *conn, id, event.updated).await?;
    Ok(fields || attendees)
}

/// A provider event's fields in our columns.
pub(crate) struct Reported<'a> {
    event: &'a ProviderEvent,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    time_zone: String,
}

impl<'a> Reported<'a> {
    /// `None` for an event without times (only cancelled stubs lack them).
    pub(crate) fn of(event: &'a ProviderEvent) -> Option<Self> {
        let (starts_at, zone) = instant(event.start.as_ref()?);
        let (ends_at, _) = instant(event.end.as_ref()?);
        Some(Self {
            event,
            starts_at,
            ends_at,
            time_zone: zone.unwrap_or_else(|| "UTC".to_owned()),
        })
    }

    pub(crate) fn fields(&self) -> EventFields<'_> {
        EventFields {
            title: self.event.summary.as_deref().unwrap_or(""),
            description: self.event.description.as_deref().filter(|d| !d.is_empty()),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            time_zone: &self.time_zone,
            recurrence: &self.event.recurrence,
            status: status(self.event.status),
            html_link: self.event.html_link.as_deref(),
            provider_updated_at: self.event.updated,
        }
    }
}

fn status(status: EventStatus) -> &'static str {
    status.as_str()
}

/// An event time as an instant (an all-day date: its midnight UTC) and its zone.
fn instant(time: &EventTime) -> (DateTime<Utc>, Option<String>) {
    match time {
        EventTime::DateTime { at, time_zone } => (at.with_timezone(&Utc), time_zone.clone()),
        EventTime::Date(date) => (date.and_time(NaiveTime::MIN).and_utc(), None),
    }
}
