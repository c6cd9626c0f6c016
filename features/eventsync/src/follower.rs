//! The `eventsync` job: follows the WorkOS event stream into the mirror.
//!
//! A run reads pages of events after the stored cursor and applies each event and advances the
//! cursor in one transaction, so a crash at any point loses nothing and applies nothing twice.
//! With no cursor and no completed backfill, a run first copies every organization, user and
//! membership from the list endpoints, then reads the stream from a little before the backfill
//! began (re-applying an event is harmless; missing one is not). A refused position (events are
//! kept 30 days) resets to a new backfill. The job is a singleton: one follower across
//! replicas; a second one waits and takes over when the first dies.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use platform_workos::{events::EventsError, Workos};
use qubital_plugin::JobContext;
use sqlx::{PgConnection, PgPool};

use crate::{
    apply::{self, Source},
    metrics::metrics,
    objects::{self, Change, Event, FOLLOWED_TYPES},
    EventsyncSettings,
};

/// The stream's row in `event_cursors`.
const STREAM: &str = "workos";
/// How far before a backfill's start the stream is read again, for clock skew between us and
/// WorkOS.
const BACKFILL_OVERLAP: chrono::Duration = chrono::Duration::minutes(5);
/// Longest wait honoured from a `Retry-After` within one run.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

#[derive(Debug, sqlx::FromRow)]
struct Position {
    cursor: Option<String>,
    backfill_started_at: Option<DateTime<Utc>>,
}

/// One run of the follower job.
pub async fn run(ctx: JobContext) -> anyhow::Result<()> {
    let workos = ctx.app.get::<Workos>().clone();
    if !workos.is_enabled() {
        tracing::debug!("WorkOS is not configured; nothing to follow");
        return Ok(());
    }
    let settings = ctx.app.get::<EventsyncSettings>().clone();
    follow(ctx.app.db(), &workos, &settings, &ctx.stop).await
}

/// Applies what the stream has, page after page, until it is drained or `stop` is cancelled.
pub async fn follow(
    db: &PgPool,
    workos: &Workos,
    settings: &EventsyncSettings,
    stop: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let mut position = load_position(db).await?;
    if position.cursor.is_none() && position.backfill_started_at.is_none() {
        backfill(db, workos).await?;
        position = load_position(db).await?;
    }
    loop {
        if stop.is_cancelled() {
            return Ok(());
        }
        let range_start = position
            .backfill_started_at
            .map(|at| (at - BACKFILL_OVERLAP).to_rfc3339());
        let page = match workos
            .list_events(
                FOLLOWED_TYPES,
                position.cursor.as_deref(),
                range_start.as_deref(),
                settings.page_size,
            )
            .await
        {
            Ok(page) => page,
            Err(EventsError::RateLimited(retry_after)) => {
                let wait = retry_after.unwrap_or(Duration::from_secs(5)).min(MAX_RETRY_AFTER);
                tracing::info!(?wait, "WorkOS rate-limited the follower; waiting as asked");
                metrics()
                    .errors
                    .get_or_create(&crate::metrics::ErrorLabels {
                        kind: "rate-limited".into(),
                    })
                    .inc();
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
                return Ok(());
            }
            Err(EventsError::PositionRejected(reason)) => {
                tracing::warn!(%reason, "WorkOS refused the stream position; reconciling with a full backfill");
                reset_position(db).await?;
                return Ok(());
            }
            Err(EventsError::Other(error)) => {
                metrics()
                    .errors
                    .get_or_create(&crate::metrics::ErrorLabels {
                        kind: "workos".into(),
                    })
                    .inc();
                return Err(error).context("cannot read the WorkOS event stream");
            }
        };
        let count = page.events.len();
        for raw in page.events {
            if stop.is_cancelled() {
                return Ok(());
            }
            let event = Event::try_from(raw).context("WorkOS sent an event with an unreadable time")?;
            if !apply_and_advance(db, &event, position.cursor.as_deref()).await? {
                // Another follower moved the cursor: it owns the stream now.
                return Ok(());
            }
            position.cursor = Some(event.id.clone());
        }
        record_poll(db).await?;
        if count < settings.page_size as usize {
            return Ok(());
        }
    }
}

/// Applies `event` and moves the cursor from `expected` to it, atomically. `false` when the
/// cursor was no longer `expected` (nothing was applied).
async fn apply_and_advance(db: &PgPool, event: &Event, expected: Option<&str>) -> anyhow::Result<bool> {
    let mut tx = db.begin().await?;
    let current: Option<String> =
        sqlx::query_scalar("SELECT cursor FROM event_cursors WHERE stream = $1 FOR UPDATE")
            .bind(STREAM)
            .fetch_one(&mut *tx)
            .await?;
    if current.as_deref() != expected {
        return Ok(false);
    }
    let outcome = apply::apply_event(&mut tx, event, Source::Stream).await?;
    sqlx::query(
        "UPDATE event_cursors SET cursor = $2, last_event_at = $3, updated_at = now() WHERE stream = $1",
    )
    .bind(STREAM)
    .bind(&event.id)
    .bind(event.created_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    crate::metrics::record(&event.event, outcome);
    metrics().last_event_unix.set(event.created_at.timestamp());
    Ok(true)
}

async fn load_position(db: &PgPool) -> sqlx::Result<Position> {
    sqlx::query("INSERT INTO event_cursors (stream) VALUES ($1) ON CONFLICT (stream) DO NOTHING")
        .bind(STREAM)
        .execute(db)
        .await?;
    sqlx::query_as("SELECT cursor, backfill_started_at FROM event_cursors WHERE stream = $1")
        .bind(STREAM)
        .fetch_one(db)
        .await
}

async fn reset_position(db: &PgPool) -> sqlx::Result<()> {
    sqlx::query("UPDATE event_cursors SET cursor = NULL, backfill_started_at = NULL, updated_at = now() WHERE stream = $1")
        .bind(STREAM)
        .execute(db)
        .await?;
    Ok(())
}

async fn record_poll(db: &PgPool) -> sqlx::Result<()> {
    sqlx::query("UPDATE event_cursors SET last_polled_at = now() WHERE stream = $1")
        .bind(STREAM)
        .execute(db)
        .await?;
    metrics().last_poll_unix.set(Utc::now().timestamp());
    Ok(())
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
    let mut conn = db.acquire().await?;
    let mut counts = (0usize, 0usize, 0usize);
    for object in &organizations {
        apply_backfilled(&mut conn, "organization.updated", object, started).await?;
        counts.0 += 1;
    }
    for object in &users {
        apply_backfilled(&mut conn, "user.updated", object, started).await?;
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
            apply_backfilled(&mut conn, "organization_membership.updated", &membership, started).await?;
            counts.2 += 1;
        }
    }
    sqlx::query("UPDATE event_cursors SET backfill_started_at = $2, cursor = NULL, updated_at = now() WHERE stream = $1")
        .bind(STREAM)
        .bind(started)
        .execute(&mut *conn)
        .await?;
    tracing::info!(
        organizations = counts.0,
        users = counts.1,
        memberships = counts.2,
        "backfill done"
    );
    Ok(())
}

async fn apply_backfilled(
    conn: &mut PgConnection,
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
            apply::apply_change(conn, &change, at).await?;
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(%error, as_type, "a backfilled object is not what WorkOS documents; skipped")
        }
    }
    Ok(())
}
