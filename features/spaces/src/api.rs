//! The Spaces operations (tag `Spaces`): spaces, the layout set, tags.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    param::Path, payload::Json, types::MaybeUndefined, ApiResponse, Enum, Object, OpenApi, Tags,
};
use qubital_plugin::{auth::CookieAuth, AppContext, Page, Problem};
use uuid::Uuid;

use crate::{
    permissions::{CREATE_ROOM, DELETE_ROOM, LIST_ROOMS, UPDATE_ROOM},
    problems::SPACE_TAG_EXISTS,
    store::{self, SpaceFilter, SpaceRow, TagRow},
    validate::{self, Errors},
};

const NAME_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 1000;
const TAG_NAME_MAX: usize = 50;
const TAGS_PER_SPACE_MAX: usize = 20;

#[derive(Tags)]
enum SpacesTag {
    /// The persistent 2D environments of the organization, the layouts they may use, and
    /// their tags.
    Spaces,
}

/// A tag of the organization, attached to spaces to group and filter them.
#[derive(Clone, Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SpaceTag {
    pub id: Uuid,
    pub name: String,
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

/// A space of the caller's organization.
#[derive(Clone, Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Space {
    /// The space's id (a UUID).
    pub id: Uuid,
    pub name: String,
    /// Optional.
    pub description: Option<String>,
    /// With `dimension` and `style`, one of the combinations of `/space-layouts/list`.
    pub layout: String,
    pub dimension: String,
    pub style: String,
    /// Ordered by name.
    pub tags: Vec<SpaceTag>,
    /// Users in the space's conference now (user ids, in joining order), as the conference
    /// service reports them.
    pub occupant_user_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Space {
    fn from_row(row: SpaceRow, tags: Vec<TagRow>, occupants: Vec<i64>) -> Self {
        Self {
            id: row.room_id,
            name: row.name,
            description: row.description,
            layout: row.layout,
            dimension: row.dimension,
            style: row.style,
            tags: tags.into_iter().map(SpaceTag::from).collect(),
            occupant_user_ids: occupants.iter().map(i64::to_string).collect(),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A valid layout/dimension/style combination (server-authored).
#[derive(Clone, Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SpaceLayout {
    pub layout: String,
    pub dimension: String,
    pub style: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct CreateSpaceRequest {
    /// 1..100 characters (trimmed).
    #[oai(validator(max_length = 100))]
    name: String,
    /// Optional, at most 1000 characters; blank means none.
    #[oai(validator(max_length = 1000))]
    description: Option<String>,
    /// `layout`, `dimension` and `style` must be a combination listed by `/space-layouts/list`.
    #[oai(validator(max_length = 40))]
    layout: String,
    #[oai(validator(max_length = 40))]
    dimension: String,
    #[oai(validator(max_length = 40))]
    style: String,
    /// Tags of the organization to attach (at most 20).
    #[oai(validator(max_items = 20))]
    tag_ids: Option<Vec<Uuid>>,
}

/// A partial update: only the fields present change. `description: null` and `tagIds: null`
/// clear them; `name`, `layout`, `dimension` and `style` cannot be null.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateSpaceRequest {
    /// 1..100 characters (trimmed).
    #[oai(validator(max_length = 100))]
    name: MaybeUndefined<String>,
    /// At most 1000 characters; blank or null means none.
    #[oai(validator(max_length = 1000))]
    description: MaybeUndefined<String>,
    #[oai(validator(max_length = 40))]
    layout: MaybeUndefined<String>,
    #[oai(validator(max_length = 40))]
    dimension: MaybeUndefined<String>,
    #[oai(validator(max_length = 40))]
    style: MaybeUndefined<String>,
    /// Replaces the space's tags (at most 20); null removes them all.
    #[oai(validator(max_items = 20))]
    tag_ids: MaybeUndefined<Vec<Uuid>>,
}

/// How to order a space list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Enum)]
#[oai(rename_all = "kebab-case")]
pub enum SpaceSort {
    #[default]
    Name,
    CreatedAt,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum SpaceSortOrder {
    #[default]
    Asc,
    Desc,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct ListSpacesRequest {
    /// 1..100, default 20.
    #[oai(
        default = "qubital_plugin::list::default_limit",
        validator(minimum(value = "1"), maximum(value = "100"))
    )]
    limit: u32,
    #[oai(default)]
    offset: u32,
    /// Only spaces whose name contains this text (case-insensitive).
    #[oai(validator(max_length = 100))]
    name: Option<String>,
    /// Only spaces carrying every one of these tags.
    #[oai(validator(max_items = 20))]
    tag_ids: Option<Vec<Uuid>>,
    /// Default `name`.
    #[oai(default)]
    sort: SpaceSort,
    /// Default `asc`.
    #[oai(default)]
    order: SpaceSortOrder,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct SpaceListPageRequest {
    /// 1..100, default 20.
    #[oai(
        default = "qubital_plugin::list::default_limit",
        validator(minimum(value = "1"), maximum(value = "100"))
    )]
    limit: u32,
    #[oai(default)]
    offset: u32,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct CreateSpaceTagRequest {
    /// 1..50 characters (trimmed); unique in the organization, ignoring case.
    #[oai(validator(max_length = 50))]
    name: String,
}

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
}

fn tag_exists() -> Problem {
    Problem::new(&SPACE_TAG_EXISTS)
}

#[derive(Default)]
pub struct SpacesApi;

#[OpenApi(tag = "SpacesTag::Spaces")]
impl SpacesApi {
    /// Create a space in the caller's organization.
    ///
    /// Permission: `CreateRoom`. `422 validation` when the layout combination or a tag is
    /// unknown.
    #[oai(path = "/spaces/create", method = "post", operation_id = "create-space")]
    async fn create(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<CreateSpaceRequest>,
    ) -> Result<Json<Space>, Problem> {
        let caller = &auth.0;
        caller.require(&CREATE_ROOM)?;
        let body = body.0;
        let mut errors = Errors::default();
        let name = errors.check(validate::name("body.name", &body.name, NAME_MAX));
        let description = errors.check(
            body.description
                .as_deref()
                .map(|d| validate::description("body.description", d, DESCRIPTION_MAX))
                .transpose(),
        );
        let tag_ids = dedup(body.tag_ids.unwrap_or_default());
        errors.finish()?;
        let (name, description) = (name.unwrap_or_default(), description.flatten().flatten());

        let mut tx = ctx.db().begin().await?;
        let mut errors = Errors::default();
        check_combination(&mut tx, &mut errors, &body.layout, &body.dimension, &body.style).await?;
        check_tags(&mut tx, &mut errors, caller.organization_id, &tag_ids).await?;
        errors.finish()?;
        let id = Uuid::new_v4();
        let pk: i64 = sqlx::query_scalar(
            "INSERT INTO rooms (room_id, org_id, name, description, layout, dimension, style)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(id)
        .bind(caller.organization_id)
        .bind(&name)
        .bind(&description)
        .bind(&body.layout)
        .bind(&body.dimension)
        .bind(&body.style)
        .fetch_one(&mut *tx)
        .await?;
        store::set_tags(&mut tx, pk, &tag_ids).await?;
        let space = load(&mut tx, caller.organization_id, id).await?;
        tx.commit().await?;
        tracing::info!(space_id = %id, "space created");
        Ok(Json(space))
    }

    /// List the spaces of the caller's organization: filter by name and tags, sort by name or
    /// creation time, page with `limit`/`offset`.
    ///
    /// Permission: `ListRooms`.
    #[oai(path = "/spaces/list", method = "post", operation_id = "list-spaces")]
    async fn list(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<ListSpacesRequest>,
    ) -> Result<Json<Page<Space>>, Problem> {
        let caller = &auth.0;
        caller.require(&LIST_ROOMS)?;
        let body = body.0;
        let name = body.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        let tag_ids = dedup(body.tag_ids.unwrap_or_default());
        let order_by = match (body.sort, body.order) {
            (SpaceSort::Name, SpaceSortOrder::Asc) => "lower(name) ASC, room_id ASC",
            (SpaceSort::Name, SpaceSortOrder::Desc) => "lower(name) DESC, room_id DESC",
            (SpaceSort::CreatedAt, SpaceSortOrder::Asc) => "created_at ASC, room_id ASC",
            (SpaceSort::CreatedAt, SpaceSortOrder::Desc) => "created_at DESC, room_id DESC",
        };
        let mut conn = ctx.db().acquire().await?;
        let (rows, total) = store::list_spaces(
            &mut conn,
            &SpaceFilter {
                organization_id: caller.organization_id,
                name_contains: name,
                tag_ids: &tag_ids,
                order_by,
                limit: i64::from(body.limit),
                offset: i64::from(body.offset),
            },
        )
        .await?;
        let data = rows
            .into_iter()
            .map(|row| {
                let (space, tags, occupants) = row.into_parts();
                Space::from_row(space, tags, occupants)
            })
            .collect();
        Ok(Json(Page::new(data, body.limit, body.offset, total)))
    }

    /// One space of the caller's organization.
    ///
    /// Permission: `ListRooms`.
    #[oai(path = "/spaces/:id/get", method = "post", operation_id = "get-space")]
    async fn get(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        id: Path<Uuid>,
    ) -> Result<Json<Space>, Problem> {
        auth.0.require(&LIST_ROOMS)?;
        let mut conn = ctx.db().acquire().await?;
        Ok(Json(load(&mut conn, auth.0.organization_id, id.0).await?))
    }

    /// Change some of a space's fields: only the fields present in the body change.
    ///
    /// Permission: `UpdateRoom`. `422 validation` when the resulting layout combination or a
    /// tag is unknown.
    #[oai(path = "/spaces/:id/update", method = "post", operation_id = "update-space")]
    async fn update(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        id: Path<Uuid>,
        body: Json<UpdateSpaceRequest>,
    ) -> Result<Json<Space>, Problem> {
        let caller = &auth.0;
        caller.require(&UPDATE_ROOM)?;
        let body = body.0;
        let mut errors = Errors::default();
        let name = match &body.name {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => {
                errors.push("body.name", "cannot be null");
                None
            }
            MaybeUndefined::Value(name) => errors.check(validate::name("body.name", name, NAME_MAX)),
        };
        let description = match &body.description {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(d) => {
                errors.check(validate::description("body.description", d, DESCRIPTION_MAX))
            }
        };
        let mut layout_part = |field: &MaybeUndefined<String>, location: &str| match field {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => {
                errors.push(location, "cannot be null");
                None
            }
            MaybeUndefined::Value(v) if v.chars().count() > 40 => {
                errors.push(location, "must be at most 40 characters");
                None
            }
            MaybeUndefined::Value(v) => Some(v.clone()),
        };
        let layout = layout_part(&body.layout, "body.layout");
        let dimension = layout_part(&body.dimension, "body.dimension");
        let style = layout_part(&body.style, "body.style");
        let tag_ids = match body.tag_ids {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(Vec::new()),
            MaybeUndefined::Value(ids) if ids.len() > TAGS_PER_SPACE_MAX => {
                errors.push("body.tagIds", format!("at most {TAGS_PER_SPACE_MAX} tags"));
                None
            }
            MaybeUndefined::Value(ids) => Some(dedup(ids)),
        };
        errors.finish()?;

        let mut tx = ctx.db().begin().await?;
        let current = store::space_row(&mut tx, caller.organization_id, id.0, true)
            .await?
            .ok_or_else(Problem::not_found)?;
        let mut errors = Errors::default();
        let next_layout = layout.as_deref().unwrap_or(&current.layout);
        let next_dimension = dimension.as_deref().unwrap_or(&current.dimension);
        let next_style = style.as_deref().unwrap_or(&current.style);
        let layout_changes = (next_layout, next_dimension, next_style)
            != (&*current.layout, &*current.dimension, &*current.style);
        if layout_changes {
            check_combination(&mut tx, &mut errors, next_layout, next_dimension, next_style).await?;
        }
        if let Some(tag_ids) = &tag_ids {
            check_tags(&mut tx, &mut errors, caller.organization_id, tag_ids).await?;
        }
        errors.finish()?;

        let next_name = name.as_deref().unwrap_or(&current.name);
        let next_description = match &description {
            Some(d) => d.as_deref(),
            None => current.description.as_deref(),
        };
        let mut changed =
            layout_changes || next_name != current.name || next_description != current.description.as_deref();
        if changed {
            sqlx::query(
                "UPDATE rooms SET name = $2, description = $3, layout = $4, dimension = $5, style = $6
                 WHERE id = $1",
            )
            .bind(current.pk)
            .bind(next_name)
            .bind(next_description)
            .bind(next_layout)
            .bind(next_dimension)
            .bind(next_style)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(tag_ids) = &tag_ids {
            changed |= store::set_tags(&mut tx, current.pk, tag_ids).await?;
        }
        if changed {
            sqlx::query("UPDATE rooms SET updated_at = now() WHERE id = $1")
                .bind(current.pk)
                .execute(&mut *tx)
                .await?;
        }
        let space = load(&mut tx, caller.organization_id, id.0).await?;
        tx.commit().await?;
        Ok(Json(space))
    }

    /// Delete a space of the caller's organization (its tags stay; its recordings keep
    /// existing without it).
    ///
    /// Permission: `DeleteRoom`.
    #[oai(path = "/spaces/:id/delete", method = "post", operation_id = "delete-space")]
    async fn delete(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        id: Path<Uuid>,
    ) -> Result<Deleted, Problem> {
        auth.0.require(&DELETE_ROOM)?;
        let deleted = sqlx::query("DELETE FROM rooms WHERE org_id = $1 AND room_id = $2")
            .bind(auth.0.organization_id)
            .bind(id.0)
            .execute(ctx.db())
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(Problem::not_found());
        }
        tracing::info!(space_id = %id.0, "space deleted");
        Ok(Deleted::NoContent)
    }

    /// The layout/dimension/style combinations a space may use (server-authored).
    ///
    /// Permission: `ListRooms`.
    #[oai(
        path = "/space-layouts/list",
        method = "post",
        operation_id = "list-space-layouts"
    )]
    async fn list_layouts(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<SpaceListPageRequest>,
    ) -> Result<Json<Page<SpaceLayout>>, Problem> {
        auth.0.require(&LIST_ROOMS)?;
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT layout, dimension, style FROM valid_room_combinations
             ORDER BY position, layout, dimension, style LIMIT $1 OFFSET $2",
        )
        .bind(i64::from(body.limit))
        .bind(i64::from(body.offset))
        .fetch_all(ctx.db())
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM valid_room_combinations")
            .fetch_one(ctx.db())
            .await?;
        let data = rows
            .into_iter()
            .map(|(layout, dimension, style)| SpaceLayout {
                layout,
                dimension,
                style,
            })
            .collect();
        Ok(Json(Page::new(data, body.limit, body.offset, total)))
    }

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
        let org = auth.0.organization_id;
        let rows: Vec<TagRow> = sqlx::query_as(
            "SELECT id, name, created_at FROM room_tags WHERE org_id = $1
             ORDER BY lower(name), id LIMIT $2 OFFSET $3",
        )
        .bind(org)
        .bind(i64::from(body.limit))
        .bind(i64::from(body.offset))
        .fetch_all(ctx.db())
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM room_tags WHERE org_id = $1")
            .bind(org)
            .fetch_one(ctx.db())
            .await?;
        let data = rows.into_iter().map(SpaceTag::from).collect();
        Ok(Json(Page::new(data, body.limit, body.offset, total)))
    }

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
        auth: CookieAuth,
        body: Json<CreateSpaceTagRequest>,
    ) -> Result<Json<SpaceTag>, Problem> {
        auth.0.require(&CREATE_ROOM)?;
        let name = validate::name("body.name", &body.name, TAG_NAME_MAX)
            .map_err(|e| Problem::validation(vec![e]))?;
        let row: Option<TagRow> = sqlx::query_as(
            "INSERT INTO room_tags (id, org_id, name) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING RETURNING id, name, created_at",
        )
        .bind(Uuid::new_v4())
        .bind(auth.0.organization_id)
        .bind(&name)
        .fetch_optional(ctx.db())
        .await?;
        row.map(|r| Json(r.into())).ok_or_else(tag_exists)
    }

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
        auth: CookieAuth,
        id: Path<Uuid>,
    ) -> Result<Deleted, Problem> {
        auth.0.require(&UPDATE_ROOM)?;
        let deleted = sqlx::query("DELETE FROM room_tags WHERE org_id = $1 AND id = $2")
            .bind(auth.0.organization_id)
            .bind(id.0)
            .execute(ctx.db())
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(Problem::not_found());
        }
        Ok(Deleted::NoContent)
    }
}

