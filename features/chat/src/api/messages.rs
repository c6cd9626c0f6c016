//! Messages: send (idempotent by `clientMsgId`), list (cursor before / after / around),
//! search, edit, delete, reactions, typing and the read cursor.

use poem::web::Data;
use poem_openapi::{param::Path, payload::Json, ApiResponse, Object, OpenApi};
use qubital_plugin::{
    auth::{Caller, CookieAuth},
    list::contains_pattern,
    wire, AppContext, FieldError, Page, Problem,
};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    lock_member_of, member_of, message, message_with_reactions, messages, publish_to_conversation, to_json,
    ChatTag, Message,
};
use crate::{
    channels,
    permissions::{MODERATE_CHAT, USE_CHAT},
    problems::CHAT_MESSAGE_DELETED,
    settings::ChatState,
    store::{self, ConversationRow, Cursor, MessageRow, MessageSearch, NewMessage},
};

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendMessageRequest {
    pub conversation_id: Uuid,
    /// 1..4000 characters, not only white space.
    pub content: wire::Prose<4000>,
    /// The client's id of this message (1..64 of `A-Z a-z 0-9 _ - : .`): sending again with
    /// the same id returns the first message instead of a second one.
    pub client_msg_id: Option<wire::Key<64>>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListMessagesRequest {
    pub conversation_id: Uuid,
    /// Messages older than this message. At most one of `before`, `after`, `around`; none:
    /// the newest messages.
    pub before: Option<Uuid>,
    /// Messages newer than this message (the oldest of them, shown newest first).
    pub after: Option<Uuid>,
    /// This message, up to half a page of newer ones and older ones (jump to a message).
    pub around: Option<Uuid>,
    /// 1..100, default 20.
    #[oai(
        default = "qubital_plugin::list::default_limit",
        validator(minimum(value = "1"), maximum(value = "100"))
    )]
    pub limit: u32,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchMessagesRequest {
    /// Text to find, case-insensitively (3..100 characters after trimming).
    pub query: wire::Search<100>,
    /// Only this conversation; none: every conversation of the caller in the organization.
    pub conversation_id: Option<Uuid>,
    /// 1..100, default 20.
    #[oai(
        default = "qubital_plugin::list::default_limit",
        validator(minimum(value = "1"), maximum(value = "100"))
    )]
    pub limit: u32,
    /// At most 100000.
    #[oai(default, validator(maximum(value = "100000")))]
    pub offset: u32,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateMessageRequest {
    /// The new content: 1..4000 characters, not only white space.
    pub content: wire::Prose<4000>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReactionRequest {
    /// The emoji (1..32 characters, no white space).
    pub emoji: wire::Symbol<32>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct TypingRequest {
    pub conversation_id: Uuid,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadCursorRequest {
    pub conversation_id: Uuid,
    /// The newest message the caller has read (the cursor never moves back).
    pub message_id: Uuid,
}

/// The caller's unread count after moving the read cursor.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct ReadCursor {
    pub conversation_id: Uuid,
    pub unread_count: u64,
}

#[derive(ApiResponse)]
enum Accepted {
    /// Done; nothing to return.
    #[oai(status = 204)]
    NoContent,
}

#[derive(Default)]
pub(crate) struct MessagesApi;

#[OpenApi(tag = "ChatTag::Chat")]
impl MessagesApi {
    /// Send a message
    ///
    /// Stores the message and queues its delivery to the conversation's members (in the same
    /// transaction). With `clientMsgId`, a retry returns the first message (same id), never a
    /// second one. Permission: `UseChat`. `404 not-found` when the caller is not a member.
    #[oai(path = "/chat/messages/send", method = "post", operation_id = "send-message")]
    async fn send(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<SendMessageRequest>,
    ) -> Result<Json<Message>, Problem> {
        let caller = &auth.0;
        caller.require(&USE_CHAT)?;
        let body = body.0;
        check_content(&body.content)?;
        let mut tx = ctx.db().begin().await?;
        // Locked: messages of a conversation are numbered (and delivered) in commit order, and
        // a retried send waits for the first to commit, then finds it.
        let conversation = lock_member_of(&mut tx, caller, body.conversation_id).await?;
        if let Some(client_msg_id) = body.client_msg_id.as_deref() {
            if let Some(existing) =
                store::message_by_client_id(&mut tx, conversation.id, caller.user_id, client_msg_id).await?
            {
                return Ok(Json(message_with_reactions(&mut tx, existing).await?));
            }
        }
        let row = store::insert_message(
            &mut tx,
            &NewMessage {
                conversation_id: conversation.id,
                sender_id: caller.user_id,
                client_msg_id: body.client_msg_id.as_deref(),
                content: &body.content,
            },
        )
        .await?;
        // The sender has read their own message.
        store::advance_read_cursor(&mut tx, conversation.id, caller.user_id, row.seq).await?;
        let dto = message(row);
        publish_to_conversation(
            &mut tx,
            conversation.id,
            "message.created",
            json!({"message": to_json(&dto)}),
        )
        .await?;
        tx.commit().await?;
        Ok(Json(dto))
    }

    /// List messages
    ///
    /// A page of a conversation's messages, newest first, from a cursor: `before`, `after` or
    /// `around` a message id (none: the newest). Pages are stable while messages are being
    /// sent. Deleted messages keep their place without content. `page.total` counts the
    /// conversation's messages; `page.offset` is 0. Permission: `UseChat`. `404 not-found` when
    /// the caller is not a member or the cursor message is not in the conversation.
    #[oai(path = "/chat/messages/list", method = "post", operation_id = "list-messages")]
    async fn list(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<ListMessagesRequest>,
    ) -> Result<Json<Page<Message>>, Problem> {
        let caller = &auth.0;
        caller.require(&USE_CHAT)?;
        let cursors = [
            ("before", body.before),
            ("after", body.after),
            ("around", body.around),
        ];
        let given: Vec<(&str, Uuid)> = cursors
            .iter()
            .filter_map(|(name, id)| id.map(|id| (*name, id)))
            .collect();
        if given.len() > 1 {
            return Err(Problem::validation(
                given
                    .iter()
                    .map(|(name, _)| {
                        FieldError::new(format!("body.{name}"), "at most one of before, after, around")
                    })
                    .collect(),
            ));
        }
        let mut conn = ctx.db().acquire().await?;
        let conversation = member_of(&mut conn, caller, body.conversation_id).await?;
        let cursor = match given.first() {
            None => Cursor::Latest,
            Some((name, id)) => {
                let seq = store::message(&mut conn, conversation.id, *id)
                    .await?
                    .ok_or_else(Problem::not_found)?
                    .seq;
                match *name {
                    "before" => Cursor::Before(seq),
                    "after" => Cursor::After(seq),
                    _ => Cursor::Around(seq),
                }
            }
        };
        let rows = store::messages(&mut conn, conversation.id, cursor, i64::from(body.limit)).await?;
        let total = store::count_messages(&mut conn, conversation.id).await?;
        let data = messages(&mut conn, rows).await?;
        Ok(Json(Page::new(data, body.limit, 0, total)))
    }

    /// Search messages
    ///
    /// Messages containing the text (case-insensitive), the newest first, in one conversation
    /// or in every conversation of the caller in the organization; deleted messages are not
    /// found. Permission: `UseChat`. `404 not-found` when `conversationId` is given and the
    /// caller is not a member.
    #[oai(
        path = "/chat/messages/search",
        method = "post",
        operation_id = "search-messages"
    )]
    async fn search(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<SearchMessagesRequest>,
    ) -> Result<Json<Page<Message>>, Problem> {
        let caller = &auth.0;
        caller.require(&USE_CHAT)?;
        let text = body.query.trim();
        if text.chars().count() < 3 {
            return Err(Problem::invalid_field(
                "body.query",
                "at least 3 characters besides white space",
            ));
        }
        let mut conn = ctx.db().acquire().await?;
        if let Some(id) = body.conversation_id {
            member_of(&mut conn, caller, id).await?;
        }
        let (rows, total) = store::search(
            &mut conn,
            &MessageSearch {
                org_id: caller.organization_id,
                user_id: caller.user_id,
                conversation_id: body.conversation_id,
                pattern: contains_pattern(text),
                limit: i64::from(body.limit),
                offset: i64::from(body.offset),
            },
        )
        .await?;
        let data = messages(&mut conn, rows).await?;
        Ok(Json(Page::new(data, body.limit, body.offset, total)))
    }

    /// Edit a message
    ///
    /// Replaces the content of one of the caller's own messages; `editedAt` tells it was
    /// edited. Permission: `UseChat`. `403 forbidden` for someone else's message; `404
    /// not-found` when the caller is not a member; `409 chat-message-deleted` for a deleted
    /// message.
    #[oai(
        path = "/chat/messages/:id/update",
        method = "post",
        operation_id = "edit-message"
    )]
    async fn update(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        id: Path<Uuid>,
        body: Json<UpdateMessageRequest>,
    ) -> Result<Json<Message>, Problem> {
        let caller = &auth.0;
        caller.require(&USE_CHAT)?;
        check_content(&body.content)?;
        let mut tx = ctx.db().begin().await?;
        let (conversation, row) = lock_message(&mut tx, caller, id.0).await?;
        if row.sender_id != Some(caller.user_id) {
            return Err(Problem::new(&qubital_plugin::problem::types::FORBIDDEN)
                .with_detail("Only the sender may edit a message."));
        }
        if row.deleted_at.is_some() {
            return Err(Problem::new(&CHAT_MESSAGE_DELETED));
        }
        let row = store::edit_message(&mut tx, row.id, &body.content).await?;
        let dto = message_with_reactions(&mut tx, row).await?;
        publish_to_conversation(
            &mut tx,
            conversation.id,
            "message.updated",
            json!({"message": to_json(&dto)}),
        )
        .await?;
        tx.commit().await?;
        Ok(Json(dto))
    }

    /// Delete a message
    ///
    /// Deletes one of the caller's own messages (organization admins: anyone's). The message
    /// keeps its place without its content (`deletedAt`); deleting again changes nothing.
    /// Permission: `UseChat` (`ModerateChat` for someone else's message: `403 forbidden`).
    /// `404 not-found` when the caller is not a member.
    #[oai(
        path = "/chat/messages/:id/delete",
        method = "post",
        operation_id = "delete-message"
    )]
    async fn delete(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        id: Path<Uuid>,
    ) -> Result<Json<Message>, Problem> {
        let caller = &auth.0;
        caller.require(&USE_CHAT)?;
        let mut tx = ctx.db().begin().await?;
        let (conversation, row) = lock_message(&mut tx, caller, id.0).await?;
        if row.sender_id != Some(caller.user_id) {
            caller.require(&MODERATE_CHAT)?;
        }
        let already = row.deleted_at.is_some();
        let row = store::delete_message(&mut tx, row.id).await?;
        let dto = message_with_reactions(&mut tx, row).await?;
        if !already {
            publish_to_conversation(
                &mut tx,
                conversation.id,
                "message.deleted",
                json!({"messageId": dto.id, "deletedAt": to_json(&dto.deleted_at)}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Json(dto))
    }

    /// React to a message
    ///
    /// Adds the caller's reaction with an emoji (again: nothing changes). Permission:
    /// `UseChat`. `404 not-found` when the caller is not a member; `409 chat-message-deleted`
    /// for a deleted message.
    #[oai(
        path = "/chat/messages/:id/reactions/add",
        method = "post",
        operation_id = "add-reaction"
    )]
    async fn add_reaction(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        id: Path<Uuid>,
        body: Json<ReactionRequest>,
    ) -> Result<Json<Message>, Problem> {
        react(&ctx, &auth.0, id.0, &body.emoji, true).await.map(Json)
    }

    /// Remove a reaction
    ///
    /// Removes the caller's reaction with an emoji (none: nothing changes). Permission:
    /// `UseChat`. `404 not-found` when the caller is not a member; `409 chat-message-deleted`
    /// for a deleted message.
    #[oai(
        path = "/chat/messages/:id/reactions/remove",
        method = "post",
        operation_id = "remove-reaction"
    )]
    async fn remove_reaction(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        id: Path<Uuid>,
        body: Json<ReactionRequest>,
    ) -> Result<Json<Message>, Problem> {
        react(&ctx, &auth.0, id.0, &body.emoji, false).await.map(Json)
    }

    /// Signal typing
    ///
    /// Tells the conversation's members that the caller is typing: published right away on the
    /// conversation's channel, not stored and not in its history (best effort: without the
    /// messaging service it goes nowhere). Permission: `UseChat`. `404 not-found` when the
    /// caller is not a member.
    #[oai(path = "/chat/typing/send", method = "post", operation_id = "send-typing")]
    async fn typing(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<TypingRequest>,
    ) -> Result<Accepted, Problem> {
        let caller = &auth.0;
        caller.require(&USE_CHAT)?;
        {
            let mut conn = ctx.db().acquire().await?;
            member_of(&mut conn, caller, body.conversation_id).await?;
        }
        let centrifugo = &ctx.get::<ChatState>().centrifugo;
        if centrifugo.is_enabled() {
            let publication = platform_centrifugo::Publication::new(
                channels::conversation(body.conversation_id),
                json!({
                    "type": "typing",
                    "conversationId": body.conversation_id,
                    "userId": caller.user_id.to_string(),
                }),
            )
            .skipping_history();
            if let Err(error) = centrifugo.publish_publication(&publication).await {
                tracing::warn!(%error, "a typing signal could not be published");
            }
        }
        Ok(Accepted::NoContent)
    }

    /// Mark messages read
    ///
    /// Moves the caller's read cursor of a conversation forward to a message (never back) and
    /// answers the unread count left; the caller's other devices hear of it on the
    /// conversation's channel. Permission: `UseChat`. `404 not-found` when the caller is not a
    /// member or the message is not in the conversation.
    #[oai(
        path = "/chat/read-cursor/update",
        method = "post",
        operation_id = "update-read-cursor"
    )]
    async fn read_cursor(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<ReadCursorRequest>,
    ) -> Result<Json<ReadCursor>, Problem> {
        let caller = &auth.0;
        caller.require(&USE_CHAT)?;
        let mut tx = ctx.db().begin().await?;
        let conversation = member_of(&mut tx, caller, body.conversation_id).await?;
        let row = store::message(&mut tx, conversation.id, body.message_id)
            .await?
            .ok_or_else(Problem::not_found)?;
        store::advance_read_cursor(&mut tx, conversation.id, caller.user_id, row.seq).await?;
        publish_to_conversation(
            &mut tx,
            conversation.id,
            "read.updated",
            json!({"userId": caller.user_id.to_string(), "messageId": row.id}),
        )
        .await?;
        let unread = store::unread_count(&mut tx, conversation.id, caller.user_id).await?;
        tx.commit().await?;
        Ok(Json(ReadCursor {
            conversation_id: conversation.id,
            unread_count: unread.max(0) as u64,
        }))
    }
}

