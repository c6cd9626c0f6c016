//! Every SQL statement of the chat feature: conversations, members, messages and reactions
//! here, the outbox in [`outbox`]. Only the feature's own tables: users and organizations are
//! stored as the ids their foreign keys check, and membership of an organization is asked of
//! the identity feature. Every function a handler reaches filters on the organization and on
//! the caller's membership of the conversation.

pub(crate) mod outbox;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct ConversationRow {
    pub id: Uuid,
    pub kind: String,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The caller's role in it.
    pub role: String,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct MessageRow {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub seq: i64,
    pub sender_id: Option<i64>,
    pub client_msg_id: Option<String>,
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
}

const CONVERSATION: &str = "c.id, c.kind, c.name, c.created_at, m.role";
const MESSAGE: &str =
    "id, conversation_id, seq, sender_id, client_msg_id, content, created_at, edited_at, deleted_at";

/// The conversation `id` of organization `org_id`, as member `user_id` sees it; `None` when it
/// does not exist, is another organization's or `user_id` is not a member.
pub(crate) async fn conversation(
    conn: &mut PgConnection,
    org_id: i64,
    user_id: i64,
    id: Uuid,
) -> Result<Option<ConversationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CONVERSATION} FROM chat_conversations c
         JOIN chat_members m ON m.conversation_id = c.id AND m.user_id = $2
         WHERE c.id = $3 AND c.org_id = $1"
    ))
    .bind(org_id)
    .bind(user_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// [`conversation`], with the conversation row locked (`FOR UPDATE`) until the transaction
/// ends: writes that number messages or change members serialize per conversation.
pub(crate) async fn lock_conversation(
    conn: &mut PgConnection,
    org_id: i64,
    user_id: i64,
    id: Uuid,
) -> Result<Option<ConversationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CONVERSATION} FROM chat_conversations c
         JOIN chat_members m ON m.conversation_id = c.id AND m.user_id = $2
         WHERE c.id = $3 AND c.org_id = $1 FOR UPDATE OF c"
    ))
    .bind(org_id)
    .bind(user_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The DM of organization `org_id` whose pair key is `dm_key`.
pub(crate) async fn find_dm(
    conn: &mut PgConnection,
    org_id: i64,
    dm_key: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM chat_conversations WHERE org_id = $1 AND dm_key = $2")
        .bind(org_id)
        .bind(dm_key)
        .fetch_optional(conn)
        .await
}

pub(crate) struct NewConversation<'a> {
    pub id: Uuid,
    pub org_id: i64,
    /// `dm` or `group`.
    pub kind: &'a str,
    pub name: Option<&'a str>,
    pub dm_key: Option<&'a str>,
    pub created_by: i64,
}

/// Creates a conversation; `false` when a DM of the same pair exists already (a concurrent
/// create won).
pub(crate) async fn insert_conversation(
    conn: &mut PgConnection,
    new: &NewConversation<'_>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO chat_conversations (id, org_id, kind, name, dm_key, created_by)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id, dm_key) DO NOTHING",
    )
    .bind(new.id)
    .bind(new.org_id)
    .bind(new.kind)
    .bind(new.name)
    .bind(new.dm_key)
    .bind(new.created_by)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Adds `users` with `role`; returns those who were not members yet.
pub(crate) async fn add_members(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    users: &[i64],
    role: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO chat_members (conversation_id, user_id, role)
         SELECT $1, unnest($2::bigint[]), $3 ON CONFLICT DO NOTHING RETURNING user_id",
    )
    .bind(conversation_id)
    .bind(users)
    .bind(role)
    .fetch_all(conn)
    .await
}

/// Removes `user_id`; whether they were a member.
pub(crate) async fn remove_member(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    user_id: i64,
) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM chat_members WHERE conversation_id = $1 AND user_id = $2")
            .bind(conversation_id)
            .bind(user_id)
            .execute(conn)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Members of each conversation, `(conversation, user, role)`, by conversation then user.
