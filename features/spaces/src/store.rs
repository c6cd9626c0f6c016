//! Every SQL statement of the spaces feature: `rooms`, `valid_room_combinations`, tags here,
//! `space_occupants` in [`occupancy`]. Every organization-scoped function takes the
//! organization id and filters on it.

pub(crate) mod occupancy;

use chrono::{DateTime, Utc};
use qubital_plugin::list::window_total;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// What other features need to know about a space.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SpaceRef {
    /// Internal id of the space (what other features' rows reference, e.g. a recording's
    /// `room_id`).
    pub internal_id: i64,
    /// The wire id (also the conference room name).
    pub id: Uuid,
    /// Internal id of the owning organization.
    pub organization_id: i64,
    pub name: String,
}

const SPACE_REF_COLUMNS: &str = "id AS internal_id, room_id AS id, org_id AS organization_id, name";

/// The space `id` if it belongs to `organization_id`. Use this for anything a caller asks.
pub async fn find_in_organization<'e>(
    db: impl PgExecutor<'e>,
    organization_id: i64,
    id: Uuid,
) -> Result<Option<SpaceRef>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SPACE_REF_COLUMNS} FROM rooms WHERE org_id = $1 AND room_id = $2"
    ))
    .bind(organization_id)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The space `id` in whichever organization owns it. Only for trusted service callers (the
/// Worker-facing endpoints), which then check membership themselves.
pub async fn find<'e>(db: impl PgExecutor<'e>, id: Uuid) -> Result<Option<SpaceRef>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SPACE_REF_COLUMNS} FROM rooms WHERE room_id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct SpaceRow {
    pub pk: i64,
    pub room_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub layout: String,
    pub dimension: String,
    pub style: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The fields of a space a client writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpaceFields<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub layout: Layout<'a>,
}

/// A layout/dimension/style combination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout<'a> {
    pub layout: &'a str,
    pub dimension: &'a str,
    pub style: &'a str,
}

impl SpaceRow {
    pub fn fields(&self) -> SpaceFields<'_> {
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

const SPACE_COLUMNS: &str =
    "id AS pk, room_id, name, description, layout, dimension, style, created_at, updated_at";

/// The space `id` of `organization_id`, locked (`FOR UPDATE`) until the transaction ends, so
/// concurrent updates of one space serialize.
pub(crate) async fn lock_space(
    conn: &mut PgConnection,
    organization_id: i64,
    id: Uuid,
) -> Result<Option<SpaceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SPACE_COLUMNS} FROM rooms WHERE org_id = $1 AND room_id = $2 FOR UPDATE"
    ))
    .bind(organization_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// A new space `id` of `organization_id`. Returns its internal id.
pub(crate) async fn insert_space(
    conn: &mut PgConnection,
    organization_id: i64,
    id: Uuid,
    fields: &SpaceFields<'_>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO rooms (room_id, org_id, name, description, layout, dimension, style)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(id)
    .bind(organization_id)
    .bind(fields.name)
    .bind(fields.description)
    .bind(fields.layout.layout)
    .bind(fields.layout.dimension)
    .bind(fields.layout.style)
    .fetch_one(conn)
    .await
}

/// Writes a space's fields (not `updated_at`: see [`touch_space`]).
pub(crate) async fn update_space(
    conn: &mut PgConnection,
    space_pk: i64,
    fields: &SpaceFields<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE rooms SET name = $2, description = $3, layout = $4, dimension = $5, style = $6
         WHERE id = $1",
    )
    .bind(space_pk)
    .bind(fields.name)
    .bind(fields.description)
    .bind(fields.layout.layout)
    .bind(fields.layout.dimension)
    .bind(fields.layout.style)
    .execute(conn)
    .await?;
    Ok(())
}