fn dedup(ids: Vec<Uuid>) -> Vec<Uuid> {
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    ids.into_iter().filter(|id| seen.insert(*id)).collect()
}

async fn check_combination(
    conn: &mut sqlx::PgConnection,
    errors: &mut Errors,
    layout: &str,
    dimension: &str,
    style: &str,
) -> Result<(), Problem> {
    if !store::is_valid_combination(conn, layout, dimension, style).await? {
        errors.push(
            "body.layout",
            format!("`{layout}`/`{dimension}`/`{style}` is not a valid layout/dimension/style combination; see /space-layouts/list"),
        );
    }
    Ok(())
}

async fn check_tags(
    conn: &mut sqlx::PgConnection,
    errors: &mut Errors,
    organization_id: i64,
    ids: &[Uuid],
) -> Result<(), Problem> {
    let found = store::lock_tags(conn, organization_id, ids).await?;
    for id in ids.iter().filter(|id| !found.contains(id)) {
        errors.push("body.tagIds", format!("no tag {id} in this organization"));
    }
    Ok(())
}

/// The space `id` of `organization_id` with its tags and occupants, or `404`.
async fn load(conn: &mut sqlx::PgConnection, organization_id: i64, id: Uuid) -> Result<Space, Problem> {
    let (space, tags, occupants) = store::tagged_space(conn, organization_id, id)
        .await?
        .ok_or_else(Problem::not_found)?
        .into_parts();
    Ok(Space::from_row(space, tags, occupants))
}
