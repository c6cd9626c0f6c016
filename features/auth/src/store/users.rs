//! `users`: one row per person, mirrored from WorkOS (or local, made by the development sign-in).

use sqlx::PgExecutor;

/// Mirrors a WorkOS user (insert, or refresh email and names). Returns the internal id.
pub async fn upsert_from_workos<'e>(
    db: impl PgExecutor<'e>,
    user: &platform_workos::User,
) -> Result<i64, sqlx::Error> {
    // What the participant cache holds may change: see crate::session_cache.
    crate::session_cache::invalidate();
    sqlx::query_scalar(
        "INSERT INTO users (workos_id, email, first_name, last_name) VALUES ($1, $2, $3, $4)
         ON CONFLICT (workos_id) DO UPDATE
            SET email = EXCLUDED.email,
                first_name = COALESCE(EXCLUDED.first_name, users.first_name),
                last_name = COALESCE(EXCLUDED.last_name, users.last_name),
                updated_at = now()
         RETURNING id",
    )
    .bind(&user.id)
    .bind(&user.email)
    .bind(&user.first_name)
    .bind(&user.last_name)
    .fetch_one(db)
    .await
}

/// The local (development) user with this email, created if new: development users have no
/// WorkOS id and are found again by email, case-insensitively. Returns the internal id.
pub async fn upsert_local<'e>(db: impl PgExecutor<'e>, email: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO users (email) VALUES ($1)
         ON CONFLICT (lower(email)) WHERE workos_id IS NULL DO UPDATE SET updated_at = now()
         RETURNING id",
    )
    .bind(email)
    .fetch_one(db)
    .await
}

/// A user's global profile.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Profile {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

pub async fn profile<'e>(db: impl PgExecutor<'e>, user_id: i64) -> Result<Option<Profile>, sqlx::Error> {
    sqlx::query_as("SELECT email, first_name, last_name FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// The WorkOS id of a user, if they came from WorkOS.
pub async fn workos_id<'e>(db: impl PgExecutor<'e>, user_id: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT workos_id FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db)
        .await
        .map(Option::flatten)
}

/// A user's names and WorkOS id, as read before changing the names.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Names {
    pub workos_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// A user's WorkOS id and names.
pub async fn names<'e>(db: impl PgExecutor<'e>, user_id: i64) -> Result<Names, sqlx::Error> {
    sqlx::query_as("SELECT workos_id, first_name, last_name FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
}

/// Sets the names that are `Some` (`Some(None)`: cleared) and leaves the others as they are,
/// so two updates of different names never undo each other.
pub async fn set_name_fields<'e>(
    db: impl PgExecutor<'e>,
    user_id: i64,
    first_name: Option<Option<&str>>,
    last_name: Option<Option<&str>>,
) -> Result<(), sqlx::Error> {
    // What the participant cache holds may change: see crate::session_cache.
    crate::session_cache::invalidate();
    sqlx::query(
        "UPDATE users SET first_name = CASE WHEN $2 THEN $3 ELSE first_name END,
                          last_name = CASE WHEN $4 THEN $5 ELSE last_name END,
                          updated_at = now()
         WHERE id = $1",
    )
    .bind(user_id)
    .bind(first_name.is_some())
    .bind(first_name.flatten())
    .bind(last_name.is_some())
    .bind(last_name.flatten())
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_names<'e>(
    db: impl PgExecutor<'e>,
    user_id: i64,
    first_name: Option<&str>,
    last_name: Option<&str>,
) -> Result<(), sqlx::Error> {
    // What the participant cache holds may change: see crate::session_cache.
    crate::session_cache::invalidate();
    sqlx::query("UPDATE users SET first_name = $2, last_name = $3, updated_at = now() WHERE id = $1")
        .bind(user_id)
        .bind(first_name)
        .bind(last_name)
        .execute(db)
        .await?;
    Ok(())
}

/// Remembers the organization a user last acted in (where a sign-in that does not name one
/// returns).
pub async fn set_last_organization<'e>(
    db: impl PgExecutor<'e>,
    user_id: i64,
    org_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET last_organization_id = $2 WHERE id = $1")
        .bind(user_id)
        .bind(org_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Forgets `org_id` as the user's last organization (they left it).
pub async fn forget_last_organization<'e>(
    db: impl PgExecutor<'e>,
    user_id: i64,
    org_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET last_organization_id = NULL WHERE id = $1 AND last_organization_id = $2")
        .bind(user_id)
        .bind(org_id)
        .execute(db)
        .await?;
    Ok(())
}
