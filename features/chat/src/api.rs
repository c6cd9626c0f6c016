//! The chat operations (tag `Chat`), one `#[OpenApi]` type per resource: conversations and
//! their members ([`conversations`]), messages ([`messages`]), and Centrifugo's subscribe
//! proxy ([`proxy`], tag `Internal`). Here: the DTOs they share, the
//! membership check and the events they queue.

mod conversations;
mod messages;
mod proxy;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use poem_openapi::{types::ToJSON, Enum, Object, Tags};
use qubital_plugin::{auth::Caller, wire, FieldError, Problem};
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

pub(crate) use conversations::ConversationsApi;
pub(crate) use messages::MessagesApi;
pub(crate) use proxy::SubscribeProxyApi;

use crate::{
    channels, outbox,
    store::{self, ConversationRow, MessageRow},
};

#[derive(Tags)]
enum ChatTag {
    /// Direct and group conversations between members of the organization, delivered live
    /// over the messaging connection.
    Chat,
}

/// What a conversation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ConversationKind {
    /// Between exactly two members; one per pair in an organization.
    Dm,
    /// Named, with admins who add and remove members.
    Group,
}

/// A member's role in a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum MemberRole {
    /// Adds and removes members (groups).
    Admin,
    Member,
}

impl MemberRole {
    fn from_row(role: &str) -> Self {
        if role == "admin" {
            MemberRole::Admin
        } else {
            MemberRole::Member
        }
    }
}

/// A member of a conversation.
#[derive(Clone, Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ConversationMember {
    pub user_id: String,
    pub role: MemberRole,
}

/// A conversation, as the caller sees it.
#[derive(Clone, Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Conversation {
    pub id: Uuid,
    pub kind: ConversationKind,
    /// The group's name; `null` for a DM.
    pub name: Option<String>,
    pub members: Vec<ConversationMember>,
    pub created_at: DateTime<Utc>,
    /// The newest message (possibly deleted); `null` before the first.
    pub last_message: Option<Message>,
    /// Others' messages after the caller's read cursor (deleted ones left out).
    pub unread_count: u64,
}

/// A message. A deleted message keeps its place (`deletedAt`) without its content.
#[derive(Clone, Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Message {
    /// Opaque, time-ordered.
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// The sender (a user id); `null` once that user is deleted.
    pub sender_id: Option<String>,
    /// The sender's idempotency key, when the send gave one.
    pub client_msg_id: Option<String>,
    /// `null` once deleted.
    pub content: Option<String>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// One entry per emoji, in the order they were first used.
    pub reactions: Vec<Reaction>,
}

/// The members who reacted to a message with one emoji.
#[derive(Clone, Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Reaction {
    pub emoji: String,
    pub count: u32,
    /// Who reacted (user ids), in order.
    pub user_ids: Vec<String>,
}

/// The rows as DTOs, with their reactions (one query).
pub(crate) async fn messages(
    conn: &mut PgConnection,
    rows: Vec<MessageRow>,
) -> Result<Vec<Message>, sqlx::Error> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut by_message: BTreeMap<Uuid, Vec<Reaction>> = BTreeMap::new();
    for (message_id, emoji, user) in store::reactions(conn, &ids).await? {
        let reactions = by_message.entry(message_id).or_default();
        match reactions.iter_mut().find(|r| r.emoji == emoji) {
            Some(reaction) => {
                reaction.count += 1;
                reaction.user_ids.push(user.to_string());
            }
            None => reactions.push(Reaction {
                emoji,
                count: 1,
                user_ids: vec![user.to_string()],
            }),
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let reactions = by_message.remove(&row.id).unwrap_or_default();
            Message {
                reactions,
                ..message(row)
            }
        })
        .collect())
}

/// One row as a DTO, with its reactions.
pub(crate) async fn message_with_reactions(
    conn: &mut PgConnection,
    row: MessageRow,
) -> Result<Message, Problem> {
    messages(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| Problem::internal("a message vanished while it was read"))
}