pub(crate) async fn members(
    conn: &mut PgConnection,
    conversations: &[Uuid],
) -> Result<Vec<(Uuid, i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT conversation_id, user_id, role FROM chat_members
         WHERE conversation_id = ANY($1) ORDER BY conversation_id, user_id",
    )
    .bind(conversations)
    .fetch_all(conn)
    .await
}

/// The conversations of member `user_id` in organization `org_id`, the most recently active
/// first, and how many there are.
pub(crate) async fn list_conversations(
    conn: &mut PgConnection,
    org_id: i64,
    user_id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ConversationRow>, i64), sqlx::Error> {
    let rows = sqlx::query_as(&format!(
        "SELECT {CONVERSATION} FROM chat_members m
         JOIN chat_conversations c ON c.id = m.conversation_id
         WHERE m.user_id = $2 AND c.org_id = $1
         ORDER BY coalesce(c.last_message_at, c.created_at) DESC, c.id DESC
         LIMIT $3 OFFSET $4"
    ))
    .bind(org_id)
    .bind(user_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    let total = sqlx::query_scalar(
        "SELECT count(*) FROM chat_members m JOIN chat_conversations c ON c.id = m.conversation_id
         WHERE m.user_id = $2 AND c.org_id = $1",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_one(conn)
    .await?;
    Ok((rows, total))
}

/// Unread messages of `user_id` in each conversation, `(conversation, count)`: others' messages
/// after the user's read cursor, deleted ones left out.
pub(crate) async fn unread_counts(
    conn: &mut PgConnection,
    user_id: i64,
    conversations: &[Uuid],
) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.conversation_id,
                (SELECT count(*) FROM chat_messages x
                 WHERE x.conversation_id = m.conversation_id AND x.seq > m.last_read_seq
                   AND x.deleted_at IS NULL AND x.sender_id IS DISTINCT FROM m.user_id)
         FROM chat_members m WHERE m.user_id = $1 AND m.conversation_id = ANY($2)",
    )
    .bind(user_id)
    .bind(conversations)
    .fetch_all(conn)
    .await
}

/// The last message of each conversation (which may be a deleted one).
pub(crate) async fn last_messages(
    conn: &mut PgConnection,
    conversations: &[Uuid],
) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MESSAGE} FROM chat_messages
         WHERE (conversation_id, seq) IN
               (SELECT id, last_seq FROM chat_conversations WHERE id = ANY($1) AND last_seq > 0)"
    ))
    .bind(conversations)
    .fetch_all(conn)
    .await
}

/// The message a sender sent with `client_msg_id` in a conversation, if any.
pub(crate) async fn message_by_client_id(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    sender_id: i64,
    client_msg_id: &str,
) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MESSAGE} FROM chat_messages
         WHERE conversation_id = $1 AND sender_id = $2 AND client_msg_id = $3"
    ))
    .bind(conversation_id)
    .bind(sender_id)
    .bind(client_msg_id)
    .fetch_optional(conn)
    .await
}

pub(crate) struct NewMessage<'a> {
    pub conversation_id: Uuid,
    pub sender_id: i64,
    pub client_msg_id: Option<&'a str>,
    pub content: &'a str,
}

/// Numbers (the next sequence number of the conversation, whose row the caller has locked)
/// and saves a message.
pub(crate) async fn insert_message(
    conn: &mut PgConnection,
    new: &NewMessage<'_>,
) -> Result<MessageRow, sqlx::Error> {
    let seq: i64 = sqlx::query_scalar(
        "UPDATE chat_conversations SET last_seq = last_seq + 1, last_message_at = now()
         WHERE id = $1 RETURNING last_seq",
    )
    .bind(new.conversation_id)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query_as(&format!(
        "INSERT INTO chat_messages (id, conversation_id, seq, sender_id, client_msg_id, content)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {MESSAGE}"
    ))
    .bind(Uuid::now_v7())
    .bind(new.conversation_id)
    .bind(seq)
    .bind(new.sender_id)
    .bind(new.client_msg_id)
    .bind(new.content)
    .fetch_one(conn)
    .await
}

