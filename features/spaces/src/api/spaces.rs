//! Spaces: create, list, get, update, delete.

use chrono::{DateTime, Utc};
use poem::{web::Data, Request};
use poem_openapi::{param::Path, payload::Json, types::MaybeUndefined, Enum, Object, OpenApi};
use qubital_audit::{Action, AuditEvent, Target};
use qubital_plugin::{auth::CookieAuth, wire, AppContext, DirectJson, FieldError, Page, Problem};
use uuid::Uuid;

use super::{dedup, tags::SpaceTag, Deleted, SpacesTag};
use crate::{
    permissions::{CREATE_ROOM, DELETE_ROOM, LIST_ROOMS, UPDATE_ROOM},
    store::{self, Layout, SpaceFields, SpaceFilter, SpaceOrder, SpaceRow, TagRow},
    validate::{self, Errors},
};

const NAME_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 1000;
const TAGS_PER_SPACE_MAX: usize = 20;

/// A space of the caller's organization.
// Serialised with serde for the list (`DirectJson`: the same form, checked in debug builds).
#[derive(Clone, Debug, Object, serde::Serialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
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
    #[serde(serialize_with = "qubital_plugin::payload::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "qubital_plugin::payload::rfc3339")]
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

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct CreateSpaceRequest {
    /// 1..100 characters (trimmed).
    name: wire::Name<100>,
    /// Optional, at most 1000 characters; blank means none.
    description: Option<wire::Description<DESCRIPTION_MAX>>,
    /// `layout`, `dimension` and `style` must be a combination listed by `/space-layouts/list`.
    layout: wire::Key<40>,
    dimension: wire::Key<40>,
    style: wire::Key<40>,
    /// Tags of the organization to attach (at most 20).
    #[oai(validator(max_items = 20))]
    tag_ids: Option<Vec<Uuid>>,
}

/// A partial update: only the fields present change. `description: null` and `tagIds: null`
/// clear them; `null` for `name`, `layout`, `dimension` or `style` (which always have a value)
/// leaves them as they are, like leaving them out.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateSpaceRequest {
    /// 1..100 characters (trimmed).
    name: Option<wire::Name<100>>,
    /// At most 1000 characters; blank or null means none.
    description: MaybeUndefined<wire::Description<DESCRIPTION_MAX>>,
    layout: Option<wire::Key<40>>,
    dimension: Option<wire::Key<40>>,
    style: Option<wire::Key<40>>,
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
    name: Option<wire::FreeText<100>>,
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

#[derive(Default)]
pub(crate) struct SpacesApi;

#[OpenApi(tag = "SpacesTag::Spaces")]
impl SpacesApi {
    /// Create a space
    ///
    /// Create a space in the caller's organization.
    ///
    /// Permission: `CreateRoom`. `422 validation` when the layout combination or a tag is
    /// unknown.
    #[oai(path = "/spaces/create", method = "post", operation_id = "create-space")]
    async fn create(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        body: Json<CreateSpaceRequest>,
    ) -> Result<Json<Space>, Problem> {
        let caller = &auth.0;
        caller.require(&CREATE_ROOM)?;
        let new = NewSpace::validate(body.0)?;
        let fields = new.fields();

        let mut tx = ctx.db().begin().await?;
        check_references(
            &mut tx,
            caller.organization_id,
            Some(&fields.layout),
            &new.tag_ids,
        )
        .await?;
        let id = Uuid::new_v4();
        let pk = store::insert_space(&mut tx, caller.organization_id, id, &fields).await?;
        store::set_tags(&mut tx, pk, &new.tag_ids).await?;
        let space = load(&mut tx, caller.organization_id, id).await?;
        qubital_audit::record(
            &mut tx,
            AuditEvent::by(caller, Action::SpaceCreated, req)
                .target(Target::new("space", id).named(&space.name)),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(space_id = %id, "space created");
        Ok(Json(space))
    }

    /// List spaces
    ///
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
    ) -> Result<DirectJson<Page<Space>>, Problem> {
        let caller = &auth.0;
        caller.require(&LIST_ROOMS)?;
        let body = body.0;
        let name = body.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        let tag_ids = dedup(body.tag_ids.unwrap_or_default());
        let filter = SpaceFilter {
            organization_id: caller.organization_id,
            name_contains: name,
            tag_ids: &tag_ids,
            order: match body.sort {
                SpaceSort::Name => SpaceOrder::Name,
                SpaceSort::CreatedAt => SpaceOrder::CreatedAt,
            },
            descending: body.order == SpaceSortOrder::Desc,
            limit: i64::from(body.limit),
            offset: i64::from(body.offset),
        };
        let mut conn = ctx.db().acquire().await?;
        let (rows, total) = store::list_spaces(&mut conn, &filter).await?;
        let data = rows
            .into_iter()
            .map(|row| {
                let (space, tags, occupants) = row.into_parts();
                Space::from_row(space, tags, occupants)
            })
            .collect();
        Ok(DirectJson(Page::new(data, body.limit, body.offset, total)))
    }

