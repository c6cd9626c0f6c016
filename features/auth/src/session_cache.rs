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
//! Both are [`qubital_plugin::cache::Cache`]s of one [`Generation`]: these changes are rare
//! next to reads, so forgetting everything costs one cache miss per active session.

use qubital_plugin::cache::{Cache, Generation};
use uuid::Uuid;

use crate::{directory::Participant, store::sessions::Live};

/// The `NOTIFY` channel of the triggers.
pub const CHANNEL: &str = "qubital_sessions";

/// Bumped by every change of the identity store that can change a cached answer.
pub(crate) static GENERATION: Generation = Generation::new();

/// Forgets every cached session and participant of this process.
pub fn invalidate() {
    GENERATION.invalidate();
}

/// Live sessions by session id.
pub type SessionCache = Cache<Uuid, Live>;

/// Participants by (user id, organization id). Provided in the app context by the identity
/// feature; read through [`directory::cached_participant`](crate::directory::cached_participant).
pub type ParticipantCache = Cache<(i64, i64), Participant>;
