//! Background jobs: what a feature declares; the host's runner decides where and when they run.

use std::time::Duration;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::AppContext;

/// The process a job belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProcessRole {
    /// `qubital serve`: the HTTP API.
    Serve,
    /// `qubital eventsync`: the WorkOS follower.
    Eventsync,
}

/// One unit of work, run again `every` interval after the previous run finished.
///
/// A run should do a bounded amount of work and return; long streams (such as following an
/// event log) are written as "process the next batch" and rely on the runner to call again.
/// A run that fails is logged and retried with exponential backoff; it never stops the process.
#[derive(Clone, Copy)]
pub struct Job {
    /// Stable, unique name (`feature.job`); also the key of its leadership lock.
    pub name: &'static str,
    pub role: ProcessRole,
    pub every: Duration,
    /// At most one replica runs it at a time (leadership by Postgres advisory lock).
    pub singleton: bool,
    pub run: fn(JobContext) -> BoxFuture<'static, anyhow::Result<()>>,
}

impl Job {
    pub const fn new(
        name: &'static str,
        role: ProcessRole,
        every: Duration,
        run: fn(JobContext) -> BoxFuture<'static, anyhow::Result<()>>,
    ) -> Self {
        Self {
            name,
            role,
            every,
            singleton: false,
            run,
        }
    }

    pub const fn singleton(mut self) -> Self {
        self.singleton = true;
        self
    }
}

/// What one run of a job is given.
#[derive(Clone)]
pub struct JobContext {
    pub app: AppContext,
    /// Cancelled when the process is shutting down (or this replica lost leadership): stop at the
    /// next safe point. Work committed so far stays committed; the next run picks up from there.
    pub stop: CancellationToken,
}

/// Rows one [`prune_expired`] statement deletes at most.
pub const PRUNE_BATCH: i64 = 5_000;

/// For housekeeping jobs: deletes the rows of `table` for which `expired` holds (SQL written by
/// the feature, never input), [`PRUNE_BATCH`] at a time so that no statement holds locks or
/// writes a burst of WAL for long, until none is left or `stop()` says so. Idempotent. Returns
/// how many rows were deleted.
pub async fn prune_expired(
    db: &sqlx::PgPool,
    table: &str,
    expired: &str,
    stop: impl Fn() -> bool,
) -> Result<u64, sqlx::Error> {
    let statement =
        format!("DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} WHERE {expired} LIMIT $1)");
    let mut deleted = 0;
    while !stop() {
        let done = sqlx::query(&statement)
            .bind(PRUNE_BATCH)
            .execute(db)
            .await?
            .rows_affected();
        deleted += done;
        if done < PRUNE_BATCH as u64 {
            break;
        }
    }
    Ok(deleted)
}
