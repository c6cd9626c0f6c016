//! Tags of the organization: list, create, delete. They are attached with a space's `tagIds`.

use chrono::{DateTime, Utc};
use poem::{web::Data, Request};
use poem_openapi::{param::Path, payload::Json, Object, OpenApi};
use qubital_audit::{Action, AuditEvent, Target};
use qubital_plugin::{auth::CookieAuth, wire, AppContext, Page, Problem};
use uuid::Uuid;

use super::{Deleted, SpaceListPageRequest, SpacesTag};
use crate::{
    permissions::{CREATE_ROOM, LIST_ROOMS, UPDATE_ROOM},
    problems::SPACE_TAG_EXISTS,
    store::{self, TagRow},
    validate,
};

const TAG_NAME_MAX: usize = 50;

/// A tag of the organization, attached to spaces to group and filter them.
#[derive(Clone, Debug, Object, serde::Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct SpaceTag {
    pub id: Uuid,
    pub name: String,
    #[serde(serialize_with = "qubital_plugin::payload::rfc3339")]
    pub created_at: DateTime<Utc>,
}

impl From<TagRow> for SpaceTag {
    fn from(row: TagRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct CreateSpaceTagRequest {
    /// 1..50 characters (trimmed); unique in the organization, ignoring case.
    name: wire::Name<50>,
}

fn tag_exists() -> Problem {
    Problem::new(&SPACE_TAG_EXISTS)
}

#[derive(Default)]
pub(crate) struct SpaceTagsApi;

#[OpenApi(tag = "SpacesTag::Spaces")]
impl SpaceTagsApi {
    /// List space tags
    ///
    /// The tags of the caller's organization, ordered by name.
    ///
    /// Permission: `ListRooms`.
    #[oai(path = "/space-tags/list", method = "post", operation_id = "list-space-tags")]
    async fn list_tags(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<SpaceListPageRequest>,
    ) -> Result<Json<Page<SpaceTag>>, Problem> {
        auth.0.require(&LIST_ROOMS)?;
        let mut conn = ctx.db().acquire().await?;
        let (rows, total) = store::list_tags(
            &mut conn,
            auth.0.organization_id,
            i64::from(body.limit),
            i64::from(body.offset),
        )
        .await?;
        let data = rows.into_iter().map(SpaceTag::from).collect();
        Ok(Json(Page::new(data, body.limit, body.offset, total)))
    }

    /// Create a space tag
    ///
    /// Create a tag in the caller's organization. Attach it with `tagIds` on
    /// `/spaces/create` or `/spaces/{id}/update`.
    ///
    /// Permission: `CreateRoom`. `409 space-tag-exists` when the organization already has a
    /// tag of this name (ignoring case).
    #[oai(
        path = "/space-tags/create",
        method = "post",
        operation_id = "create-space-tag"
    )]
    async fn create_tag(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        body: Json<CreateSpaceTagRequest>,
    ) -> Result<Json<SpaceTag>, Problem> {
        auth.0.require(&CREATE_ROOM)?;
        let name = validate::name("body.name", &body.name, TAG_NAME_MAX)
            .map_err(|e| Problem::validation(vec![e]))?;
        let mut tx = ctx.db().begin().await?;
        let row = store::insert_tag(&mut *tx, auth.0.organization_id, &name)
            .await?
            .ok_or_else(tag_exists)?;
        qubital_audit::record(
            &mut tx,
            AuditEvent::by(&auth.0, Action::SpaceTagCreated, req)
                .target(Target::new("space_tag", row.id).named(&row.name)),
        )
        .await?;
        tx.commit().await?;
        Ok(Json(row.into()))
    }

    /// Delete a space tag
    ///
    /// Delete a tag of the caller's organization; spaces carrying it lose it.
    ///
    /// Permission: `UpdateRoom`.
    #[oai(
        path = "/space-tags/:id/delete",
        method = "post",
        operation_id = "delete-space-tag"
    )]
    async fn delete_tag(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        id: Path<Uuid>,
    ) -> Result<Deleted, Problem> {
        auth.0.require(&UPDATE_ROOM)?;
        let mut tx = ctx.db().begin().await?;
        if !store::delete_tag(&mut *tx, auth.0.organization_id, id.0).await? {
            return Err(Problem::not_found());
        }
        qubital_audit::record(
            &mut tx,
            AuditEvent::by(&auth.0, Action::SpaceTagDeleted, req).target(Target::new("space_tag", id.0)),
        )
        .await?;
        tx.commit().await?;
        Ok(Deleted::NoContent)
    }
}
