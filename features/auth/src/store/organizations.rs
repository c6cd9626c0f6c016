//! `organizations`: mirrored from WorkOS, or local (development sign-in, WorkOS disabled).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

/// A new random public id (the organization's id on the wire; never the WorkOS id).
pub fn new_public_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A local organization row: what sign-in, switching and joining need.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Organization {
    pub id: i64,
    pub public_id: String,
    pub name: String,
    pub workos_org_id: Option<String>,
}

const COLUMNS: &str = "id, public_id, name, workos_org_id";

impl Organization {
    pub async fn by_id<'e>(db: impl PgExecutor<'e>, id: i64) -> Result<Option<Self>, sqlx::Error> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM organizations WHERE id = $1"))
            .bind(id)
            .fetch_optional(db)
            .await
    }

    pub async fn by_public_id<'e>(
        db: impl PgExecutor<'e>,
        public_id: &str,
    ) -> Result<Option<Self>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM organizations WHERE public_id = $1"
        ))
        .bind(public_id)
        .fetch_optional(db)
        .await
    }

    pub async fn by_workos_id<'e>(
        db: impl PgExecutor<'e>,
        workos_org_id: &str,
    ) -> Result<Option<Self>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM organizations WHERE workos_org_id = $1"
        ))
        .bind(workos_org_id)
        .fetch_optional(db)
        .await
    }

    /// Mirrors a WorkOS organization (insert, or refresh its name).
    pub async fn upsert_from_workos(
        conn: &mut PgConnection,
        workos_org_id: &str,
        name: &str,
        initialized: bool,
    ) -> Result<Self, sqlx::Error> {
        sqlx::query_as(&format!(
            "INSERT INTO organizations (public_id, name, workos_org_id, initialized)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (workos_org_id) DO UPDATE
                SET name = EXCLUDED.name,
                    initialized = organizations.initialized OR EXCLUDED.initialized,
                    updated_at = CASE WHEN organizations.name = EXCLUDED.name
                                      THEN organizations.updated_at ELSE now() END
             RETURNING {COLUMNS}"
        ))
        .bind(new_public_id())
        .bind(name)
        .bind(workos_org_id)
        .bind(initialized)
        .fetch_one(conn)
        .await
    }

    /// A local-only organization (development, or WorkOS disabled).
    pub async fn insert_local(conn: &mut PgConnection, name: &str) -> Result<Self, sqlx::Error> {
        sqlx::query_as(&format!(
            "INSERT INTO organizations (public_id, name, initialized) VALUES ($1, $2, true)
             RETURNING {COLUMNS}"
        ))
        .bind(new_public_id())
        .bind(name)
        .fetch_one(conn)
        .await
    }
}

/// Retires the organization's invite link: the next [`invite_id`] mints a new one.
pub async fn retire_invite_id<'e>(db: impl PgExecutor<'e>, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE organizations SET invite_id = NULL, updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The organization whose invite link is `invite_id`.
pub async fn by_invite_id<'e>(
    db: impl PgExecutor<'e>,
    invite_id: &str,
) -> Result<Option<Organization>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM organizations WHERE invite_id = $1"
    ))
    .bind(invite_id)
    .fetch_optional(db)
    .await
}

/// The oldest organization named `name` (case-insensitively), locked until the caller's
/// transaction ends.
pub async fn lock_by_name(conn: &mut PgConnection, name: &str) -> Result<Option<Organization>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM organizations WHERE lower(name) = lower($1) ORDER BY id LIMIT 1 FOR UPDATE"
    ))
    .bind(name)
    .fetch_optional(conn)
    .await
}

/// Locks an organization row until the caller's transaction ends (serialises joins).
pub async fn lock(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT id FROM organizations WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// An organization as its members see it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Details {
    pub id: i64,
    pub public_id: String,
    pub name: String,
    pub logo_url: Option<String>,
    /// Whether an admin completed its setup (created it here, or updated it).
    pub initialized: bool,
    pub created_at: DateTime<Utc>,
    pub workos_org_id: Option<String>,
}

const DETAILS: &str = "id, public_id, name, logo_url, initialized, created_at, workos_org_id";

/// The organization `id`, if its public id is `public_id` (optionally locked until the caller's
/// transaction ends). A caller passes its current organization, so another one is never found.
pub async fn details(
    conn: &mut PgConnection,
    id: i64,
    public_id: &str,
    for_update: bool,
) -> Result<Option<Details>, sqlx::Error> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!(
        "SELECT {DETAILS} FROM organizations WHERE id = $1 AND public_id = $2{lock}"
    ))
    .bind(id)
    .bind(public_id)
    .fetch_optional(conn)
    .await
}

/// Renames an organization and marks it initialized.
pub async fn rename<'e>(
    db: impl PgExecutor<'e>,
    id: i64,
    name: &str,
) -> Result<Option<Details>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE organizations SET name = $2, initialized = true, updated_at = now() WHERE id = $1
         RETURNING {DETAILS}"
    ))
    .bind(id)
    .bind(name)
    .fetch_optional(db)
    .await
}

/// Sets (or, with `None`, clears) an organization's logo URL. (Lock the row first with
/// [`details`] to learn the URL it replaces.)
pub async fn set_logo_url<'e>(
    db: impl PgExecutor<'e>,
    id: i64,
    logo_url: Option<&str>,
) -> Result<Details, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE organizations SET logo_url = $2, updated_at = now() WHERE id = $1 RETURNING {DETAILS}"
    ))
    .bind(id)
    .bind(logo_url)
    .fetch_one(db)
    .await
}

/// The WorkOS id of an organization (`None`: local only), optionally locking the row until the
/// caller's transaction ends.
pub async fn workos_org_id(
    conn: &mut PgConnection,
    id: i64,
    for_update: bool,
) -> Result<Option<String>, sqlx::Error> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    sqlx::query_scalar(&format!(
        "SELECT workos_org_id FROM organizations WHERE id = $1{lock}"
    ))
    .bind(id)
    .fetch_one(conn)
    .await
}

/// The organization's invite link id; `candidate` becomes it if it has none yet.
pub async fn invite_id<'e>(db: impl PgExecutor<'e>, id: i64, candidate: &str) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE organizations SET invite_id = COALESCE(invite_id, $2) WHERE id = $1 RETURNING invite_id",
    )
    .bind(id)
    .bind(candidate)
    .fetch_one(db)
    .await
}

/// Replaces the organization's invite link id (the old one stops working).
pub async fn replace_invite_id<'e>(
    db: impl PgExecutor<'e>,
    id: i64,
    invite_id: &str,
) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE organizations SET invite_id = $2, updated_at = now() WHERE id = $1 RETURNING invite_id",
    )
    .bind(id)
    .bind(invite_id)
    .fetch_one(db)
    .await
}

/// The public ids of the organizations among `ids` that exist, `(id, public id)`.
pub async fn public_ids(conn: &mut PgConnection, ids: &[i64]) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, public_id FROM organizations WHERE id = ANY($1)")
        .bind(ids)
        .fetch_all(conn)
        .await
}
