//! The host's `housekeeping` job: applies every compiled-in feature's retention rules
//! ([`qubital_plugin::Table`]) once an hour, on one API replica, in batches. Idempotent.

use std::time::Duration;

use qubital_plugin::{registered_features, Job, JobContext, ProcessRole};

pub const JOB: Job = qubital_plugin::job!(
    "housekeeping",
    ProcessRole::SERVE,
    Duration::from_secs(3_600),
    run
)
.singleton();

async fn run(job: JobContext) -> anyhow::Result<()> {
    for feature in registered_features() {
        feature.prune_expired(job.app.db(), || job.stopping()).await?;
    }
    Ok(())
}
