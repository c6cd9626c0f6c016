//! The transactional outbox: a publication is written in the same transaction as the change it
//! announces, so it exists if and only if the change committed. The relay ([`crate::relay`])
//! delivers it to Centrifugo later, in order per channel, exactly once (see
//! `docs/chat-and-presence.md`).
//!
//! Other features (presence) call [`enqueue`] with their own open transaction.

use serde_json::Value;
use sqlx::PgConnection;

use crate::store;

/// Queues `data` for publication into `channel`, inside the caller's transaction. Returns the
/// publication's id (its order: publications into a channel are delivered in id order).
pub async fn enqueue(conn: &mut PgConnection, channel: &str, data: &Value) -> Result<i64, sqlx::Error> {
    store::outbox::insert(conn, channel, data).await
}

/// The idempotency key the relay publishes outbox row `id` with: Centrifugo drops a second
/// publication with the same key into the same channel (for its de-duplication window).
pub fn idempotency_key(id: i64) -> String {
    format!("outbox:{id}")
}
