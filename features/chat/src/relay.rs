//! The outbox relay: delivers `chat_outbox` rows to Centrifugo.
//!
//! - **One relay at a time.** A pass runs only while holding a session advisory lock on a
//!   connection of its own ([`RelayLock`]), which Postgres releases when that connection ends —
//!   also when the process dies. (The job is a singleton too; the lock also covers an overlap of
//!   leaders and passes run by hand.)
//! - **In order per channel.** Rows are read in id order; rows of a channel are published one
//!   after the other, and a failure stops that channel for the pass (later rows of the channel
//!   wait for the failed one, whose retry is due after its backoff).
//! - **Exactly once.** A row is marked published only after Centrifugo accepted it, and every
//!   publication carries `idempotency_key = outbox:<id>`: a relay that dies between publishing
//!   and marking leaves the row pending, and its successor's second publication is dropped by
//!   Centrifugo's de-duplication.
//! - **Retries.** A temporary failure (unreachable, timeout, 5xx, Centrifugo's `100`/`111`, a
//!   refused API key) backs the row off exponentially (250 ms doubling, capped at 30 s); a
//!   transport failure also ends the pass (Centrifugo is down: the rest waits). A permanent
//!   refusal (unknown namespace, malformed) marks the row dead, logged, never retried.
//! - **Unconfigured** (development without `CENTRIFUGO_API_URL`): the relay idles; rows wait.

use std::time::{Duration, Instant};

use platform_centrifugo::{Centrifugo, CentrifugoError, Publication};
use qubital_plugin::AppContext;
use sqlx::{pool::PoolConnection, PgConnection, PgPool, Postgres};

use crate::{metrics, outbox, settings::ChatState, store};

/// Rows read per pass.
pub const BATCH: i64 = 500;

/// The relay's lock, held by a connection of its own until [`RelayLock::release`] or drop.
pub struct RelayLock {
    /// Detached from the pool: dropping it closes the connection, which releases the lock even
    /// when the holder is cancelled before it could unlock.
    conn: PgConnection,
}

impl RelayLock {
    /// The lock, when no other relay holds it.
    pub async fn try_acquire(db: &PgPool) -> Result<Option<Self>, sqlx::Error> {
        let conn: PoolConnection<Postgres> = db.acquire().await?;
        let mut conn = conn.detach();
        if store::outbox::try_lock_relay(&mut conn).await? {
            Ok(Some(Self { conn }))
        } else {
            Ok(None)
        }
    }

    /// Unlocks and closes the connection.
    pub async fn release(mut self) {
        if store::outbox::unlock_relay(&mut self.conn).await.is_ok() {
            use sqlx::Connection;
            let _ = self.conn.close().await;
        }
    }
}

/// A publication read from the outbox.
#[derive(Clone, Debug)]
pub struct Pending {
    pub id: i64,
    pub channel: String,
    pub data: serde_json::Value,
    /// Failed attempts so far.
    pub attempts: i32,
    /// Its backoff has elapsed.
    pub due: bool,
}

/// What became of one delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Published(i64),
    /// Worth retrying later (the row backs off).
    Failed {
        id: i64,
        error: String,
    },
    /// Refused for good.
    Dead {
        id: i64,
        error: String,
    },
}

/// What a pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Another relay holds the lock: nothing was done.
    pub busy: bool,
    /// Centrifugo is not configured: nothing was done.
    pub idle: bool,
    pub published: usize,
    pub failed: usize,
    pub dead: usize,
    /// Rows read that were due (a full batch means more may be waiting).
    pub read: usize,
}

/// Reads the oldest undelivered rows (up to `limit`), in id order. Requires the lock.
pub async fn claim(db: &PgPool, _lock: &RelayLock, limit: i64) -> Result<Vec<Pending>, sqlx::Error> {
    let mut conn = db.acquire().await?;
    Ok(store::outbox::pending(&mut conn, limit)
        .await?
        .into_iter()
        .map(|row| Pending {
            id: row.id,
            channel: row.channel,
            data: row.data,
            attempts: row.attempts,
            due: row.due,
        })
        .collect())
}

/// Publishes `pending` in order, channel by channel as described above. Writes nothing to the
/// database: [`record`] does.
pub async fn deliver(centrifugo: &Centrifugo, pending: &[Pending]) -> Vec<Outcome> {
    let mut blocked: Vec<&str> = Vec::new();
    let mut outcomes = Vec::new();
    for row in pending {
        if blocked.contains(&row.channel.as_str()) {
            continue;
        }
        if !row.due {
            blocked.push(&row.channel);
            continue;
        }
        let publication = Publication::new(&row.channel, row.data.clone())
            .with_idempotency_key(outbox::idempotency_key(row.id));
        match centrifugo.publish_publication(&publication).await {
            Ok(_) => outcomes.push(Outcome::Published(row.id)),
            Err(CentrifugoError::Disabled) => break,
            Err(error) if transport(&error) => {
                outcomes.push(Outcome::Failed {
                    id: row.id,
                    error: error.to_string(),
                });
                break;
            }
            Err(error) if error.is_retryable() => {
                blocked.push(&row.channel);
                outcomes.push(Outcome::Failed {
                    id: row.id,
                    error: error.to_string(),
                });
            }
            Err(error) => outcomes.push(Outcome::Dead {
                id: row.id,
                error: error.to_string(),
            }),
        }
    }
    outcomes
}