    /// Get a space
    ///
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

    /// Update a space
    ///
    /// Change some of a space's fields: only the fields present in the body change.
    ///
    /// Permission: `UpdateRoom`. `422 validation` when the resulting layout combination or a
    /// tag is unknown.
    #[oai(path = "/spaces/:id/update", method = "post", operation_id = "update-space")]
    async fn update(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        id: Path<Uuid>,
        body: Json<UpdateSpaceRequest>,
    ) -> Result<Json<Space>, Problem> {
        let caller = &auth.0;
        caller.require(&UPDATE_ROOM)?;
        let changes = SpaceChanges::validate(body.0)?;

        let mut tx = ctx.db().begin().await?;
        // Locked for the transaction, so concurrent updates of one space serialize.
        let current = store::lock_space(&mut tx, caller.organization_id, id.0)
            .await?
            .ok_or_else(Problem::not_found)?;
        let next = changes.applied_to(&current);
        // The combination that results is checked only when it changes: the current one is
        // valid (a foreign key keeps it so).
        let new_layout = (next.layout != current.fields().layout).then_some(&next.layout);
        let tag_ids = changes.tag_ids.as_deref();
        check_references(
            &mut tx,
            caller.organization_id,
            new_layout,
            tag_ids.unwrap_or_default(),
        )
        .await?;
        save_changes(&mut tx, &current, &next, tag_ids).await?;
        let space = load(&mut tx, caller.organization_id, id.0).await?;
        qubital_audit::record(
            &mut tx,
            AuditEvent::by(caller, Action::SpaceUpdated, req)
                .target(Target::new("space", id.0).named(&space.name)),
        )
        .await?;
        tx.commit().await?;
        // The name may have changed (an update rewrites it): this process's cached spaces are
        // forgotten now, the others' at the trigger's notification.
        crate::cache::invalidate();
        Ok(Json(space))
    }

    /// Delete a space
    ///
    /// Delete a space of the caller's organization (its tags stay; its recordings keep
    /// existing without it).
    ///
    /// Permission: `DeleteRoom`.
    #[oai(path = "/spaces/:id/delete", method = "post", operation_id = "delete-space")]
    async fn delete(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        id: Path<Uuid>,
    ) -> Result<Deleted, Problem> {
        auth.0.require(&DELETE_ROOM)?;
        let mut tx = ctx.db().begin().await?;
        if !store::delete_space(&mut *tx, auth.0.organization_id, id.0).await? {
            return Err(Problem::not_found());
        }
        qubital_audit::record(
            &mut tx,
            AuditEvent::by(&auth.0, Action::SpaceDeleted, req).target(Target::new("space", id.0)),
        )
        .await?;
        tx.commit().await?;
        // No conference token for it from this process's cache from now on (the others are
        // told by the trigger's notification).
        crate::cache::invalidate();
        tracing::info!(space_id = %id.0, "space deleted");
        Ok(Deleted::NoContent)
    }
}

/// A create request, checked: trimmed text, distinct tags.
struct NewSpace {
    name: String,
    description: Option<String>,
    layout: String,
    dimension: String,
    style: String,
    tag_ids: Vec<Uuid>,
}

impl NewSpace {
    /// `422` for every field the schema cannot check (trimming, control characters).
    fn validate(body: CreateSpaceRequest) -> Result<Self, Problem> {
        let mut errors = Errors::default();
        let name = errors.check(validate::name("body.name", &body.name, NAME_MAX));
        let description = errors.check(
            body.description
                .as_deref()
                .map(|d| validate::description("body.description", d, DESCRIPTION_MAX))
                .transpose(),
        );
        errors.finish()?;
        Ok(Self {
            name: name.unwrap_or_default(),
            description: description.flatten().flatten(),
            layout: body.layout.into_string(),
            dimension: body.dimension.into_string(),
            style: body.style.into_string(),
            tag_ids: dedup(body.tag_ids.unwrap_or_default()),
        })
    }

