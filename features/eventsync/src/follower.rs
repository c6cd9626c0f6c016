//! The stream follower: applies the WorkOS event stream to the mirror.
//!
//! A run reads pages of events after the stored cursor and applies each event and advances the
//! cursor in one transaction, so a crash at any point loses nothing and applies nothing twice.
//! With no cursor and no completed backfill, a run first copies every organization, user and
//! membership from the list endpoints, then reads the stream from a little before the backfill
//! began (re-applying an event is harmless; missing one is not). A refused position (events are
//! kept 30 days) resets to a new backfill. The job running it (`jobs.rs`) is a singleton: one
//! follower across replicas; a second one waits and takes over when the first dies.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use platform_workos::{
    events::{self as workos_events, EventsError},
    Workos,
};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{
    apply::{self, Source},
    metrics::{self, metrics},
    objects::{self, Change, Event, FOLLOWED_TYPES},
    store::{self, Position},
    EventsyncSettings,
};

/// How far before a backfill's start the stream is read again, for clock skew between us and
/// WorkOS.
const BACKFILL_OVERLAP: chrono::Duration = chrono::Duration::minutes(5);
/// Longest wait honoured from a `Retry-After` within one run.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// Applies what the stream has, page after page, until it is drained or `stop` is cancelled.
pub async fn follow(
    db: &PgPool,
    workos: &Workos,
    settings: &EventsyncSettings,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let mut position = store::position(db).await?;
    if position.cursor.is_none() && position.backfill_started_at.is_none() {
        backfill(db, workos).await?;
        position = store::position(db).await?;
    }
    loop {
        if stop.is_cancelled() {
            return Ok(());
        }
        let events = match next_page(workos, settings, &position).await {
            Ok(events) => events,
            Err(EventsError::RateLimited(retry_after)) => {
                wait_as_asked(retry_after, stop).await;
                return Ok(());
            }
            Err(EventsError::PositionRejected(reason)) => {
                tracing::warn!(%reason, "WorkOS refused the stream position; reconciling with a full backfill");
                store::reset_position(db).await?;
                return Ok(());
            }
            Err(EventsError::Other(error)) => {
                metrics::count_error("workos");
                return Err(error).context("cannot read the WorkOS event stream");
            }
        };
        let count = events.len();
        for raw in events {
            if stop.is_cancelled() {
                return Ok(());
            }
            let event = Event::try_from(raw).context("WorkOS sent an event with an unreadable time")?;
            if !apply_and_advance(db, &event, position.cursor.as_deref()).await? {
                // Another follower moved the cursor: it owns the stream now.
                return Ok(());
            }
            position.cursor = Some(event.id);
        }
        store::record_poll(db).await?;
        metrics().last_poll_unix.set(Utc::now().timestamp());
        if count < settings.page_size as usize {
            return Ok(());
        }
    }
}

/// The page of events after the cursor, or (without one) from a little before the backfill.
async fn next_page(
    workos: &Workos,
    settings: &EventsyncSettings,
    position: &Position,
) -> Result<Vec<workos_events::Event>, EventsError> {
    let range_start = position
        .backfill_started_at
        .map(|at| (at - BACKFILL_OVERLAP).to_rfc3339());
    let page = workos
        .list_events(
            FOLLOWED_TYPES,
            position.cursor.as_deref(),
            range_start.as_deref(),
            settings.page_size,
        )
        .await?;
    Ok(page.events)
}

/// Waits out a 429's `Retry-After` (bounded; cut short by `stop`); the next run goes on.
async fn wait_as_asked(retry_after: Option<Duration>, stop: &CancellationToken) {
    let wait = retry_after.unwrap_or(Duration::from_secs(5)).min(MAX_RETRY_AFTER);
    tracing::info!(?wait, "WorkOS rate-limited the follower; waiting as asked");
    metrics::count_error("rate-limited");
    tokio::select! {
        _ = stop.cancelled() => {}
        _ = tokio::time::sleep(wait) => {}
    }
}

/// Applies `event` and moves the cursor from `expected` to it, atomically. `false` when the
/// cursor was no longer `expected` (nothing was applied).
async fn apply_and_advance(db: &PgPool, event: &Event, expected: Option<&str>) -> anyhow::Result<bool> {
    let mut tx = db.begin().await?;
    if store::lock_cursor(&mut tx).await?.as_deref() != expected {
        return Ok(false);
    }
    let outcome = apply::apply_event(&mut tx, event, Source::Stream).await?;
    store::advance_cursor(&mut tx, &event.id, event.created_at).await?;
    tx.commit().await?;
    metrics::record(&event.event, outcome);
    metrics().last_event_unix.set(event.created_at.timestamp());
    Ok(true)
}

/// Copies every organization, user and membership, then records when it began so the stream
/// is read from there. Re-running it after a crash is harmless.
async fn backfill(db: &PgPool, workos: &Workos) -> anyhow::Result<()> {
    let started = Utc::now();
    tracing::info!("no stream position: backfilling organizations, users and memberships from WorkOS");
    let organizations = workos
        .list_all_organizations()
        .await
        .map_err(|e| anyhow::anyhow!("backfill: {e}"))?;
    let users = workos
        .list_all_users()
        .await
        .map_err(|e| anyhow::anyhow!("backfill: {e}"))?;
    let mut counts = (0usize, 0usize, 0usize);
    for object in &organizations {
        apply_backfilled(db, "organization.updated", object, started).await?;
        counts.0 += 1;
    }
    for object in &users {
        apply_backfilled(db, "user.updated", object, started).await?;
        counts.1 += 1;
    }
    for object in &organizations {
        let Some(id) = object.get("id").and_then(|v| v.as_str()) else {
            continue;
        };
        for membership in workos
            .list_all_memberships(id)
            .await
            .map_err(|e| anyhow::anyhow!("backfill: {e}"))?
        {
            apply_backfilled(db, "organization_membership.updated", &membership, started).await?;
            counts.2 += 1;
        }
    }
    store::record_backfill(db, started).await?;
    tracing::info!(
        organizations = counts.0,
        users = counts.1,
        memberships = counts.2,
        "backfill done"
    );
    Ok(())
}

/// Applies one listed object as an update of it, in its own transaction (which holds the
/// object's lock, as an event's does, so a webhook racing the backfill is safe).
async fn apply_backfilled(
    db: &PgPool,
    as_type: &str,
    object: &serde_json::Value,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    match objects::change_of(as_type, object) {
        Ok(Some(
            change @ (Change::OrganizationUpserted(_)
            | Change::UserUpserted(_)
            | Change::MembershipUpserted(_)),
        )) => {
            let mut tx = db.begin().await?;
            apply::apply_change(&mut tx, &change, at).await?;
            tx.commit().await?;
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(%error, as_type, "a backfilled object is not what WorkOS documents; skipped")
        }
    }
    Ok(())
}