/// Whether the failure is Centrifugo (or the way to it) failing as a whole, rather than this
/// publication: no other publication would get through now.
fn transport(error: &CentrifugoError) -> bool {
    matches!(
        error,
        CentrifugoError::Unreachable(_)
            | CentrifugoError::Timeout(_)
            | CentrifugoError::Unauthorized { .. }
            | CentrifugoError::InvalidResponse(_)
    ) || matches!(error, CentrifugoError::Status { status, .. } if *status >= 500)
}

/// Writes what became of each attempt.
pub async fn record(db: &PgPool, outcomes: &[Outcome]) -> Result<(), sqlx::Error> {
    let mut conn = db.acquire().await?;
    let published: Vec<i64> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Published(id) => Some(*id),
            _ => None,
        })
        .collect();
    store::outbox::mark_published(&mut conn, &published).await?;
    metrics::published(published.len() as u64);
    for outcome in outcomes {
        match outcome {
            Outcome::Published(_) => {}
            Outcome::Failed { id, error } => {
                metrics::failed();
                tracing::warn!(outbox_id = id, %error, "a publication could not be delivered; retrying later");
                store::outbox::mark_failed(&mut conn, *id, error).await?;
            }
            Outcome::Dead { id, error } => {
                metrics::failed();
                tracing::error!(outbox_id = id, %error, "Centrifugo refused a publication for good; dropped");
                store::outbox::mark_dead(&mut conn, *id, error).await?;
            }
        }
    }
    Ok(())
}

/// Measures the backlog gauges.
pub async fn measure(db: &PgPool) -> Result<(i64, f64), sqlx::Error> {
    let mut conn = db.acquire().await?;
    let (pending, lag) = store::outbox::backlog(&mut conn).await?;
    metrics::set_backlog(pending, lag);
    Ok((pending, lag))
}

/// One pass under the lock: claim, deliver, record.
pub async fn pass(app: &AppContext, lock: &RelayLock) -> anyhow::Result<Pass> {
    let centrifugo = &app.get::<ChatState>().centrifugo;
    if !centrifugo.is_enabled() {
        return Ok(Pass {
            idle: true,
            ..Pass::default()
        });
    }
    let pending = claim(app.db(), lock, BATCH).await?;
    let outcomes = deliver(centrifugo, &pending).await;
    record(app.db(), &outcomes).await?;
    let mut pass = Pass {
        read: pending.iter().filter(|p| p.due).count(),
        ..Pass::default()
    };
    for outcome in &outcomes {
        match outcome {
            Outcome::Published(_) => pass.published += 1,
            Outcome::Failed { .. } => pass.failed += 1,
            Outcome::Dead { .. } => pass.dead += 1,
        }
    }
    Ok(pass)
}

/// Takes the lock and relays until nothing more is deliverable now; returns the totals.
/// `busy` when another relay holds the lock, `idle` when Centrifugo is not configured.
pub async fn relay_once(app: &AppContext) -> anyhow::Result<Pass> {
    relay_until(app, Duration::ZERO, || false).await
}

/// [`relay_once`], then, while publications keep coming, more passes until `linger` passed
/// without any (or `stop` says so): under load one lock (and one connection) serves many
/// passes, 50 ms apart. Without any due publication it returns after one query.
pub(crate) async fn relay_until(
    app: &AppContext,
    linger: Duration,
    stop: impl Fn() -> bool,
) -> anyhow::Result<Pass> {
    if !app.get::<ChatState>().centrifugo.is_enabled() {
        return Ok(Pass {
            idle: true,
            ..Pass::default()
        });
    }
    let (pending, _) = measure(app.db()).await?;
    if pending == 0 {
        return Ok(Pass::default());
    }
    let Some(lock) = RelayLock::try_acquire(app.db()).await? else {
        return Ok(Pass {
            busy: true,
            ..Pass::default()
        });
    };
    let mut total = Pass::default();
    let mut last_activity = Instant::now();
    let result = loop {
        let pass = match pass(app, &lock).await {
            Ok(pass) => pass,
            Err(error) => break Err(error),
        };
        total.published += pass.published;
        total.failed += pass.failed;
        total.dead += pass.dead;
        total.read += pass.read;
        if stop() || pass.failed > 0 {
            break Ok(());
        }
        if pass.published + pass.dead > 0 {
            last_activity = Instant::now();
            if pass.published + pass.dead >= BATCH as usize {
                continue;
            }
        }
        if last_activity.elapsed() >= linger {
            break Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let measured = measure(app.db()).await;
    lock.release().await;
    result?;
    measured?;
    Ok(total)
}