    fn fields(&self) -> SpaceFields<'_> {
        SpaceFields {
            name: &self.name,
            description: self.description.as_deref(),
            layout: Layout {
                layout: &self.layout,
                dimension: &self.dimension,
                style: &self.style,
            },
        }
    }
}

/// An update request, checked. `None` is a field that was absent (unchanged).
struct SpaceChanges {
    name: Option<String>,
    /// `Some(None)`: cleared.
    description: Option<Option<String>>,
    layout: Option<String>,
    dimension: Option<String>,
    style: Option<String>,
    /// The space's tags from now on (distinct); `Some(empty)` removes them all.
    tag_ids: Option<Vec<Uuid>>,
}

impl SpaceChanges {
    /// `422` for a `null` the field does not allow and for what the schema cannot check.
    fn validate(body: UpdateSpaceRequest) -> Result<Self, Problem> {
        let mut errors = Errors::default();
        let name = body
            .name
            .as_deref()
            .and_then(|name| errors.check(validate::name("body.name", name, NAME_MAX)));
        let description = match &body.description {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(d) => {
                errors.check(validate::description("body.description", d, DESCRIPTION_MAX))
            }
        };
        let [layout, dimension, style] =
            [body.layout, body.dimension, body.style].map(|part| part.map(wire::Text::into_string));
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
        Ok(Self {
            name,
            description,
            layout,
            dimension,
            style,
            tag_ids,
        })
    }

    /// The space's fields once these changes are made to `current`.
    fn applied_to<'a>(&'a self, current: &'a SpaceRow) -> SpaceFields<'a> {
        SpaceFields {
            name: self.name.as_deref().unwrap_or(&current.name),
            description: match &self.description {
                Some(description) => description.as_deref(),
                None => current.description.as_deref(),
            },
            layout: Layout {
                layout: self.layout.as_deref().unwrap_or(&current.layout),
                dimension: self.dimension.as_deref().unwrap_or(&current.dimension),
                style: self.style.as_deref().unwrap_or(&current.style),
            },
        }
    }
}

/// `422` unless `layout` (when given) is a valid combination; `404` naming each tag of `tag_ids`
/// that is not one of the organization's. The tags are locked against deletion until the transaction ends, so
/// a concurrent tag delete cannot break the write that attaches them.
async fn check_references(
    conn: &mut sqlx::PgConnection,
    organization_id: i64,
    layout: Option<&Layout<'_>>,
    tag_ids: &[Uuid],
) -> Result<(), Problem> {
    if let Some(layout) = layout {
        if !store::is_valid_combination(conn, layout).await? {
            let Layout {
                layout,
                dimension,
                style,
            } = layout;
            let mut errors = Errors::default();
            errors.push(
                "body.layout",
                format!("`{layout}`/`{dimension}`/`{style}` is not a valid layout/dimension/style combination; see /space-layouts/list"),
            );
            return errors.finish();
        }
    }
    let found = store::lock_tags(conn, organization_id, tag_ids).await?;
    let unknown: Vec<FieldError> = tag_ids
        .iter()
        .enumerate()
        .filter(|(_, id)| !found.contains(id))
        .map(|(i, id)| {
            FieldError::new(
                format!("body.tagIds[{i}]"),
                format!("no tag {id} in this organization"),
            )
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Problem::not_found_at(unknown))
    }
}

/// Writes what differs from `current`: the fields, the tags (`None`: unchanged). `updatedAt`
/// moves only when something changed.
async fn save_changes(
    conn: &mut sqlx::PgConnection,
    current: &SpaceRow,
    next: &SpaceFields<'_>,
    tag_ids: Option<&[Uuid]>,
) -> Result<(), Problem> {
    let mut changed = *next != current.fields();
    if changed {
        store::update_space(conn, current.pk, next).await?;
    }
    if let Some(tag_ids) = tag_ids {
        changed |= store::set_tags(conn, current.pk, tag_ids).await?;
    }
    if changed {
        store::touch_space(conn, current.pk).await?;
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
