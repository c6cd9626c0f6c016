//! The identity feature's background work.

use std::time::Duration;

use qubital_plugin::{Job, JobContext, ProcessRole};

use crate::session_cache::{CHANNEL, GENERATION};

/// Listens for changes of sessions and memberships made anywhere (the triggers of migrations
/// `*_session_changes.sql`, `*_participant_changes.sql`) and forgets this process's cached
/// sessions and participants at each. Every serve replica runs it (not a singleton). Runs until
/// shutdown; if its connection fails it returns, and the runner starts it again after a pause.
pub const SESSION_CHANGES: Job = qubital_plugin::job!(
    "auth.session_changes",
    ProcessRole::SERVE,
    Duration::from_secs(1),
    listen
);

async fn listen(job: JobContext) -> anyhow::Result<()> {
    qubital_plugin::cache::listen(job, CHANNEL, &GENERATION).await
}
