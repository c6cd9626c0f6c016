//! The local mirror of who exists: users, organizations and memberships, and the User DTO
//! every sign-in returns.

use poem_openapi::Object;
use qubital_plugin::{auth::Role, Problem};
use sqlx::{PgConnection, Row};

/// An organization the user belongs to, as listed in the User DTO.
#[derive(Clone, Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct OrganizationRef {
    /// The organization's public id.
    pub id: String,
    pub name: String,
    pub logo_url: Option<String>,
}

#[derive(Clone, Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct OrganizationMembership {
    pub organization: OrganizationRef,
    pub role: Role,
}

/// The signed-in user ("me"): returned by every sign-in, by `/user/get` and by organization
/// create/switch.
#[derive(Clone, Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct User {
    /// Stringified internal user id (the same id as `Member.id`).
    pub id: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// The display name in the current organization (falls back to the full name, then to the
    /// email's local part).
    pub display_name: String,
    /// The avatar in the current organization, if any.
    pub avatar_url: Option<String>,
    /// Public id of the organization the session acts in.
    pub current_organization_id: String,
    pub organization_memberships: Vec<OrganizationMembership>,
}

/// The display name shown when a member has not chosen one.
pub fn fallback_display_name(first: Option<&str>, last: Option<&str>, email: &str) -> String {
    let full = [first, last]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if full.is_empty() {
        email.split('@').next().unwrap_or(email).to_owned()
    } else {
        full
    }
}

/// Builds the User DTO of `user_id` acting in `org_id`.
pub async fn load_user(conn: &mut PgConnection, user_id: i64, org_id: i64) -> Result<User, Problem> {
    let user = sqlx::query("SELECT email, first_name, last_name FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(Problem::unauthorized)?;
    let email: String = user.get("email");
    let first_name: Option<String> = user.get("first_name");
    let last_name: Option<String> = user.get("last_name");
    let rows = sqlx::query(
        "SELECT o.id, o.public_id, o.name, o.logo_url, m.role, m.display_name, m.avatar_url
         FROM user_organizations m JOIN organizations o ON o.id = m.org_id
         WHERE m.user_id = $1 AND m.status = 'active'
         ORDER BY lower(o.name), o.id",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut current = None;
    let mut memberships = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.get("id");
        let public_id: String = row.get("public_id");
        if id == org_id {
            current = Some((
                public_id.clone(),
                row.get::<Option<String>, _>("display_name"),
                row.get::<Option<String>, _>("avatar_url"),
            ));
        }
        memberships.push(OrganizationMembership {
            organization: OrganizationRef {
                id: public_id,
                name: row.get("name"),
                logo_url: row.get("logo_url"),
            },
            role: row.get("role"),
        });
    }
    let Some((current_organization_id, display_name, avatar_url)) = current else {
        return Err(Problem::unauthorized().with_detail("You are no longer a member of this organization."));
    };
    let display_name = display_name
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| fallback_display_name(first_name.as_deref(), last_name.as_deref(), &email));
    Ok(User {
        id: user_id.to_string(),
        email,
        first_name,
        last_name,
        display_name,
        avatar_url,
        current_organization_id,
        organization_memberships: memberships,
    })
}

/// A local organization row.
#[derive(Clone, Debug)]
pub struct Organization {
    pub id: i64,
    pub public_id: String,
    pub name: String,
    pub workos_org_id: Option<String>,
}

