//! Conversations: create a DM or a group, list them, add and remove group members, and the
//! subscription token of a conversation's channel.

use chrono::{TimeZone, Utc};
use poem::web::Data;
use poem_openapi::{param::Path, payload::Json, Object, OpenApi};
use qubital_auth::directory::{self, IdsAt};
use qubital_plugin::{
    auth::{Caller, CookieAuth},
    problem::types,
    wire, AppContext, FieldError, Page, Problem,
};
use qubital_realtime::CentrifugoTokens;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    conversation, conversations, lock_member_of, member_of, publish_to_conversation, publish_to_users,
    user_id, ChatTag, Conversation,
};
use crate::{
    channels,
    permissions::USE_CHAT,
    problems::CHAT_NOT_A_GROUP,
    store::{self, NewConversation},
};

/// Members a group may be created with, or added at once, besides the caller.
const MEMBERS_MAX: usize = 100;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateDmRequest {
    /// The other member (a user id of a member of the organization, not the caller).
    pub user_id: wire::IdText,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateGroupRequest {
    /// 1..100 characters (trimmed).
    pub name: wire::Name<100>,
    /// The other members (user ids of members of the organization); the caller is added as the
    /// group's admin.
    #[oai(validator(max_items = 100, unique_items = true))]
    pub member_ids: Vec<wire::IdText>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListConversationsRequest {
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
pub struct AddMembersRequest {
    /// User ids of members of the organization (1..100).
    #[oai(validator(min_items = 1, max_items = 100, unique_items = true))]
    pub user_ids: Vec<wire::IdText>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoveMemberRequest {
    /// The member to remove (a user id); the caller may always remove themselves (leave).
    pub user_id: wire::IdText,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscribeTokenRequest {
    pub conversation_id: Uuid,
}

/// Subscribes the messaging connection to one conversation's channel.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SubscribeToken {
    pub token: String,
    /// The channel the token is for.
    pub channel: String,
    pub expires_at: chrono::DateTime<Utc>,
}

#[derive(Serialize)]
struct SubscriptionClaims<'a> {
    sub: String,
    channel: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Default)]
pub(crate) struct ConversationsApi;

#[OpenApi(tag = "ChatTag::Chat")]
impl ConversationsApi {
    /// Open a direct conversation
    ///
    /// The direct conversation between the caller and another member of the organization; one
    /// per pair: when it exists already, it is returned as it is. Permission: `UseChat`.
    /// `422 validation` when `userId` is the caller; `404 not-found` (naming `body.userId`) when
    /// it is not a member of the organization.
    #[oai(
        path = "/chat/conversations/create-dm",
        method = "post",
        operation_id = "create-dm"
    )]
    async fn create_dm(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<CreateDmRequest>,
    ) -> Result<Json<Conversation>, Problem> {
        let caller = &auth.0;
        caller.require(&USE_CHAT)?;
        let other = user_id("body.userId", &body.user_id).map_err(|e| Problem::validation(vec![e]))?;
        if other == caller.user_id {
            return Err(Problem::invalid_field(
                "body.userId",
                "a direct conversation is with someone else",
            ));
        }
        let mut tx = ctx.db().begin().await?;
        directory::require_members(
            &mut tx,
            caller.organization_id,
            IdsAt::One("body.userId"),
            &[other],
        )
        .await?;
        let (low, high) = (caller.user_id.min(other), caller.user_id.max(other));
        let dm_key = format!("{low}:{high}");
        let id = Uuid::now_v7();
        let created = store::insert_conversation(
            &mut tx,
            &NewConversation {
                id,
                org_id: caller.organization_id,
                kind: "dm",
                name: None,
                dm_key: Some(&dm_key),
                created_by: caller.user_id,
            },
        )
        .await?;
        let id = if created {
            store::add_members(&mut tx, id, &[low, high], "member").await?;
            publish_to_users(
                &mut tx,
                &[low, high],
                "conversation.created",
                json!({"conversationId": id, "kind": "dm"}),
            )
            .await?;
            id
        } else {
            store::find_dm(&mut tx, caller.organization_id, &dm_key)
                .await?
                .ok_or_else(|| Problem::internal("the existing direct conversation vanished"))?
        };
        let row = member_of(&mut tx, caller, id).await?;
        let dto = conversation(&mut tx, caller, row).await?;
        tx.commit().await?;
        Ok(Json(dto))
    }

    /// Create a group conversation
    ///
    /// A named conversation with the caller as its admin and the given members. Permission:
    /// `UseChat`. `422 validation` for a blank name; `404 not-found` (naming the id) for a user
    /// who is not a member of the organization.
    #[oai(
        path = "/chat/conversations/create-group",
        method = "post",
        operation_id = "create-group"
    )]
    async fn create_group(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<CreateGroupRequest>,
    ) -> Result<Json<Conversation>, Problem> {
        let caller = &auth.0;
        caller.require(&USE_CHAT)?;
        let body = body.0;
        let name = body.name.trim();
        let mut errors = Vec::new();
        if name.is_empty() || name.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "body.name",
                "1..100 characters, no control characters",
            ));
        }
        let members = user_ids("body.memberIds", &body.member_ids, &mut errors);
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        let others: Vec<i64> = members.into_iter().filter(|u| *u != caller.user_id).collect();
        let mut tx = ctx.db().begin().await?;
        directory::require_members(
            &mut tx,
            caller.organization_id,
            IdsAt::Each("body.memberIds"),
            &others,
        )
        .await?;
        let id = Uuid::now_v7();
        store::insert_conversation(
            &mut tx,
            &NewConversation {
                id,
                org_id: caller.organization_id,
                kind: "group",
                name: Some(name),
                dm_key: None,
                created_by: caller.user_id,
            },
        )
        .await?;
        store::add_members(&mut tx, id, &[caller.user_id], "admin").await?;
        store::add_members(&mut tx, id, &others, "member").await?;
        let mut everyone = others.clone();
        everyone.push(caller.user_id);
        publish_to_users(
            &mut tx,
            &everyone,
            "conversation.created",
            json!({"conversationId": id, "kind": "group", "name": name}),
        )
        .await?;
        let row = member_of(&mut tx, caller, id).await?;
        let dto = conversation(&mut tx, caller, row).await?;
        tx.commit().await?;
        Ok(Json(dto))
    }

    /// List my conversations
    ///
    /// The caller's conversations in the current organization, the most recently active
    /// first, each with its members, last message and unread count. Permission: `UseChat`.
    #[oai(
        path = "/chat/conversations/list",
        method = "post",
        operation_id = "list-conversations"
    )]
    async fn list(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<ListConversationsRequest>,
    ) -> Result<Json<Page<Conversation>>, Problem> {
        let caller = &auth.0;
        caller.require(&USE_CHAT)?;
        let mut conn = ctx.db().acquire().await?;
        let (rows, total) = store::list_conversations(
            &mut conn,
            caller.organization_id,
            caller.user_id,
            i64::from(body.limit),
            i64::from(body.offset),
        )
        .await?;
        let data = conversations(&mut conn, caller, rows).await?;
        Ok(Json(Page::new(data, body.limit, body.offset, total)))
    }

    /// Add members to a group
    ///
    /// Adds members of the organization to a group conversation; those already in it stay as
    /// they are. Permission: `UseChat`, and the caller must be an admin of the group (`403
    /// forbidden`). `404 not-found` when the caller is not a member of the conversation or a
    /// user is not a member of the organization (naming the id); `409 chat-not-a-group` for a
    /// direct conversation.
    #[oai(
        path = "/chat/conversations/:id/members/add",
        method = "post",
        operation_id = "add-conversation-members"
    )]
    async fn add_members(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        id: Path<Uuid>,
        body: Json<AddMembersRequest>,
    ) -> Result<Json<Conversation>, Problem> {
        let caller = &auth.0;
        caller.require(&USE_CHAT)?;
        let mut errors = Vec::new();
        let users = user_ids("body.userIds", &body.user_ids, &mut errors);
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        let mut tx = ctx.db().begin().await?;
        let row = lock_member_of(&mut tx, caller, id.0).await?;
        require_group_admin(&row, caller)?;
        directory::require_members(
            &mut tx,
            caller.organization_id,
            IdsAt::Each("body.userIds"),
            &users,
        )
        .await?;
        let added = store::add_members(&mut tx, row.id, &users, "member").await?;
        if !added.is_empty() {
            let ids: Vec<String> = added.iter().map(i64::to_string).collect();
            publish_to_conversation(&mut tx, row.id, "members.added", json!({"userIds": ids})).await?;
            publish_to_users(
                &mut tx,
                &added,
                "conversation.created",
                json!({"conversationId": row.id, "kind": "group", "name": row.name}),
            )
            .await?;
        }
        let dto = conversation(&mut tx, caller, row).await?;
        tx.commit().await?;
        Ok(Json(dto))
    }

    /// Remove a member from a group
    ///
    /// Removes a member from a group conversation (admins remove anyone; any member removes
    /// themselves, which is leaving). Permission: `UseChat`. `403 forbidden` for a non-admin
    /// removing someone else; `404 not-found` when the caller or the user is not a member;
    /// `409 chat-not-a-group` for a direct conversation.
    #[oai(
        path = "/chat/conversations/:id/members/remove",
        method = "post",
        operation_id = "remove-conversation-member"
    )]
    async fn remove_member(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        id: Path<Uuid>,
        body: Json<RemoveMemberRequest>,
    ) -> Result<Json<Conversation>, Problem> {
        let caller = &auth.0;
        caller.require(&USE_CHAT)?;
        let user = user_id("body.userId", &body.user_id).map_err(|e| Problem::validation(vec![e]))?;
        let mut tx = ctx.db().begin().await?;
        let row = lock_member_of(&mut tx, caller, id.0).await?;
        if row.kind != "group" {
            return Err(Problem::new(&CHAT_NOT_A_GROUP));
        }
        if user != caller.user_id {
            require_group_admin(&row, caller)?;
        }
        if !store::remove_member(&mut tx, row.id, user).await? {
            return Err(Problem::not_found());
        }
        publish_to_conversation(
            &mut tx,
            row.id,
            "members.removed",
            json!({"userIds": [user.to_string()]}),
        )
        .await?;
        publish_to_users(
            &mut tx,
            &[user],
            "conversation.removed",
            json!({"conversationId": row.id}),
        )
        .await?;
        let dto = if user == caller.user_id {
            // The caller left: they see the conversation as it was, without themselves.
            let mut dto = conversation(&mut tx, caller, row).await?;
            dto.members.retain(|m| m.user_id != user.to_string());
            dto
        } else {
            conversation(&mut tx, caller, row).await?
        };
        tx.commit().await?;
        Ok(Json(dto))
    }

    /// Get a subscription token for a conversation
    ///
    /// A token that subscribes the caller's messaging connection to the conversation's channel
    /// (`chat:<conversationId>`): HS256, `sub` = the caller, `channel`, `exp`. Members only.
    /// Permission: `UseChat`. `404 not-found` when the caller is not a member.
    #[oai(
        path = "/chat/subscribe-token",
        method = "post",
        operation_id = "get-subscribe-token"
    )]
    async fn subscribe_token(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<SubscribeTokenRequest>,
    ) -> Result<Json<SubscribeToken>, Problem> {
        let caller = &auth.0;
        caller.require(&USE_CHAT)?;
        let mut conn = ctx.db().acquire().await?;
        let row = member_of(&mut conn, caller, body.conversation_id).await?;
        let tokens = ctx.get::<CentrifugoTokens>();
        let channel = channels::conversation(row.id);
        let now = Utc::now().timestamp();
        let exp = now + tokens.ttl_secs as i64;
        let token = tokens
            .sign(&SubscriptionClaims {
                sub: caller.user_id.to_string(),
                channel: &channel,
                iat: now,
                exp,
            })
            .map_err(Problem::internal)?;
        Ok(Json(SubscribeToken {
            token,
            channel,
            expires_at: Utc
                .timestamp_opt(exp, 0)
                .single()
                .ok_or_else(|| Problem::internal("token expiry out of range"))?,
        }))
    }
}

/// `409` for a DM, `403` for a member who is not an admin of the group.
fn require_group_admin(row: &store::ConversationRow, _caller: &Caller) -> Result<(), Problem> {
    if row.kind != "group" {
        return Err(Problem::new(&CHAT_NOT_A_GROUP));
    }
    if row.role != "admin" {
        return Err(Problem::new(&types::FORBIDDEN).with_detail("Only the group's admins may do this."));
    }
    Ok(())
}

/// Distinct user ids of `values`, errors at `location[i]`.
fn user_ids(location: &str, values: &[wire::IdText], errors: &mut Vec<FieldError>) -> Vec<i64> {
    if values.len() > MEMBERS_MAX {
        errors.push(FieldError::new(location, format!("at most {MEMBERS_MAX}")));
        return Vec::new();
    }
    wire::distinct_ids(location, values, errors)
}
