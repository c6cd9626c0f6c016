//! Short-lived caches of the identity store, so that an authenticated request costs no database
//! round trip of its own on the common path.
//!
//! - [`SessionCache`]: exactly what [`store::sessions::live`](crate::store::sessions::live)
//!   answers for a session id (its user, organization and role), used by every authenticated
//!   request;
//! - [`ParticipantCache`]: a member as the realtime tokens name them
//!   ([`directory::participant`](crate::directory::participant): shown name, organization's
//!   public id), so that a conference token costs one query (its space) and the router and
//!   messaging tokens none.
//!
//! An entry is used for at most `SESSION_CACHE_SECS` (default 2, at most 5; `0` turns both
//! caches off), and sooner forgotten:
//!
//! - **in this process**, at once: every write of the identity store that can change an answer
//!   (a session ended or moved, a membership made, changed or ended, a name or email changed, a
//!   user or an organization deleted) calls [`invalidate`] before it returns;
//! - **in every process** (other replicas, `eventsync`, a manual `UPDATE`): triggers on
//!   `user_sessions`, `user_organizations` and `users` send `NOTIFY qubital_sessions` at commit
//!   (migrations `*_session_changes.sql`, `*_participant_changes.sql`), and each serve
//!   process's `auth.session_changes` job (`LISTEN`) calls [`invalidate`]. While that job is not
//!   listening (starting, reconnecting) nothing tells it, so the age limit is the bound: an ended
//!   session, a changed role or a new name takes effect everywhere within `SESSION_CACHE_SECS`
//!   at the latest, and usually within milliseconds.
//!
//! Invalidation is a generation counter, not a search: these changes are rare next to reads, so
//! forgetting everything costs one cache miss per active session. An entry read before an
//! invalidation is never stored after it ([`Cache::insert`] takes the generation the read
//! started in).

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

use uuid::Uuid;

use crate::{directory::Participant, store::sessions::Live};

/// The `NOTIFY` channel of the triggers.
pub const CHANNEL: &str = "qubital_sessions";

/// Most entries kept per cache; beyond it, expired entries are dropped, and if that is not
/// enough, all.
const CAPACITY: usize = 100_000;

/// Bumped by every invalidation; an entry of an older generation is not used. One per process
/// (like the metrics registry): every app in it sees every invalidation, which only costs misses.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Forgets every cached session and participant of this process.
pub fn invalidate() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// Live sessions by session id.
pub type SessionCache = Cache<Uuid, Live>;

/// Participants by (user id, organization id). Provided in the app context by the identity
/// feature; read through [`directory::cached_participant`](crate::directory::cached_participant).
pub type ParticipantCache = Cache<(i64, i64), Participant>;

/// Values by key, each for at most `ttl`, all forgotten on [`invalidate`].
pub struct Cache<K, V> {
    ttl: Duration,
    entries: RwLock<HashMap<K, Entry<V>>>,
    /// [`GENERATION`] (a test's cache counts its own).
    generation: &'static AtomicU64,
}

struct Entry<V> {
    value: V,
    until: Instant,
    generation: u64,
}

impl<K: Eq + Hash, V: Clone> Cache<K, V> {
    /// A cache keeping entries for `ttl` (zero: keeps nothing), forgetting them on [`invalidate`].
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
            generation: &GENERATION,
        }
    }

    /// The current generation: take it before reading from the database, give it to
    /// [`Self::insert`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
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
    /// is `Some` and nothing was invalidated while it was read.
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

#[cfg(test)]
mod tests {
    use qubital_plugin::auth::Role;

    use super::*;

    /// A cache with a generation of its own: the tests run in parallel, and one's invalidation
    /// must not reach another's cache.
    fn cache(ttl: Duration) -> SessionCache {
        Cache {
            generation: Box::leak(Box::new(AtomicU64::new(0))),
            ..SessionCache::new(ttl)
        }
    }

    fn bump(cache: &SessionCache) {
        cache.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn live(role: Role) -> Live {
        Live {
            user_id: 1,
            org_id: 2,
            role,
            expires_at: chrono::Utc::now() + chrono::Duration::days(1),
        }
    }

    #[test]
    fn an_entry_lives_until_its_age_limit() {
        let cache = cache(Duration::from_millis(50));
        let id = Uuid::new_v4();
        cache.insert(id, live(Role::Admin), cache.generation());
        assert_eq!(cache.get(&id).map(|l| l.role), Some(Role::Admin));
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get(&id).is_none());
    }

    #[test]
    fn an_invalidation_forgets_everything_and_refuses_what_was_read_before_it() {
        let cache = cache(Duration::from_secs(5));
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        cache.insert(a, live(Role::Admin), cache.generation());
        let read_in = cache.generation();
        bump(&cache);
        assert!(cache.get(&a).is_none());
        // Read before the invalidation, stored after it: not kept.
        cache.insert(b, live(Role::Admin), read_in);
        assert!(cache.get(&b).is_none());
        cache.insert(b, live(Role::Member), cache.generation());
        assert_eq!(cache.get(&b).map(|l| l.role), Some(Role::Member));
    }

    #[test]
    fn a_zero_age_limit_keeps_nothing() {
        let cache = cache(Duration::ZERO);
        let id = Uuid::new_v4();
        cache.insert(id, live(Role::Admin), cache.generation());
        assert!(cache.get(&id).is_none());
    }
}
