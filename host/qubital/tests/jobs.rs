//! The job runner: singleton leadership across runners, retries, roles.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use futures::{future::BoxFuture, FutureExt};
use qubital::jobs::JobRunner;
use qubital_plugin::{AppContext, Environment, Job, JobContext, ProcessRole};
use qubital_testkit::empty_database;
use sqlx::PgPool;

/// Which runner a job run happened on (each test runner gets its own app context).
#[derive(Clone)]
struct RunnerName(&'static str);

fn record_run(ctx: JobContext) -> BoxFuture<'static, anyhow::Result<()>> {
    async move {
        let runner = ctx.app.get::<RunnerName>().0;
        sqlx::query("INSERT INTO runs (runner) VALUES ($1)")
            .bind(runner)
            .execute(ctx.app.db())
            .await?;
        Ok(())
    }
    .boxed()
}

const SINGLETON: Job = Job::new(
    "test.singleton",
    ProcessRole::SERVE,
    Duration::from_millis(50),
    record_run,
)
.singleton();

async fn context(url: &str, name: &'static str) -> AppContext {
    let pool = PgPool::connect(url).await.unwrap();
    let mut state = http::Extensions::new();
    state.insert(RunnerName(name));
    AppContext::new(pool, Environment::Development, state)
}

async fn runs_by(pool: &PgPool, runner: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM runs WHERE runner = $1")
        .bind(runner)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn wait_for_runs(pool: &PgPool, runner: &str, at_least: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while runs_by(pool, runner).await < at_least {
        assert!(
            tokio::time::Instant::now() < deadline,
            "runner {runner} never ran the job {at_least} times"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_singleton_job_runs_on_exactly_one_runner_and_moves_when_it_stops() {
    let db = empty_database().await;
    let check = PgPool::connect(&db.url).await.unwrap();
    sqlx::query("CREATE TABLE runs (runner TEXT NOT NULL)")
        .execute(&check)
        .await
        .unwrap();

    let first = JobRunner::start(context(&db.url, "first").await, [SINGLETON], ProcessRole::SERVE);
    wait_for_runs(&check, "first", 3).await;
    let second = JobRunner::start(context(&db.url, "second").await, [SINGLETON], ProcessRole::SERVE);
    // The second runner has had many chances to take over (it retries every 50 ms) and must not.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        runs_by(&check, "second").await,
        0,
        "the job ran on both runners at once"
    );
    let before = runs_by(&check, "first").await;
    assert!(before > 3, "the leader stopped running the job");

    first.shutdown().await;
    let after_stop = runs_by(&check, "first").await;
    wait_for_runs(&check, "second", 3).await;
    assert_eq!(
        runs_by(&check, "first").await,
        after_stop,
        "the stopped runner kept running the job"
    );
    second.shutdown().await;
}

static FLAKY_CALLS: AtomicUsize = AtomicUsize::new(0);

fn flaky(_: JobContext) -> BoxFuture<'static, anyhow::Result<()>> {
    async move {
        match FLAKY_CALLS.fetch_add(1, Ordering::SeqCst) {
            0 => anyhow::bail!("the first run fails"),
            1 => panic!("the second run panics"),
            _ => Ok(()),
        }
    }
    .boxed()
}

#[tokio::test]
async fn a_failing_or_panicking_job_is_retried_and_the_runner_survives() {
    let db = empty_database().await;
    let job = Job::new("test.flaky", ProcessRole::SERVE, Duration::from_millis(20), flaky);
    let runner = JobRunner::start(context(&db.url, "only").await, [job], ProcessRole::SERVE);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while FLAKY_CALLS.load(Ordering::SeqCst) < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job was not retried after failing"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    runner.shutdown().await;
}

static WORKER_CALLS: AtomicUsize = AtomicUsize::new(0);

/// A worker role of this test only (features register real ones).
const WORKER: ProcessRole =
    ProcessRole::worker("test-worker", "A worker of this test.", "TEST_WORKER_PORT", 0);

fn count_worker_run(_: JobContext) -> BoxFuture<'static, anyhow::Result<()>> {
    WORKER_CALLS.fetch_add(1, Ordering::SeqCst);
    async { Ok(()) }.boxed()
}

#[tokio::test]
async fn jobs_run_only_in_their_role() {
    let db = empty_database().await;
    let job = Job::new(
        "test.worker-only",
        WORKER,
        Duration::from_millis(10),
        count_worker_run,
    );
    let runner = JobRunner::start(context(&db.url, "api").await, [job], ProcessRole::SERVE);
    tokio::time::sleep(Duration::from_millis(200)).await;
    runner.shutdown().await;
    assert_eq!(WORKER_CALLS.load(Ordering::SeqCst), 0);

    let runner = JobRunner::start(context(&db.url, "worker").await, [job], WORKER);
    tokio::time::sleep(Duration::from_millis(200)).await;
    runner.shutdown().await;
    assert!(WORKER_CALLS.load(Ordering::SeqCst) > 0);
}
