//! The spaces a conference token is asked for, cached for a few seconds, so that the token (the
//! busiest signed-in operation: every join and reconnect) costs no database round trip on the
//! common path — the caller's session and name are cached by the identity feature the same way.
//!
//! Only a space that exists is kept (an unknown id is read again each time, so a new space is
//! never refused). An entry is used for at most `SPACE_CACHE_SECS` (default 2, at most 5; `0`
//! turns the cache off), and sooner forgotten:
//!
//! - **in this process**, at once: an update (which rewrites the name) or a deletion through
//!   the API forgets the cache after its commit;
//! - **in every process**: a trigger on `rooms` sends `NOTIFY qubital_spaces` at the commit of a
//!   deletion (also an organization's), a rename or a move (migration `*_space_changes.sql`),
//!   and each serve process's `spaces.space_changes` job (`LISTEN`) forgets its cache. While it
//!   is not listening, the age limit is the bound: a token for a deleted space can be issued up
//!   to `SPACE_CACHE_SECS` after the deletion, and not later.
//!
//! Tested by `features/realtime/tests/space_cache.rs`.

use std::{sync::Arc, time::Duration};

use qubital_plugin::{
    cache::{Cache, Generation},
    AppContext, Boot, Job, JobContext, ProcessRole,
};
use uuid::Uuid;

use crate::store::{self, SpaceRef};

/// The `NOTIFY` channel of the trigger.
const CHANNEL: &str = "qubital_spaces";

/// Bumped by every deletion, rename or move of a space.
static GENERATION: Generation = Generation::new();

/// Spaces by (organization id, wire id).
type SpaceCache = Cache<(i64, Uuid), SpaceRef>;

/// How long a space may be reused.
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Spaces")]
pub struct SpaceCacheSettings {
    /// Seconds a space looked up for a conference token may be reused without reading the
    /// database; a deleted space stops getting tokens within this bound everywhere, and at once
    /// where a notification arrives (see docs/spaces-and-realtime.md). 0 turns the cache off.
    #[arg(long = "space-cache-secs", env = "SPACE_CACHE_SECS", default_value_t = 2,
          value_parser = clap::value_parser!(u64).range(0..=5))]
    pub space_cache_secs: u64,
}

/// Provides the cache to a process that serves the API.
pub(crate) fn init(boot: &mut Boot) -> anyhow::Result<()> {
    let settings = boot
        .get::<SpaceCacheSettings>()
        .cloned()
        .expect("registered in lib.rs");
    if boot.serves_api() {
        let ttl = Duration::from_secs(settings.space_cache_secs);
        boot.provide(Arc::new(SpaceCache::new(ttl, &GENERATION)));
    }
    Ok(())
}

/// Forgets every cached space of this process (after a commit that changed one).
pub(crate) fn invalidate() {
    GENERATION.invalidate();
}

/// [`find_in_organization`](crate::find_in_organization), from this process's cache when the
/// space was read lately (at most `SPACE_CACHE_SECS` ago, and nothing was deleted or renamed
/// since as far as this process was told). For reads that tolerate that bound: the conference
/// token. Anything that writes about a space reads it with `find_in_organization`.
pub async fn cached_in_organization(
    ctx: &AppContext,
    organization_id: i64,
    id: Uuid,
) -> Result<Option<SpaceRef>, sqlx::Error> {
    let read = || store::find_in_organization(ctx.db(), organization_id, id);
    match ctx.try_get::<Arc<SpaceCache>>() {
        Some(cache) => cache.get_or_read((organization_id, id), read).await,
        None => read().await,
    }
}

/// Listens for deletions, renames and moves of spaces made anywhere (the trigger of migration
/// `*_space_changes.sql`) and forgets this process's cached spaces at each. Every serve replica
/// runs it (not a singleton); if its connection fails it returns, and the runner starts it again
/// after a pause.
pub(crate) const SPACE_CHANGES: Job = qubital_plugin::job!(
    "spaces.space_changes",
    ProcessRole::SERVE,
    Duration::from_secs(1),
    listen
);

async fn listen(job: JobContext) -> anyhow::Result<()> {
    qubital_plugin::cache::listen(job, CHANNEL, &GENERATION).await
}
