//! eventsync's worker role and its one job, the stream follower.

use std::time::Duration;

use platform_workos::Workos;
use qubital_plugin::{Job, JobContext, ProcessRole};

use crate::{follower, EventsyncSettings};

/// `qubital eventsync`: the WorkOS follower process, with its own ops listener.
pub const EVENTSYNC: ProcessRole = ProcessRole::worker(
    "eventsync",
    "Follow the WorkOS event stream and mirror it into Postgres.",
    "EVENTSYNC_PORT",
    8081,
);

/// Follows the WorkOS stream; `every` is the pause between drained polls. A singleton: one
/// follower across replicas, the next one taking over when it dies.
pub(crate) const FOLLOW: Job =
    qubital_plugin::job!("eventsync.follow", EVENTSYNC, Duration::from_secs(5), follow).singleton();

/// One run of the follower job.
async fn follow(ctx: JobContext) -> anyhow::Result<()> {
    let workos = ctx.app.get::<Workos>().clone();
    if !workos.is_enabled() {
        tracing::debug!("WorkOS is not configured; nothing to follow");
        return Ok(());
    }
    let settings = ctx.app.get::<EventsyncSettings>().clone();
    follower::follow(ctx.app.db(), &workos, &settings, &ctx.stop).await
}
