//! Short-lived caches of database answers with bounded staleness, for reads on the hot path that
//! would otherwise cost a round trip each.
//!
//! A [`Cache`] keeps a value for at most its age limit, and forgets everything sooner when its
//! [`Generation`] moves on. A feature owning such a cache declares one `static` generation per
//! kind of change, bumps it where it writes (after commit), and has every process learn of the
//! writes of the others through a trigger's `NOTIFY` and a job running [`listen`]. While that
//! job is not listening (starting, reconnecting) nothing tells the process, so the age limit is
//! the bound; usually a change is seen within milliseconds.
//!
//! Invalidation is a generation counter, not a search: it is meant for data whose changes are
//! rare next to its reads, where forgetting everything costs one miss per active key. An entry
//! read before an invalidation is never stored after it ([`Cache::insert`] takes the generation
//! the read started in).

use std::{
    collections::HashMap,
    future::Future,
    hash::Hash,
    sync::{
        atomic::{AtomicU64, Ordering},
        RwLock,
    },
    time::{Duration, Instant},
};

use sqlx::postgres::{PgListener, PgPoolOptions};

use crate::JobContext;

/// Most entries kept per cache; beyond it, expired entries are dropped, and if that is not
/// enough, all.
const CAPACITY: usize = 100_000;

/// A count of invalidations: an entry read in an older generation is not used. Declared as a
/// `static` (one per process, like the metrics registry): every app in the process sees every
/// invalidation, which only costs misses.
#[derive(Debug, Default)]
pub struct Generation(AtomicU64);

impl Generation {
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// Forgets every entry of the caches of this generation.
    pub fn invalidate(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }

    /// The current generation: take it before reading from the database, give it to
    /// [`Cache::insert`].
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// Values by key, each for at most `ttl`, all forgotten when the generation moves on.
pub struct Cache<K, V> {
    ttl: Duration,
    entries: RwLock<HashMap<K, Entry<V>>>,
    generation: &'static Generation,
}

struct Entry<V> {
    value: V,
    until: Instant,
    generation: u64,
}

impl<K: Eq + Hash, V: Clone> Cache<K, V> {
    /// A cache keeping entries for `ttl` (zero: keeps nothing), forgetting them when
    /// `generation` is invalidated.
    pub fn new(ttl: Duration, generation: &'static Generation) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
            generation,
        }
    }

    /// The current generation: take it before reading from the database, give it to
    /// [`Self::insert`].
    pub fn generation(&self) -> u64 {
        self.generation.current()
    }

    /// The value, when it was read less than `ttl` ago and nothing changed since.
    pub fn get(&self, key: &K) -> Option<V> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self
            .entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = entries.get(key)?;
        (entry.until > Instant::now() && entry.generation == self.generation()).then(|| entry.value.clone())
    }

    /// The value of `key`: cached, else what `read` answers (one database read), kept when it
    /// is `Some` and nothing was invalidated while it was read. A `None` is never kept: what is
    /// absent is read again each time.
    pub async fn get_or_read<E, F: Future<Output = Result<Option<V>, E>>>(
        &self,
        key: K,
        read: impl FnOnce() -> F,
    ) -> Result<Option<V>, E> {
        if let Some(cached) = self.get(&key) {
            return Ok(Some(cached));
        }
        let read_in = self.generation();
        let value = read().await?;
        if let Some(value) = &value {
            self.insert(key, value.clone(), read_in);
        }
        Ok(value)
    }

    /// Keeps `value`, read from the database in generation `read_in` — unless something was
    /// invalidated since, when what was read may already be stale.
    pub fn insert(&self, key: K, value: V, read_in: u64) {
        if self.ttl.is_zero() || read_in != self.generation() {
            return;
        }
        let now = Instant::now();
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= CAPACITY {
            let current = self.generation();
            entries.retain(|_, entry| entry.until > now && entry.generation == current);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                value,
                until: now + self.ttl,
                generation: read_in,
            },
        );
    }
}

/// The body of a job that invalidates `generation` at each notification on `channel` (sent by
/// a trigger at the commit of a change made anywhere), until shutdown. Every serve replica runs
/// one (not a singleton). If its connection fails it returns the error, and the job runner
/// starts it again after the job's pause.
pub async fn listen(job: JobContext, channel: &str, generation: &Generation) -> anyhow::Result<()> {
    // Its own connection (a pool of one, which PgListener reconnects through), never one of
    // the app's pool: listening holds it for the life of the process.
    let own = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with((*job.app.db().connect_options()).clone())
        .await?;
    let mut listener = PgListener::connect_with(&own).await?;
    listener.listen(channel).await?;
    // Whatever changed while nobody listened (at boot, after a lost connection) is not known.
    generation.invalidate();
    loop {
        tokio::select! {
            () = job.stop.cancelled() => return Ok(()),
            notification = listener.try_recv() => {
                // `None`: the connection was lost (the next call reconnects); notifications
                // sent meanwhile are lost, so forget everything then too.
                notification?;
                generation.invalidate();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache with a generation of its own: the tests run in parallel, and one's invalidation
    /// must not reach another's cache.
    fn cache(ttl: Duration) -> Cache<u32, &'static str> {
        Cache::new(ttl, Box::leak(Box::new(Generation::new())))
    }

    #[test]
    fn an_entry_lives_until_its_age_limit() {
        let cache = cache(Duration::from_millis(50));
        cache.insert(1, "admin", cache.generation());
        assert_eq!(cache.get(&1), Some("admin"));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get(&1), None);
    }

    #[test]
    fn an_invalidation_forgets_everything_and_refuses_what_was_read_before_it() {
        let cache = cache(Duration::from_secs(5));
        cache.insert(1, "admin", cache.generation());
        let read_in = cache.generation();
        cache.generation.invalidate();
        assert_eq!(cache.get(&1), None);
        // Read before the invalidation, stored after it: not kept.
        cache.insert(2, "admin", read_in);
        assert_eq!(cache.get(&2), None);
        cache.insert(2, "member", cache.generation());
        assert_eq!(cache.get(&2), Some("member"));
    }

    #[test]
    fn a_zero_age_limit_keeps_nothing() {
        let cache = cache(Duration::ZERO);
        cache.insert(1, "admin", cache.generation());
        assert_eq!(cache.get(&1), None);
    }

    #[tokio::test]
    async fn what_is_absent_is_not_kept() {
        let cache = cache(Duration::from_secs(5));
        let read: Result<_, ()> = cache.get_or_read(1, || async { Ok(None) }).await;
        assert_eq!(read, Ok(None));
        let read: Result<_, ()> = cache.get_or_read(1, || async { Ok(Some("admin")) }).await;
        assert_eq!(read, Ok(Some("admin")));
        let read: Result<_, ()> = cache.get_or_read(1, || async { panic!("read again") }).await;
        assert_eq!(read, Ok(Some("admin")));
    }
}
