//! The presence operations (tag `Presence`): heartbeat, set the manual status, read the
//! effective statuses of members.

use std::collections::HashMap;

use poem::web::Data;
use poem_openapi::{payload::Json, ApiResponse, Object, OpenApi, Tags};
use qubital_auth::{
    directory::{self, PresenceStatus},
    permissions::VIEW_ORGANIZATION,
};
use qubital_plugin::{auth::CookieAuth, wire, AppContext, DirectJson, FieldError, Page, Problem};
use serde_json::json;
use sqlx::PgConnection;

use crate::store::{self, PresenceRow};

/// Users a status read may name.
const USERS_MAX: usize = 200;

#[derive(Tags)]
enum PresenceTag {
    /// Who is online, away, busy or offline in the organization; changes are delivered live
    /// on `status:<organizationId>:<userId>`.
    Presence,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetStatusRequest {
    /// The manual status, kept until changed (`offline` appears offline); `null` returns to the
    /// automatic status (online while the client sends heartbeats).
    pub status: Option<PresenceStatus>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetStatusesRequest {
    /// User ids (1..200).
    #[oai(validator(min_items = 1, max_items = 200))]
    pub user_ids: Vec<wire::IdText>,
}

/// A user's effective status.
// Serialised with serde for the snapshot (`DirectJson`: the same form, checked in debug builds).
#[derive(Debug, Object, serde::Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct UserStatus {
    pub user_id: String,
    pub status: PresenceStatus,
}

#[derive(ApiResponse)]
enum NoContent {
    /// Done.
    #[oai(status = 204)]
    Done,
}

#[derive(Default)]
pub(crate) struct PresenceApi;

#[OpenApi(tag = "PresenceTag::Presence")]
impl PresenceApi {
    /// Send a heartbeat
    ///
    /// The caller's client is connected: their automatic status is online until heartbeats stop
    /// (send one every 30 s). Permission: `ViewOrganization`.
    #[oai(
        path = "/presence/heartbeat",
        method = "post",
        operation_id = "send-presence-heartbeat"
    )]
    async fn heartbeat(&self, ctx: Data<&AppContext>, auth: CookieAuth) -> Result<NoContent, Problem> {
        let caller = &auth.0;
        caller.require(&VIEW_ORGANIZATION)?;
        let mut tx = ctx.db().begin().await?;
        let row = store::heartbeat(&mut tx, caller.organization_id, caller.user_id).await?;
        publish_if_changed(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(NoContent::Done)
    }

    /// Set my status
    ///
    /// Sets the caller's manual status in the current organization (persisted until changed;
    /// `null` returns to automatic). A change of the effective status is published on the
    /// caller's status channel. Permission: `ViewOrganization`.
    #[oai(
        path = "/presence/status/update",
        method = "post",
        operation_id = "set-manual-status"
    )]
    async fn set_status(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<SetStatusRequest>,
    ) -> Result<NoContent, Problem> {
        let caller = &auth.0;
        caller.require(&VIEW_ORGANIZATION)?;
        let mut tx = ctx.db().begin().await?;
        let row = store::set_manual(
            &mut tx,
            caller.organization_id,
            caller.user_id,
            body.status.map(PresenceStatus::as_str),
        )
        .await?;
        publish_if_changed(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(NoContent::Done)
    }

    /// Get statuses
    ///
    /// The effective status (manual, else automatic) of each user, in the caller's
    /// organization, in the order asked; a user who is not a member there reads as `offline`.
    /// Permission: `ViewOrganization`.
    #[oai(
        path = "/presence/status/get",
        method = "post",
        operation_id = "get-presence-snapshot"
    )]
    async fn get_statuses(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<GetStatusesRequest>,
    ) -> Result<DirectJson<Page<UserStatus>>, Problem> {
        let caller = &auth.0;
        caller.require(&VIEW_ORGANIZATION)?;
        if body.user_ids.len() > USERS_MAX {
            return Err(Problem::invalid_field(
                "body.userIds",
                format!("at most {USERS_MAX}"),
            ));
        }
        let mut errors = Vec::new();
        let mut ids = Vec::with_capacity(body.user_ids.len());
        for (i, value) in body.user_ids.iter().enumerate() {
            match value.id() {
                Some(id) => ids.push(id),
                None => errors.push(FieldError::new(format!("body.userIds[{i}]"), "not a user id")),
            }
        }
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        let mut conn = ctx.db().acquire().await?;
        let statuses = effective_statuses(&mut conn, caller.organization_id, &ids).await?;
        let data: Vec<UserStatus> = ids
            .iter()
            .map(|id| UserStatus {
                user_id: id.to_string(),
                status: statuses.get(id).copied().unwrap_or(PresenceStatus::Offline),
            })
            .collect();
        let count = data.len();
        Ok(DirectJson(Page::new(data, count as u32, 0, count as i64)))
    }
}

/// An SQL expression of the effective status (manual ?? automatic) of the member `user` in
/// the organization `org` (SQL expressions, such as `m.user_id` and `m.org_id`), `NULL` when
/// they have none (offline): for a member list to read statuses in its own query. Parse the
/// text with [`PresenceStatus::parse`].
pub fn effective_status_sql(user: &str, org: &str) -> String {
    format!(
        "(SELECT COALESCE(p.manual_status, p.automatic_status) FROM user_presence p
          WHERE p.org_id = {org} AND p.user_id = {user})"
    )
}

/// The effective status (manual ?? automatic) of the users among `users` who have any in
/// organization `org_id`; the others are offline.
async fn effective_statuses(
    conn: &mut PgConnection,
    org_id: i64,
    users: &[i64],
) -> Result<HashMap<i64, PresenceStatus>, sqlx::Error> {
    Ok(store::statuses(conn, org_id, users)
        .await?
        .into_iter()
        .map(|(user, manual, automatic)| {
            (
                user,
                PresenceStatus::parse(manual.as_deref().unwrap_or(&automatic)),
            )
        })
        .collect())
}

/// When the effective status of `row` differs from the one last published, queues the new one
/// on the member's status channel (chat's outbox, in the caller's transaction) and records it.
pub(crate) async fn publish_if_changed(
    conn: &mut PgConnection,
    row: &PresenceRow,
) -> Result<(), sqlx::Error> {
    let effective = row.effective().to_owned();
    if effective == row.published_status {
        return Ok(());
    }
    let Some((_, organization)) = directory::organization_public_ids(conn, &[row.org_id])
        .await?
        .into_iter()
        .next()
    else {
        return Ok(());
    };
    qubital_chat::outbox::enqueue(
        conn,
        &qubital_chat::channels::status(&organization, row.user_id),
        &json!({"type": "status", "userId": row.user_id.to_string(), "status": effective}),
    )
    .await?;
    store::mark_published(conn, row.org_id, row.user_id, &effective).await
}