/// `422` for content that is only white space (the schema bounds the length).
fn check_content(content: &str) -> Result<(), Problem> {
    if content.trim().is_empty() {
        return Err(Problem::invalid_field(
            "body.content",
            "must not be only white space",
        ));
    }
    Ok(())
}

/// The message `id` and its conversation (locked until the transaction ends), when the caller
/// is a member; else `404`.
async fn lock_message(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<(ConversationRow, MessageRow), Problem> {
    let conversation_id = store::conversation_of_message(conn, caller.organization_id, caller.user_id, id)
        .await?
        .ok_or_else(Problem::not_found)?;
    let conversation = lock_member_of(conn, caller, conversation_id).await?;
    let row = store::message(conn, conversation.id, id)
        .await?
        .ok_or_else(Problem::not_found)?;
    Ok((conversation, row))
}

/// Adds (`add`) or removes the caller's reaction; publishes the change when there is one.
async fn react(
    ctx: &AppContext,
    caller: &Caller,
    id: Uuid,
    emoji: &str,
    add: bool,
) -> Result<Message, Problem> {
    caller.require(&USE_CHAT)?;
    if emoji.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Problem::invalid_field(
            "body.emoji",
            "no white space or control characters",
        ));
    }
    let mut tx = ctx.db().begin().await?;
    let (conversation, row) = lock_message(&mut tx, caller, id).await?;
    if row.deleted_at.is_some() {
        return Err(Problem::new(&CHAT_MESSAGE_DELETED));
    }
    let changed = if add {
        store::add_reaction(&mut tx, row.id, caller.user_id, emoji).await?
    } else {
        store::remove_reaction(&mut tx, row.id, caller.user_id, emoji).await?
    };
    if changed {
        publish_to_conversation(
            &mut tx,
            conversation.id,
            if add { "reaction.added" } else { "reaction.removed" },
            json!({"messageId": row.id, "userId": caller.user_id.to_string(), "emoji": emoji}),
        )
        .await?;
    }
    let dto = message_with_reactions(&mut tx, row).await?;
    tx.commit().await?;
    Ok(dto)
}