/// The message `id` of a conversation.
pub(crate) async fn message(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    id: Uuid,
) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MESSAGE} FROM chat_messages WHERE conversation_id = $1 AND id = $2"
    ))
    .bind(conversation_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Where a page of messages starts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cursor {
    /// The newest messages.
    Latest,
    /// Messages older than this sequence number.
    Before(i64),
    /// Messages newer than this sequence number (the oldest of them first in the page's span).
    After(i64),
    /// This message, newer ones (up to half the page) and older ones.
    Around(i64),
}

/// A page of a conversation's messages, newest first. Sequence numbers never change, so pages
/// are stable while messages are being sent.
pub(crate) async fn messages(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    cursor: Cursor,
    limit: i64,
) -> Result<Vec<MessageRow>, sqlx::Error> {
    let older_sql = format!(
        "SELECT {MESSAGE} FROM chat_messages WHERE conversation_id = $1 AND seq < $2
         ORDER BY seq DESC LIMIT $3"
    );
    let newer_sql = format!(
        "SELECT {MESSAGE} FROM chat_messages WHERE conversation_id = $1 AND seq > $2
         ORDER BY seq ASC LIMIT $3"
    );
    let older = |below: i64, limit: i64| {
        sqlx::query_as::<_, MessageRow>(&older_sql)
            .bind(conversation_id)
            .bind(below)
            .bind(limit)
    };
    let newer = |above: i64, limit: i64| {
        sqlx::query_as::<_, MessageRow>(&newer_sql)
            .bind(conversation_id)
            .bind(above)
            .bind(limit)
    };
    Ok(match cursor {
        Cursor::Latest => older(i64::MAX, limit).fetch_all(conn).await?,
        Cursor::Before(seq) => older(seq, limit).fetch_all(conn).await?,
        Cursor::After(seq) => {
            let mut rows = newer(seq, limit).fetch_all(conn).await?;
            rows.reverse();
            rows
        }
        Cursor::Around(seq) => {
            let mut rows = newer(seq, (limit - 1) / 2).fetch_all(&mut *conn).await?;
            rows.reverse();
            let taken = rows.len() as i64;
            rows.extend(older(seq + 1, limit - taken).fetch_all(conn).await?);
            rows
        }
    })
}

/// Messages in a conversation (deleted ones included: they stay as tombstones).
pub(crate) async fn count_messages(
    conn: &mut PgConnection,
    conversation_id: Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM chat_messages WHERE conversation_id = $1")
        .bind(conversation_id)
        .fetch_one(conn)
        .await
}

/// Moves a member's read cursor forward to `seq` (never back).
pub(crate) async fn advance_read_cursor(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    user_id: i64,
    seq: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE chat_members SET last_read_seq = greatest(last_read_seq, $3)
         WHERE conversation_id = $1 AND user_id = $2",
    )
    .bind(conversation_id)
    .bind(user_id)
    .bind(seq)
    .execute(conn)
    .await?;
    Ok(())
}

/// The conversation of message `message_id`, when `user_id` is a member of it in `org_id`.
pub(crate) async fn conversation_of_message(
    conn: &mut PgConnection,
    org_id: i64,
    user_id: i64,
    message_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT x.conversation_id FROM chat_messages x
         JOIN chat_conversations c ON c.id = x.conversation_id AND c.org_id = $1
         JOIN chat_members m ON m.conversation_id = x.conversation_id AND m.user_id = $2
         WHERE x.id = $3",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(message_id)
    .fetch_optional(conn)
    .await
}

/// Replaces a message's content (`edited_at` = now).
pub(crate) async fn edit_message(
    conn: &mut PgConnection,
    id: Uuid,
    content: &str,
) -> Result<MessageRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE chat_messages SET content = $2, edited_at = now() WHERE id = $1 RETURNING {MESSAGE}"
    ))
    .bind(id)
    .bind(content)
    .fetch_one(conn)
    .await
}

