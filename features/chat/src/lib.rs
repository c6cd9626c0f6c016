//! Chat: direct messages and group conversations of an organization, with Postgres as the
//! truth and Centrifugo as the live fan-out. Decisions are written down in
//! `docs/chat-and-presence.md`.
//!
//! Every durable change (a message sent, edited, deleted…) writes an outbox row in the same
//! transaction; the singleton relay ([`relay`]) publishes the rows to Centrifugo in order per
//! channel, with an idempotency key, retrying with backoff.
//!
//! It reaches other features only through their crates: memberships through
//! `qubital_auth::directory`, the Centrifugo token signer through
//! `qubital_realtime::CentrifugoTokens` (provided by the realtime feature).
//!
//! # API boundary
//!
//! - [`outbox::enqueue`]: write an outbox row inside the caller's transaction — presence
//!   publishes its status changes this way, so they share the relay, its order and its metrics.
//! - [`relay`]: one relay pass on demand and its steps (for tests and operators).
//! - [`settings`]: `CENTRIFUGO_*` are registered here, once for the binary; [`ChatState`]
//!   carries the Centrifugo client.

mod api;
pub mod channels;
pub mod jobs;
pub mod metrics;
pub mod outbox;
pub mod permissions;
pub mod problems;
pub mod relay;
pub mod settings;
mod store;

use platform_centrifugo::CentrifugoSettings;
use qubital_plugin::{Api, Feature, Settings, Table};

pub use settings::ChatState;

static MIGRATIONS: qubital_plugin::Migrator = qubital_plugin::sqlx::migrate!("../../migrations/chat");

qubital_plugin::inventory::submit! {
    Feature::new("chat")
        .apis(&[
            Api::of::<api::ConversationsApi>(),
            Api::of::<api::MessagesApi>(),
            Api::of::<api::SubscribeProxyApi>(),
        ])
        .migrations(&MIGRATIONS)
        .tables(&[
            Table::kept("chat_conversations", "the organization's conversations, deleted with it"),
            Table::kept("chat_members", "deleted with their conversation or user"),
            Table::kept("chat_messages", "the conversation's history (deleted messages stay as tombstones), deleted with it"),
            Table::kept("chat_reactions", "deleted with their message or user"),
            Table::pruned(
                "chat_outbox",
                "(published_at IS NOT NULL OR dead_at IS NOT NULL) AND created_at < now() - interval '1 day'",
                "a delivered (or refused) publication is only kept for inspection; Centrifugo's \
                 own de-duplication window is 5 minutes",
            ),
        ])
        .settings(&[
            Settings::of::<CentrifugoSettings>(),
            Settings::of::<settings::ChatSettings>(),
        ])
        .jobs(&[jobs::RELAY])
        .init(settings::init)
}