pub fn new_public_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Organization {
    fn from_row(row: &sqlx::postgres::PgRow) -> Self {
        Self {
            id: row.get("id"),
            public_id: row.get("public_id"),
            name: row.get("name"),
            workos_org_id: row.get("workos_org_id"),
        }
    }

    pub async fn by_id(conn: &mut PgConnection, id: i64) -> Result<Option<Self>, sqlx::Error> {
        let row = sqlx::query("SELECT id, public_id, name, workos_org_id FROM organizations WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?;
        Ok(row.as_ref().map(Self::from_row))
    }

    pub async fn by_public_id(conn: &mut PgConnection, public_id: &str) -> Result<Option<Self>, sqlx::Error> {
        let row =
            sqlx::query("SELECT id, public_id, name, workos_org_id FROM organizations WHERE public_id = $1")
                .bind(public_id)
                .fetch_optional(conn)
                .await?;
        Ok(row.as_ref().map(Self::from_row))
    }

    pub async fn by_workos_id(
        conn: &mut PgConnection,
        workos_org_id: &str,
    ) -> Result<Option<Self>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, public_id, name, workos_org_id FROM organizations WHERE workos_org_id = $1",
        )
        .bind(workos_org_id)
        .fetch_optional(conn)
        .await?;
        Ok(row.as_ref().map(Self::from_row))
    }

    /// Mirrors a WorkOS organization (insert, or refresh its name).
    pub async fn upsert_from_workos(
        conn: &mut PgConnection,
        workos_org_id: &str,
        name: &str,
        initialized: bool,
    ) -> Result<Self, sqlx::Error> {
        let row = sqlx::query(
            "INSERT INTO organizations (public_id, name, workos_org_id, initialized)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (workos_org_id) DO UPDATE
                SET name = EXCLUDED.name,
                    initialized = organizations.initialized OR EXCLUDED.initialized,
                    updated_at = CASE WHEN organizations.name = EXCLUDED.name
                                      THEN organizations.updated_at ELSE now() END
             RETURNING id, public_id, name, workos_org_id",
        )
        .bind(new_public_id())
        .bind(name)
        .bind(workos_org_id)
        .bind(initialized)
        .fetch_one(conn)
        .await?;
        Ok(Self::from_row(&row))
    }

    /// A local-only organization (development, or WorkOS disabled).
    pub async fn insert_local(conn: &mut PgConnection, name: &str) -> Result<Self, sqlx::Error> {
        let row = sqlx::query(
            "INSERT INTO organizations (public_id, name, initialized) VALUES ($1, $2, true)
             RETURNING id, public_id, name, workos_org_id",
        )
        .bind(new_public_id())
        .bind(name)
        .fetch_one(conn)
        .await?;
        Ok(Self::from_row(&row))
    }
}

/// Mirrors a WorkOS user (insert, or refresh email and names). Returns the internal id.
pub async fn upsert_workos_user(
    conn: &mut PgConnection,
    user: &platform_workos::User,
) -> Result<i64, sqlx::Error> {
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
    .fetch_one(conn)
    .await
}

/// The role of `user_id` in `org_id`, if they are an active member.
pub async fn membership_role(
    conn: &mut PgConnection,
    user_id: i64,
    org_id: i64,
) -> Result<Option<Role>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT role FROM user_organizations WHERE user_id = $1 AND org_id = $2 AND status = 'active'",
    )
    .bind(user_id)
    .bind(org_id)
    .fetch_optional(conn)
    .await
}

/// Adds (or re-activates) a membership. An existing membership keeps its role unless
/// `overwrite_role`.
pub async fn upsert_membership(
    conn: &mut PgConnection,
    user_id: i64,
    org_id: i64,
    role: Role,
    workos_membership_id: Option<&str>,
    overwrite_role: bool,
) -> Result<Role, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO user_organizations (user_id, org_id, role, workos_membership_id)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, org_id) DO UPDATE
            SET status = 'active',
                role = CASE WHEN $5 THEN EXCLUDED.role ELSE user_organizations.role END,
                workos_membership_id = COALESCE(EXCLUDED.workos_membership_id, user_organizations.workos_membership_id),
                updated_at = now()
         RETURNING role",
    )
    .bind(user_id)
    .bind(org_id)
    .bind(role)
    .bind(workos_membership_id)
    .bind(overwrite_role)
    .fetch_one(conn)
    .await
}

/// A WorkOS role slug as a role; unknown slugs are members.
pub fn role_from_slug(slug: &str) -> Role {
    Role::parse(slug).unwrap_or(Role::Member)
}

/// The WorkOS id of a user, if they came from WorkOS.
pub async fn workos_user_id(conn: &mut PgConnection, user_id: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT workos_id FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(conn)
        .await
        .map(Option::flatten)
}

/// The public ids of the organizations among `ids` that exist, `(id, public id)`, in one query:
/// for features that keep per-organization numbers by internal id and label them by public id
/// (conference usage).
pub async fn organization_public_ids(
    conn: &mut PgConnection,
    ids: &[i64],
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, public_id FROM organizations WHERE id = ANY($1)")
        .bind(ids)
        .fetch_all(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_fall_back_to_the_full_name_then_the_email() {
        assert_eq!(
            fallback_display_name(Some("Ada"), Some("Lovelace"), "a@x.io"),
            "Ada Lovelace"
        );
        assert_eq!(fallback_display_name(Some(" "), None, "ada@x.io"), "ada");
        assert_eq!(fallback_display_name(None, Some("L"), "ada@x.io"), "L");
        assert_eq!(role_from_slug("moderator"), Role::Moderator);
        assert_eq!(role_from_slug("owner"), Role::Member);
    }
}
