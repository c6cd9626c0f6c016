//! `/audit-logs/list` (tag `AuditLogs`): the current organization's trail, for admins.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{payload::Json, Object, OpenApi, Tags};
use qubital_plugin::{
    auth::CookieAuth, list::default_limit, problem::types, wire, AppContext, Page, Problem,
};

use crate::{
    event::Action,
    permissions::VIEW_AUDIT_LOGS,
    store::{self, EventRow, Filter},
};

#[derive(Tags)]
enum AuditTag {
    /// Who changed what in the organization.
    AuditLogs,
}

/// Who did it.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct AuditActor {
    /// `user` (then `id` is a `User.id`) or `system`.
    #[oai(rename = "type")]
    pub kind: String,
    pub id: String,
    pub name: Option<String>,
}

/// What it was done to.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct AuditTarget {
    /// `member`, `invitation`, `invite_link`, `organization`, `space`, `space_tag`,
    /// `recording`, `guest`, `guest_invite`.
    #[oai(rename = "type")]
    pub kind: String,
    /// The id the API shows for it.
    pub id: String,
    /// Its name at the time, when it has one.
    pub name: Option<String>,
}

/// One administrative change.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct AuditLogEntry {
    pub id: String,
    pub action: Action,
    pub actor: AuditActor,
    pub targets: Vec<AuditTarget>,
    /// The `X-Request-Id` of the request that made the change.
    pub request_id: Option<String>,
    /// The client's IP address.
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct ListAuditLogsRequest {
    /// Only changes made by this user (`User.id`).
    actor_id: Option<wire::FreeText<64>>,
    /// Only this action.
    action: Option<Action>,
    /// Only changes to targets of this type (see `AuditTarget.type`).
    #[oai(validator(max_length = 32, pattern = "^[a-z_]+$"))]
    target_type: Option<String>,
    /// Only changes to the target with this id.
    target_id: Option<wire::FreeText<128>>,
    /// Only changes at or after this instant.
    from: Option<DateTime<Utc>>,
    /// Only changes before this instant.
    until: Option<DateTime<Utc>>,
    #[oai(
        default = "default_limit",
        validator(minimum(value = "1"), maximum(value = "100"))
    )]
    limit: u32,
    #[oai(default, validator(maximum(value = "100000")))]
    offset: u32,
}

qubital_plugin::operation_errors! {
    /// What `/audit-logs/list` answers besides the host's problems.
    pub ListAuditLogsErrors = [types::FORBIDDEN, types::VALIDATION];
}

impl From<EventRow> for AuditLogEntry {
    fn from(row: EventRow) -> Self {
        AuditLogEntry {
            id: row.id.to_string(),
            // Only `Action`s are ever written.
            action: Action::parse(&row.action).unwrap_or(Action::SpaceUpdated),
            actor: AuditActor {
                kind: row.actor_type,
                id: row.actor_id,
                name: row.actor_name,
            },
            targets: row
                .targets
                .0
                .into_iter()
                .map(|t| AuditTarget {
                    kind: t.kind,
                    id: t.id,
                    name: t.name,
                })
                .collect(),
            request_id: row.request_id,
            ip_address: row.ip_address,
            user_agent: row.user_agent,
            occurred_at: row.occurred_at,
        }
    }
}

/// Blank filters are no filters.
fn given<T: AsRef<str>>(value: &Option<T>) -> Option<&str> {
    value
        .as_ref()
        .map(|v| v.as_ref().trim())
        .filter(|v| !v.is_empty())
}

#[derive(Default)]
pub struct AuditLogsApi;

#[OpenApi(tag = "AuditTag::AuditLogs")]
impl AuditLogsApi {
    /// List audit logs
    ///
    /// The current organization's administrative changes, newest first: filter by actor,
    /// action, target (type and/or id) and a time range `[from, until)` (one whose `until` is
    /// not after its `from` holds nothing). Permission: `ViewAuditLogs` (admins).
    #[oai(path = "/audit-logs/list", method = "post", operation_id = "list-audit-logs")]
    async fn list(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<ListAuditLogsRequest>,
    ) -> Result<Json<Page<AuditLogEntry>>, ListAuditLogsErrors> {
        let caller = &auth.0;
        caller.require(&VIEW_AUDIT_LOGS)?;
        let body = body.0;
        let filter = Filter {
            organization_id: caller.organization_id,
            actor_id: given(&body.actor_id),
            action: body.action.map(Action::as_str),
            target_type: given(&body.target_type),
            target_id: given(&body.target_id),
            from: body.from,
            until: body.until,
        };
        let mut conn = ctx.db().acquire().await.map_err(Problem::from)?;
        let (rows, total) = store::page(&mut conn, &filter, i64::from(body.limit), i64::from(body.offset))
            .await
            .map_err(Problem::from)?;
        Ok(Json(Page::new(
            rows.into_iter().map(AuditLogEntry::from).collect(),
            body.limit,
            body.offset,
            total,
        )))
    }
}