/// A row as a DTO without reactions (a message just sent has none).
pub(crate) fn message(row: MessageRow) -> Message {
    let deleted = row.deleted_at.is_some();
    Message {
        id: row.id,
        conversation_id: row.conversation_id,
        sender_id: row.sender_id.map(|id| id.to_string()),
        client_msg_id: row.client_msg_id,
        content: (!deleted).then_some(row.content),
        created_at: row.created_at,
        edited_at: row.edited_at,
        deleted_at: row.deleted_at,
        reactions: Vec::new(),
    }
}

/// The conversation `id` as the caller (a member) sees it, or `404`: another organization's
/// conversation and one the caller is not in are indistinguishable from none.
async fn member_of(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> Result<ConversationRow, Problem> {
    store::conversation(conn, caller.organization_id, caller.user_id, id)
        .await?
        .ok_or_else(Problem::not_found)
}

/// [`member_of`], with the conversation locked until the transaction ends.
async fn lock_member_of(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<ConversationRow, Problem> {
    store::lock_conversation(conn, caller.organization_id, caller.user_id, id)
        .await?
        .ok_or_else(Problem::not_found)
}

/// The conversations `rows` as DTOs: members, last message and unread count, three queries.
async fn conversations(
    conn: &mut PgConnection,
    caller: &Caller,
    rows: Vec<ConversationRow>,
) -> Result<Vec<Conversation>, Problem> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut members: BTreeMap<Uuid, Vec<ConversationMember>> = BTreeMap::new();
    for (conversation, user, role) in store::members(conn, &ids).await? {
        members.entry(conversation).or_default().push(ConversationMember {
            user_id: user.to_string(),
            role: MemberRole::from_row(&role),
        });
    }
    let last_rows = store::last_messages(conn, &ids).await?;
    let mut last: BTreeMap<Uuid, Message> = messages(conn, last_rows)
        .await?
        .into_iter()
        .map(|m| (m.conversation_id, m))
        .collect();
    let unread: BTreeMap<Uuid, i64> = store::unread_counts(conn, caller.user_id, &ids)
        .await?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| Conversation {
            id: row.id,
            kind: if row.kind == "dm" {
                ConversationKind::Dm
            } else {
                ConversationKind::Group
            },
            name: row.name,
            members: members.remove(&row.id).unwrap_or_default(),
            created_at: row.created_at,
            last_message: last.remove(&row.id),
            unread_count: unread.get(&row.id).copied().unwrap_or(0).max(0) as u64,
        })
        .collect())
}

/// One conversation as a DTO.
async fn conversation(
    conn: &mut PgConnection,
    caller: &Caller,
    row: ConversationRow,
) -> Result<Conversation, Problem> {
    conversations(conn, caller, vec![row])
        .await?
        .pop()
        .ok_or_else(|| Problem::internal("a conversation vanished while it was read"))
}

/// A user id of the wire (`"42"`), or `422` at `location`.
fn user_id(location: &str, value: &wire::IdText) -> Result<i64, FieldError> {
    value
        .id()
        .ok_or_else(|| FieldError::new(location, "not a user id"))
}

/// Queues `event` of type `kind` on the conversation's channel (in the caller's transaction).
async fn publish_to_conversation(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    kind: &str,
    mut event: Value,
) -> Result<(), sqlx::Error> {
    event["type"] = json!(kind);
    event["conversationId"] = json!(conversation_id);
    outbox::enqueue(conn, &channels::conversation(conversation_id), &event).await?;
    Ok(())
}

/// Queues `event` on each user's personal channel (in the caller's transaction).
async fn publish_to_users(
    conn: &mut PgConnection,
    users: &[i64],
    kind: &str,
    mut event: Value,
) -> Result<(), sqlx::Error> {
    event["type"] = json!(kind);
    for user in users {
        outbox::enqueue(conn, &channels::user(*user), &event).await?;
    }
    Ok(())
}

/// A DTO as JSON for an event.
fn to_json(value: &impl ToJSON) -> Value {
    value.to_json().unwrap_or(Value::Null)
}
