//! The stream follower: applies the WorkOS event stream to the mirror.
//!
//! A run reads pages of events after the stored cursor and applies a page's events and advances
//! the cursor in one transaction, so a crash at any point loses nothing and applies nothing twice.
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
        let events = events
            .into_iter()
            .map(Event::try_from)
            .collect::<Result<Vec<_>, _>>()
            .context("WorkOS sent an event with an unreadable time")?;
        match apply_page(db, &events, &mut position, stop).await? {
            Page::Applied => {}
            // Another follower moved the cursor: it owns the stream now.
            Page::CursorMoved => return Ok(()),
            Page::Stopped => return Ok(()),
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

/// How applying a page ended.
enum Page {
    /// Every event of the page is applied and the cursor is on its last one.
    Applied,
    /// The cursor was not where this follower left it: another follower owns the stream.
    CursorMoved,
    /// `stop` was cancelled between two events; what was applied is committed with its cursor.
    Stopped,
}

/// Applies `events` and moves the cursor past them in **one transaction**: one commit per
/// page instead of one per event is what lets a follower catch up at thousands of events per
/// second. The transaction first locks the cursor row and checks it is still where this
/// follower left it, so two followers never apply one event. `stop` is checked between events;
/// the events applied before it are committed with the cursor on the last of them.
///
/// When an event fails to apply (a lost connection, a deadlock, a timeout), the whole page is
/// rolled back and applied again one event per transaction ([`apply_one_by_one`]): the events
/// before the failing one are then committed, and the failure is returned with the cursor
/// just before it, exactly as if there were no batching.
async fn apply_page(
    db: &PgPool,
    events: &[Event],
    position: &mut Position,
    stop: &CancellationToken,
) -> anyhow::Result<Page> {
    let mut tx = db.begin().await?;
    if store::lock_cursor(&mut tx).await?.as_deref() != position.cursor.as_deref() {
        return Ok(Page::CursorMoved);
    }
    let mut outcomes = Vec::with_capacity(events.len());
    let mut stopped = false;
    for event in events {
        if stop.is_cancelled() {
            stopped = true;
            break;
        }
        match apply::apply_event(&mut tx, event, Source::Stream).await {
            Ok(outcome) => outcomes.push((event, outcome)),
            Err(error) => {
                tracing::warn!(event_id = %event.id, error = %format!("{error:#}"), "applying the page failed; applying it again one event at a time");
                tx.rollback().await?;
                return apply_one_by_one(db, events, position, stop).await;
            }
        }
    }
    let Some((last, _)) = outcomes.last() else {
        return Ok(if stopped { Page::Stopped } else { Page::Applied });
    };
    store::advance_cursor(&mut tx, &last.id, last.created_at).await?;
    tx.commit().await?;
    position.cursor = Some(last.id.clone());
    for (event, outcome) in &outcomes {
        record_applied(event, *outcome);
    }
    Ok(if stopped { Page::Stopped } else { Page::Applied })
}

/// The slow path of [`apply_page`]: each event and its cursor move in its own transaction.
async fn apply_one_by_one(
    db: &PgPool,
    events: &[Event],
    position: &mut Position,
    stop: &CancellationToken,
) -> anyhow::Result<Page> {
    for event in events {
        if stop.is_cancelled() {
            return Ok(Page::Stopped);
        }
        if !apply_and_advance(db, event, position.cursor.as_deref()).await? {
            return Ok(Page::CursorMoved);
        }
        position.cursor = Some(event.id.clone());
    }
    Ok(Page::Applied)
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
    record_applied(event, outcome);
    Ok(true)
}

/// Counts a committed event in `/metrics`.
fn record_applied(event: &Event, outcome: Option<apply::Outcome>) {
    metrics::record(&event.event, outcome);
    metrics().last_event_unix.set(event.created_at.timestamp());
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
