//! The identity feature's background work.

use std::time::Duration;

use qubital_plugin::{
    sqlx::postgres::{PgListener, PgPoolOptions},
    Job, JobContext, ProcessRole,
};

use crate::session_cache::{self, CHANNEL};

/// Listens for changes of sessions and memberships made anywhere (the trigger of migration
/// `*_session_changes.sql`) and forgets this process's cached sessions at each. Every serve
/// replica runs it (not a singleton). Runs until shutdown; if its connection fails it returns,
/// and the runner starts it again after a pause.
pub const SESSION_CHANGES: Job = qubital_plugin::job!(
    "auth.session_changes",
    ProcessRole::SERVE,
    Duration::from_secs(1),
    listen
);

async fn listen(job: JobContext) -> anyhow::Result<()> {
    // Its own connection (a pool of one, which PgListener reconnects through), never one of
    // the app's pool: listening holds it for the life of the process.
    let own = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with((*job.app.db().connect_options()).clone())
        .await?;
    let mut listener = PgListener::connect_with(&own).await?;
    listener.listen(CHANNEL).await?;
    // Whatever changed while nobody listened (at boot, after a lost connection) is not known.
    session_cache::invalidate();
    loop {
        tokio::select! {
            () = job.stop.cancelled() => return Ok(()),
            notification = listener.try_recv() => {
                // `None`: the connection was lost (the next call reconnects); notifications
                // sent meanwhile are lost, so forget everything then too.
                notification?;
                session_cache::invalidate();
            }
        }
    }
}
