//! Background jobs: what a feature declares; the host's runner decides where and when they run.

use std::time::Duration;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::{AppContext, ProcessRole};

/// What a job runs: `async fn run(job: JobContext) -> anyhow::Result<()>`, boxed. Write the
/// function and register it with the [`job!`](crate::job) macro, which does the boxing.
pub type JobFn = fn(JobContext) -> BoxFuture<'static, anyhow::Result<()>>;

/// One unit of work, run again `every` interval after the previous run finished.
///
/// A run should do a bounded amount of work and return; long streams (such as following an
/// event log) are written as "process the next batch" and rely on the runner to call again.
/// A run that fails is logged and retried with exponential backoff; it never stops the process.
#[derive(Clone, Copy)]
pub struct Job {
    /// Stable, unique name (`feature.job`); also the key of its leadership lock.
    pub name: &'static str,
    /// The process that runs it ([`ProcessRole::SERVE`] or a role a feature registered).
    pub role: ProcessRole,
    pub every: Duration,
    /// At most one replica runs it at a time (leadership by Postgres advisory lock).
    pub singleton: bool,
    pub run: JobFn,
}

impl Job {
    pub const fn new(name: &'static str, role: ProcessRole, every: Duration, run: JobFn) -> Self {
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

/// Declares a [`Job`] from an `async fn(JobContext) -> anyhow::Result<()>`:
///
/// ```ignore
/// pub const REINDEX: Job =
///     qubital_plugin::job!("notes.reindex", ProcessRole::SERVE, Duration::from_secs(60), reindex).singleton();
/// ```
#[macro_export]
macro_rules! job {
    ($name:expr, $role:expr, $every:expr, $run:path) => {
        $crate::Job::new($name, $role, $every, |job| ::std::boxed::Box::pin($run(job)))
    };
}

/// What one run of a job is given.
#[derive(Clone)]
pub struct JobContext {
    pub app: AppContext,
    /// Cancelled when the process is shutting down (or this replica lost leadership): stop at the
    /// next safe point. Work committed so far stays committed; the next run picks up from there.
    pub stop: CancellationToken,
}

impl JobContext {
    /// Whether the run should stop at the next safe point.
    pub fn stopping(&self) -> bool {
        self.stop.is_cancelled()
    }
}
