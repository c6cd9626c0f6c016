//! Messages: send (idempotent by `clientMsgId`) and list (cursor before / after / around).

use poem::web::Data;
use poem_openapi::{payload::Json, Object, OpenApi};
use qubital_plugin::{auth::CookieAuth, AppContext, FieldError, Page, Problem};
use serde_json::json;
use uuid::Uuid;

use super::{lock_member_of, member_of, message, publish_to_conversation, to_json, ChatTag, Message};
use crate::{
    permissions::USE_CHAT,
    store::{self, Cursor, NewMessage},
};

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendMessageRequest {
    pub conversation_id: Uuid,
    /// 1..4000 characters, not only white space.
    #[oai(validator(min_length = 1, max_length = 4000))]
    pub content: String,
    /// The client's id of this message (1..64 of `A-Z a-z 0-9 _ - : .`): sending again with
    /// the same id returns the first message instead of a second one.
    #[oai(validator(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_.:-]+$"))]
    pub client_msg_id: Option<String>,
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
        if body.content.trim().is_empty() {
            return Err(Problem::invalid_field(
                "body.content",
                "must not be only white space",
            ));
        }
        let mut tx = ctx.db().begin().await?;
        // Locked: messages of a conversation are numbered (and delivered) in commit order, and
        // a retried send waits for the first to commit, then finds it.
        let conversation = lock_member_of(&mut tx, caller, body.conversation_id).await?;
        if let Some(client_msg_id) = body.client_msg_id.as_deref() {
            if let Some(existing) =
                store::message_by_client_id(&mut tx, conversation.id, caller.user_id, client_msg_id).await?
            {
                return Ok(Json(message(existing)));
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
        let given: Vec<_> = cursors.iter().filter(|(_, id)| id.is_some()).collect();
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
            Some((name, Some(id))) => {
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
            Some((_, None)) => Cursor::Latest,
        };
        let rows = store::messages(&mut conn, conversation.id, cursor, i64::from(body.limit)).await?;
        let total = store::count_messages(&mut conn, conversation.id).await?;
        Ok(Json(Page::new(
            rows.into_iter().map(message).collect(),
            body.limit,
            0,
            total,
        )))
    }
}