/// Soft-deletes a message (`deleted_at` = now; the row stays as a tombstone).
pub(crate) async fn delete_message(conn: &mut PgConnection, id: Uuid) -> Result<MessageRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE chat_messages SET deleted_at = coalesce(deleted_at, now()) WHERE id = $1 RETURNING {MESSAGE}"
    ))
    .bind(id)
    .fetch_one(conn)
    .await
}

/// Adds a reaction; whether it is new.
pub(crate) async fn add_reaction(
    conn: &mut PgConnection,
    message_id: Uuid,
    user_id: i64,
    emoji: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO chat_reactions (message_id, user_id, emoji) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(message_id)
    .bind(user_id)
    .bind(emoji)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Removes a reaction; whether there was one.
pub(crate) async fn remove_reaction(
    conn: &mut PgConnection,
    message_id: Uuid,
    user_id: i64,
    emoji: &str,
) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM chat_reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3")
            .bind(message_id)
            .bind(user_id)
            .bind(emoji)
            .execute(conn)
            .await?
            .rows_affected()
            == 1,
    )
}

/// The reactions to each message, `(message, emoji, user)`, oldest first.
pub(crate) async fn reactions(
    conn: &mut PgConnection,
    messages: &[Uuid],
) -> Result<Vec<(Uuid, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT message_id, emoji, user_id FROM chat_reactions
         WHERE message_id = ANY($1) ORDER BY message_id, created_at, emoji, user_id",
    )
    .bind(messages)
    .fetch_all(conn)
    .await
}

/// What a search selects: messages (not deleted) whose content contains the text, in the
/// conversations of `user_id` in `org_id` (one of them, or all).
pub(crate) struct MessageSearch {
    pub org_id: i64,
    pub user_id: i64,
    pub conversation_id: Option<Uuid>,
    /// `qubital_plugin::list::contains_pattern` of the text (ILIKE; the trigram index serves it).
    pub pattern: String,
    pub limit: i64,
    pub offset: i64,
}

/// A page of search hits, the newest first, and how many there are.
pub(crate) async fn search(
    conn: &mut PgConnection,
    search: &MessageSearch,
) -> Result<(Vec<MessageRow>, i64), sqlx::Error> {
    const FILTER: &str = "FROM chat_messages x
         JOIN chat_members m ON m.conversation_id = x.conversation_id AND m.user_id = $2
         JOIN chat_conversations c ON c.id = x.conversation_id AND c.org_id = $1
         WHERE x.deleted_at IS NULL AND x.content ILIKE $3
           AND ($4::uuid IS NULL OR x.conversation_id = $4)";
    let columns = MESSAGE
        .split(", ")
        .map(|c| format!("x.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = sqlx::query_as(&format!(
        "SELECT {columns} {FILTER} ORDER BY x.created_at DESC, x.id DESC LIMIT $5 OFFSET $6"
    ))
    .bind(search.org_id)
    .bind(search.user_id)
    .bind(&search.pattern)
    .bind(search.conversation_id)
    .bind(search.limit)
    .bind(search.offset)
    .fetch_all(&mut *conn)
    .await?;
    let total = sqlx::query_scalar(&format!("SELECT count(*) {FILTER}"))
        .bind(search.org_id)
        .bind(search.user_id)
        .bind(&search.pattern)
        .bind(search.conversation_id)
        .fetch_one(conn)
        .await?;
    Ok((rows, total))
}

/// A member's unread count in one conversation.
pub(crate) async fn unread_count(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    user_id: i64,
) -> Result<i64, sqlx::Error> {
    Ok(unread_counts(conn, user_id, &[conversation_id])
        .await?
        .first()
        .map(|(_, n)| *n)
        .unwrap_or(0))
}

/// The organization of conversation `id`, when `user_id` is a member of it.
pub(crate) async fn organization_if_member(
    conn: &mut PgConnection,
    id: Uuid,
    user_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT c.org_id FROM chat_conversations c
         JOIN chat_members m ON m.conversation_id = c.id AND m.user_id = $2
         WHERE c.id = $1",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(conn)
    .await
}