/// Something about the space changed (its fields or its tags): `updated_at` moves.
pub(crate) async fn touch_space(conn: &mut PgConnection, space_pk: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE rooms SET updated_at = now() WHERE id = $1")
        .bind(space_pk)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the space `id` of `organization_id`. Returns whether there was one.
pub(crate) async fn delete_space<'e>(
    db: impl PgExecutor<'e>,
    organization_id: i64,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM rooms WHERE org_id = $1 AND room_id = $2")
            .bind(organization_id)
            .bind(id)
            .execute(db)
            .await?
            .rows_affected()
            > 0,
    )
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct TagRow {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A space with its tags (ordered by name) and the users in its conference now (in joining
/// order), read in one query.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct TaggedSpaceRow {
    #[sqlx(flatten)]
    pub space: SpaceRow,
    /// `(id, name, created_at)` records, from [`TAGS_OF_S`].
    pub tags: Vec<(Uuid, String, DateTime<Utc>)>,
    pub occupant_ids: Vec<i64>,
}

impl TaggedSpaceRow {
    pub fn into_parts(self) -> (SpaceRow, Vec<TagRow>, Vec<i64>) {
        let tags = self
            .tags
            .into_iter()
            .map(|(id, name, created_at)| TagRow { id, name, created_at })
            .collect();
        (self.space, tags, self.occupant_ids)
    }
}

// Both are `ARRAY(subquery)` columns rather than `LEFT JOIN LATERAL`s of ordered `array_agg`s:
// one sort per space instead of one per aggregate, and no join node; the list query costs
// Postgres about a quarter less (measured with pgbench on the list's SQL, docs/performance.md).

/// The tags of the space `s.pk`, as `(id, name, created_at)` records ordered by name.
const TAGS_OF_S: &str = "ARRAY(
        SELECT ROW(t.id, t.name, t.created_at)
        FROM room_tag_assignments a JOIN room_tags t ON t.id = a.tag_id
        WHERE a.room_id = s.pk ORDER BY lower(t.name), t.id) AS tags";

/// The users present in the conference of the space `s.pk` (the occupancy the conference
/// service reports, see [`occupancy`]), in joining order.
const OCCUPANTS_OF_S: &str = "ARRAY(
        SELECT o.user_id FROM space_occupants o
        WHERE o.room_id = s.pk AND o.present AND o.user_id IS NOT NULL
        ORDER BY o.joined_at, o.user_id) AS occupant_ids";

/// The space `id` of `organization_id` with its tags and occupants.
pub(crate) async fn tagged_space(
    conn: &mut PgConnection,
    organization_id: i64,
    id: Uuid,
) -> Result<Option<TaggedSpaceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT s.*, {TAGS_OF_S}, {OCCUPANTS_OF_S}
         FROM (SELECT {SPACE_COLUMNS} FROM rooms WHERE org_id = $1 AND room_id = $2) s"
    ))
    .bind(organization_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Whether `layout` is one of the server-authored combinations.
pub(crate) async fn is_valid_combination(
    conn: &mut PgConnection,
    layout: &Layout<'_>,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM valid_room_combinations
                        WHERE layout = $1 AND dimension = $2 AND style = $3)",
    )
    .bind(layout.layout)
    .bind(layout.dimension)
    .bind(layout.style)
    .fetch_one(conn)
    .await
}

/// One page of the server-authored combinations (in their seeded order), and how many there
/// are: `(layout, dimension, style)`.
pub(crate) async fn list_layouts(
    conn: &mut PgConnection,
    limit: i64,
    offset: i64,
) -> Result<(Vec<(String, String, String)>, i64), sqlx::Error> {
    let rows = sqlx::query_as(
        "SELECT layout, dimension, style FROM valid_room_combinations
         ORDER BY position, layout, dimension, style LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    let total = sqlx::query_scalar("SELECT count(*) FROM valid_room_combinations")
        .fetch_one(&mut *conn)
        .await?;
    Ok((rows, total))
}

/// One page of the tags of `organization_id` (by name), and how many it has.
pub(crate) async fn list_tags(
    conn: &mut PgConnection,
    organization_id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<TagRow>, i64), sqlx::Error> {
    let rows = sqlx::query_as(
        "SELECT id, name, created_at FROM room_tags WHERE org_id = $1
         ORDER BY lower(name), id LIMIT $2 OFFSET $3",
    )
    .bind(organization_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    let total = sqlx::query_scalar("SELECT count(*) FROM room_tags WHERE org_id = $1")
        .bind(organization_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok((rows, total))
}

/// A new tag `name` of `organization_id`; `None` when the organization has a tag of that name
/// already (ignoring case: a unique index).
pub(crate) async fn insert_tag<'e>(
    db: impl PgExecutor<'e>,
    organization_id: i64,
    name: &str,
) -> Result<Option<TagRow>, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO room_tags (id, org_id, name) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING RETURNING id, name, created_at",
    )
    .bind(Uuid::new_v4())
    .bind(organization_id)
    .bind(name)
    .fetch_optional(db)
    .await
}

