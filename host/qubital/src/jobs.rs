//! Runs the registered jobs of one process role.
//!
//! Each job gets its own task. A plain job runs on every replica; a singleton job runs only on
//! the replica that holds its Postgres advisory lock (the key is derived from the job's name).
//! The lock lives on a dedicated connection: when the leader exits or dies, Postgres releases it
//! and another replica takes over at its next attempt. A failed or panicking run is logged and
//! retried with exponential backoff; it never stops the process.

use std::{sync::OnceLock, time::Duration};

use futures::FutureExt;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
};
use qubital_plugin::{AppContext, Job, JobContext, ProcessRole};
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Longest pause between retries of a failing job.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Longest pause between a follower's attempts to take leadership.
const MAX_TAKEOVER_WAIT: Duration = Duration::from_secs(5);

/// The running jobs of this process.
pub struct JobRunner {
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl JobRunner {
    /// Starts every job of `role` among `jobs`.
    pub fn start(app: AppContext, jobs: impl IntoIterator<Item = Job>, role: ProcessRole) -> Self {
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        for job in jobs.into_iter().filter(|job| job.role == role) {
            let (app, stop) = (app.clone(), stop.clone());
            tracing::info!(job = job.name, every = ?job.every, singleton = job.singleton, "job scheduled");
            if job.singleton {
                tasks.spawn(run_singleton(job, app, stop));
            } else {
                tasks.spawn(run_every(job, JobContext { app, stop }));
            }
        }
        Self { stop, tasks }
    }

    /// Asks every job to stop and waits for the runs in progress to return.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Runs `job` until `ctx.stop` is cancelled.
async fn run_every(job: Job, ctx: JobContext) {
    let mut pace = Pace::default();
    while !ctx.stop.is_cancelled() {
        let outcome = run_once(&job, ctx.clone()).await;
        if !pause(&ctx.stop, pace.next_wait(&job, outcome)).await {
            break;
        }
    }
}

/// How long to wait before the next run: the job's interval, or backoff after failures.
#[derive(Default)]
struct Pace {
    failures: u32,
}

impl Pace {
    fn next_wait(&mut self, job: &Job, outcome: Result<(), ()>) -> Duration {
        match outcome {
            Ok(()) => {
                self.failures = 0;
                job.every
            }
            Err(()) => {
                self.failures = self.failures.saturating_add(1);
                backoff(job.every, self.failures)
            }
        }
    }
}

/// Sleeps for `wait`; `false` when `stop` was cancelled meanwhile.
async fn pause(stop: &CancellationToken, wait: Duration) -> bool {
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep(wait) => true,
    }
}

/// One run, with panics contained. Errors are logged here.
async fn run_once(job: &Job, ctx: JobContext) -> Result<(), ()> {
    let started = std::time::Instant::now();
    let outcome = std::panic::AssertUnwindSafe((job.run)(ctx)).catch_unwind().await;
    let result = match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => {
            tracing::warn!(
                job = job.name,
                error = format!("{error:#}"),
                "job run failed; retrying with backoff"
            );
            Err(())
        }
        Err(_) => {
            tracing::error!(job = job.name, "job run panicked; retrying with backoff");
            Err(())
        }
    };
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics()
        .runs
        .get_or_create(&JobLabels {
            job: job.name.to_owned(),
            outcome: outcome.to_owned(),
        })
        .inc();
    tracing::debug!(job = job.name, outcome, elapsed = ?started.elapsed(), "job run finished");
    result
}

/// `every`, doubled per consecutive failure from one second, capped at [`MAX_BACKOFF`].
fn backoff(every: Duration, failures: u32) -> Duration {
    let first = every.min(Duration::from_secs(1));
    first
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(MAX_BACKOFF.max(every))
}

async fn run_singleton(job: Job, app: AppContext, stop: CancellationToken) {
    let key = lock_key(job.name);
    let leader_gauge = metrics()
        .leader
        .get_or_create(&LeaderLabels {
            job: job.name.to_owned(),
        })
        .clone();
    let retry = job.every.min(MAX_TAKEOVER_WAIT);
    while !stop.is_cancelled() {
        match try_lead(&app, key).await {
            Ok(Some(lock)) => {
                tracing::info!(job = job.name, "leadership taken; running here");
                leader_gauge.set(1);
                lead(&job, &app, &stop, lock).await;
                leader_gauge.set(0);
                tracing::info!(job = job.name, "leadership released");
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(job = job.name, %error, "cannot ask for leadership"),
        }
        if !pause(&stop, retry).await {
            break;
        }
    }
}

/// A dedicated connection holding the job's advisory lock, if it was free.
async fn try_lead(app: &AppContext, key: i64) -> Result<Option<PgConnection>, sqlx::Error> {
    let mut conn = PgConnection::connect_with(&app.db().connect_options()).await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(&mut conn)
        .await?;
    if locked {
        Ok(Some(conn))
    } else {
        conn.close().await?;
        Ok(None)
    }
}

/// Runs the job while this process holds the lock on `lock`.
async fn lead(job: &Job, app: &AppContext, stop: &CancellationToken, mut lock: PgConnection) {
    let ctx = JobContext {
        app: app.clone(),
        stop: stop.child_token(),
    };
    let mut pace = Pace::default();
    loop {
        // Still the leader? A dead lock connection means Postgres already let go of the lock.
        if let Err(error) = lock.ping().await {
            tracing::warn!(job = job.name, %error, "lost the leadership connection");
            return;
        }
        let outcome = run_once(job, ctx.clone()).await;
        if !pause(stop, pace.next_wait(job, outcome)).await {
            break;
        }
    }
    // Closing the connection releases the lock; a follower takes over at its next attempt.
    let _ = lock.close().await;
}

/// The advisory lock key of a job: the first eight bytes of SHA-256 of its name.
fn lock_key(job: &str) -> i64 {
    let digest = Sha256::digest(format!("qubital.job.{job}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 digest has 32 bytes"))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LeaderLabels {
    job: String,
}

struct Metrics {
    runs: Family<JobLabels, Counter>,
    leader: Family<LeaderLabels, Gauge>,
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let metrics = Metrics {
            runs: Family::default(),
            leader: Family::default(),
        };
        qubital_plugin::metrics::register("job_runs", "Job runs by outcome", metrics.runs.clone());
        qubital_plugin::metrics::register(
            "job_leader",
            "1 where this replica leads a singleton job",
            metrics.leader.clone(),
        );
        metrics
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_and_is_capped() {
        let every = Duration::from_secs(60);
        assert_eq!(backoff(every, 1), Duration::from_secs(1));
        assert_eq!(backoff(every, 2), Duration::from_secs(2));
        assert_eq!(backoff(every, 4), Duration::from_secs(8));
        assert_eq!(backoff(every, 30), MAX_BACKOFF);
        // A job that runs more often than once a second backs off from its own interval.
        assert_eq!(backoff(Duration::from_millis(100), 1), Duration::from_millis(100));
    }

    #[test]
    fn lock_keys_are_stable_and_distinct() {
        assert_eq!(lock_key("a.b"), lock_key("a.b"));
        assert_ne!(lock_key("a.b"), lock_key("a.c"));
    }
}
