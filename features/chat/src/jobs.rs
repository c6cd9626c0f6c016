//! The chat feature's job: `chat.relay` (singleton, every 200 ms), the outbox relay
//! ([`crate::relay`]). A run delivers everything deliverable, keeps polling while
//! publications keep coming (up to 2 s after the last), and returns; an idle run is one query.

use std::time::Duration;

use qubital_plugin::{Job, JobContext, ProcessRole};

use crate::relay;

/// How long a run keeps its lock after the last delivery, polling every 50 ms.
const LINGER: Duration = Duration::from_secs(2);

pub const RELAY: Job = qubital_plugin::job!(
    "chat.relay",
    ProcessRole::SERVE,
    Duration::from_millis(200),
    run_relay
)
.singleton();

async fn run_relay(job: JobContext) -> anyhow::Result<()> {
    if job.stopping() {
        return Ok(());
    }
    relay::relay_until(&job.app, LINGER, || job.stopping()).await?;
    Ok(())
}