/// Deletes the tag `id` of `organization_id` (spaces carrying it lose it). Returns whether
/// there was one.
pub(crate) async fn delete_tag<'e>(
    db: impl PgExecutor<'e>,
    organization_id: i64,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM room_tags WHERE org_id = $1 AND id = $2")
        .bind(organization_id)
        .bind(id)
        .execute(db)
        .await?
        .rows_affected()
        > 0)
}

/// The ids among `ids` that are tags of `organization_id`, locked against deletion until the
/// transaction ends.
pub(crate) async fn lock_tags(
    conn: &mut PgConnection,
    organization_id: i64,
    ids: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar("SELECT id FROM room_tags WHERE org_id = $1 AND id = ANY($2) FOR KEY SHARE")
        .bind(organization_id)
        .bind(ids)
        .fetch_all(conn)
        .await
}

/// Replaces the tags of a space. Returns whether the set changed.
pub(crate) async fn set_tags(
    conn: &mut PgConnection,
    space_pk: i64,
    ids: &[Uuid],
) -> Result<bool, sqlx::Error> {
    let removed =
        sqlx::query("DELETE FROM room_tag_assignments WHERE room_id = $1 AND NOT (tag_id = ANY($2))")
            .bind(space_pk)
            .bind(ids)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    let added = sqlx::query(
        "INSERT INTO room_tag_assignments (room_id, tag_id)
         SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING",
    )
    .bind(space_pk)
    .bind(ids)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(removed + added > 0)
}

/// How a space list is ordered; ties are broken by id, in the same direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpaceOrder {
    Name,
    CreatedAt,
}

/// What a space list selects.
pub(crate) struct SpaceFilter<'a> {
    pub organization_id: i64,
    pub name_contains: Option<&'a str>,
    /// Spaces carrying every one of these tags.
    pub tag_ids: &'a [Uuid],
    pub order: SpaceOrder,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
}

impl SpaceFilter<'_> {
    fn order_by(&self) -> &'static str {
        match (self.order, self.descending) {
            (SpaceOrder::Name, false) => "lower(name) ASC, room_id ASC",
            (SpaceOrder::Name, true) => "lower(name) DESC, room_id DESC",
            (SpaceOrder::CreatedAt, false) => "created_at ASC, room_id ASC",
            (SpaceOrder::CreatedAt, true) => "created_at DESC, room_id DESC",
        }
    }
}

const FILTER: &str = "org_id = $1
      AND ($2::text IS NULL OR strpos(lower(name), lower($2)) > 0)
      AND (cardinality($3::uuid[]) = 0 OR id IN (
            SELECT a.room_id FROM room_tag_assignments a JOIN room_tags t ON t.id = a.tag_id
            WHERE t.org_id = $1 AND a.tag_id = ANY($3)
            GROUP BY a.room_id HAVING count(*) = cardinality($3::uuid[])))";

#[derive(sqlx::FromRow)]
struct ListedRow {
    #[sqlx(flatten)]
    row: TaggedSpaceRow,
    total: i64,
}

/// One page of spaces (with their tags) and the number of spaces matching the filter, in one
/// query (a second one only for a page past the end).
pub(crate) async fn list_spaces(
    conn: &mut PgConnection,
    filter: &SpaceFilter<'_>,
) -> Result<(Vec<TaggedSpaceRow>, i64), sqlx::Error> {
    let order_by = filter.order_by();
    let rows: Vec<ListedRow> = sqlx::query_as(&format!(
        "SELECT s.*, {TAGS_OF_S}, {OCCUPANTS_OF_S} FROM (
            SELECT {SPACE_COLUMNS}, count(*) OVER () AS total FROM rooms WHERE {FILTER}
            ORDER BY {order_by} LIMIT $4 OFFSET $5) s
         ORDER BY {order_by}"
    ))
    .bind(filter.organization_id)
    .bind(filter.name_contains)
    .bind(filter.tag_ids)
    .bind(filter.limit)
    .bind(filter.offset)
    .fetch_all(&mut *conn)
    .await?;
    let total = window_total(rows.first().map(|r| r.total), filter.offset, || async {
        let count_sql = format!("SELECT count(*) FROM rooms WHERE {FILTER}");
        sqlx::query_scalar(&count_sql)
            .bind(filter.organization_id)
            .bind(filter.name_contains)
            .bind(filter.tag_ids)
            .fetch_one(&mut *conn)
            .await
    })
    .await?;
    Ok((rows.into_iter().map(|r| r.row).collect(), total))
}
