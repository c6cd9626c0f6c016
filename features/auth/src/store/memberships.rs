//! `user_organizations`: who is a member of which organization, with which role, and their
//! per-organization profile (display name, avatar).

use super::users::Profile;
use qubital_plugin::{auth::Role, list::window_total};
use sqlx::{PgConnection, PgExecutor};

/// The role of `user_id` in `org_id`, if they are an active member.
pub async fn role<'e>(
    db: impl PgExecutor<'e>,
    user_id: i64,
    org_id: i64,
) -> Result<Option<Role>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT role FROM user_organizations WHERE user_id = $1 AND org_id = $2 AND status = 'active'",
    )
    .bind(user_id)
    .bind(org_id)
    .fetch_optional(db)
    .await
}

/// Whether the user WorkOS knows as `workos_user_id` is an active member of `org_id` here.
pub async fn is_member_by_workos_id<'e>(
    db: impl PgExecutor<'e>,
    workos_user_id: &str,
    org_id: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM user_organizations m JOIN users u ON u.id = m.user_id
                        WHERE u.workos_id = $1 AND m.org_id = $2 AND m.status = 'active')",
    )
    .bind(workos_user_id)
    .bind(org_id)
    .fetch_one(db)
    .await
}

/// The roles of those of `users` who are active members of `org_id`.
pub async fn roles(
    conn: &mut PgConnection,
    org_id: i64,
    users: &[i64],
) -> Result<std::collections::HashMap<i64, Role>, sqlx::Error> {
    let rows: Vec<(i64, Role)> = sqlx::query_as(
        "SELECT user_id, role FROM user_organizations \
         WHERE org_id = $1 AND user_id = ANY($2) AND status = 'active'",
    )
    .bind(org_id)
    .bind(users)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Adds (or re-activates) a membership. An existing membership keeps its role unless
/// `overwrite_role`. Returns the role it has now.
pub async fn upsert<'e>(
    db: impl PgExecutor<'e>,
    user_id: i64,
    org_id: i64,
    role: Role,
    workos_membership_id: Option<&str>,
    overwrite_role: bool,
) -> Result<Role, sqlx::Error> {
    // What the session cache holds may change: see crate::session_cache.
    crate::session_cache::invalidate();
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
    .fetch_one(db)
    .await
}

/// One of a user's active memberships, with its organization.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OfUser {
    pub org_id: i64,
    pub public_id: String,
    pub name: String,
    pub logo_url: Option<String>,
    pub role: Role,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
}

/// A user's active memberships, ordered by organization name.
pub async fn of_user<'e>(db: impl PgExecutor<'e>, user_id: i64) -> Result<Vec<OfUser>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.id AS org_id, o.public_id, o.name, o.logo_url, m.role, m.display_name, m.avatar_url
         FROM user_organizations m JOIN organizations o ON o.id = m.org_id
         WHERE m.user_id = $1 AND m.status = 'active'
         ORDER BY lower(o.name), o.id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// The query of [`profile_and_memberships`], with `manual_status` (an SQL expression of the
/// user `$1` and the organization `$2`, from the presence feature) as its last column.
pub fn profile_and_memberships_sql(manual_status: &str) -> String {
    format!(
        "SELECT u.email, u.first_name, u.last_name,
                o.id AS org_id, o.public_id, o.name, o.logo_url, m.role, m.display_name, m.avatar_url,
                {manual_status} AS manual_status
         FROM users u
         LEFT JOIN user_organizations m ON m.user_id = u.id AND m.status = 'active'
         LEFT JOIN organizations o ON o.id = m.org_id
         WHERE u.id = $1
         ORDER BY lower(o.name), o.id"
    )
}

/// A user's profile, their active memberships (ordered as [`of_user`]) and their manual status
/// in `org_id`, in one query (`query` is [`profile_and_memberships_sql`]). `None`: no such user.
pub async fn profile_and_memberships<'e>(
    db: impl PgExecutor<'e>,
    query: &str,
    user_id: i64,
    org_id: i64,
) -> Result<Option<(Profile, Vec<OfUser>, Option<String>)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        profile: Profile,
        org_id: Option<i64>,
        public_id: Option<String>,
        name: Option<String>,
        logo_url: Option<String>,
        role: Option<Role>,
        display_name: Option<String>,
        avatar_url: Option<String>,
        manual_status: Option<String>,
    }
    let rows: Vec<Row> = sqlx::query_as(query)
        .bind(user_id)
        .bind(org_id)
        .fetch_all(db)
        .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let (profile, manual_status) = (first.profile.clone(), first.manual_status.clone());
    let memberships = rows
        .into_iter()
        .filter_map(|row| {
            Some(OfUser {
                org_id: row.org_id?,
                public_id: row.public_id?,
                name: row.name?,
                logo_url: row.logo_url,
                role: row.role?,
                display_name: row.display_name,
                avatar_url: row.avatar_url,
            })
        })
        .collect();
    Ok(Some((profile, memberships, manual_status)))
}

/// The organization a user returns to when none is named: their last one if they are still an
/// active member there, else their oldest membership.
pub async fn usual_organization<'e>(
    db: impl PgExecutor<'e>,
    user_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT m.org_id FROM user_organizations m JOIN users u ON u.id = m.user_id
         WHERE m.user_id = $1 AND m.status = 'active'
         ORDER BY (m.org_id = u.last_organization_id) DESC, m.created_at LIMIT 1",
    )
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// Whether the organization has any active member.
pub async fn any_active<'e>(db: impl PgExecutor<'e>, org_id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM user_organizations WHERE org_id = $1 AND status = 'active')",
    )
    .bind(org_id)
    .fetch_one(db)
    .await
}

/// Whether an active member of the organization has this email (case-insensitively).
pub async fn any_with_email<'e>(
    db: impl PgExecutor<'e>,
    org_id: i64,
    email: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM user_organizations m JOIN users u ON u.id = m.user_id
                        WHERE m.org_id = $1 AND m.status = 'active' AND lower(u.email) = lower($2))",
    )
    .bind(org_id)
    .bind(email)
    .fetch_one(db)
    .await
}

/// Sets (or, with `None`, clears) the user's display name in an organization.
pub async fn set_display_name<'e>(
    db: impl PgExecutor<'e>,
    user_id: i64,
    org_id: i64,
    display_name: Option<&str>,
) -> Result<(), sqlx::Error> {
    // What the participant cache holds may change: see crate::session_cache.
    crate::session_cache::invalidate();
    sqlx::query(
        "UPDATE user_organizations SET display_name = $3, updated_at = now()
         WHERE user_id = $1 AND org_id = $2",
    )
    .bind(user_id)
    .bind(org_id)
    .bind(display_name)
    .execute(db)
    .await?;
    Ok(())
}

/// Sets (or, with `None`, clears) the user's avatar URL in an organization, and returns the URL
/// it replaces (`None`: they are not an active member there). The membership is locked until
/// the caller's transaction ends, so two changes serialise and each sees the other's URL.
pub async fn set_avatar_url(
    conn: &mut PgConnection,
    user_id: i64,
    org_id: i64,
    avatar_url: Option<&str>,
) -> Result<Option<Option<String>>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH old AS (
            SELECT avatar_url FROM user_organizations
            WHERE user_id = $1 AND org_id = $2 AND status = 'active' FOR UPDATE)
         UPDATE user_organizations m SET avatar_url = $3, updated_at = now() FROM old
         WHERE m.user_id = $1 AND m.org_id = $2
         RETURNING old.avatar_url",
    )
    .bind(user_id)
    .bind(org_id)
    .bind(avatar_url)
    .fetch_optional(conn)
    .await
}

/// A member of an organization: the membership with its user.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Member {
    pub user_id: i64,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub workos_id: Option<String>,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    pub role: Role,
    pub workos_membership_id: Option<String>,
}

const MEMBER_COLUMNS: &str = "u.id AS user_id, u.email, u.first_name, u.last_name, u.workos_id,
     m.display_name, m.avatar_url, m.role, m.workos_membership_id";

/// Active members of `org_id` matching `pattern` (an `ILIKE` pattern built by
/// `qubital_plugin::list::contains_pattern`) on the email or the shown name; any when `None`.
const MEMBER_FILTER: &str = "m.org_id = $1 AND m.status = 'active'
     AND ($2::text IS NULL
          OR u.email ILIKE $2
          OR m.display_name ILIKE $2
          OR (COALESCE(m.display_name, '') = '' AND concat_ws(' ', u.first_name, u.last_name) ILIKE $2))";

/// A page of [`page`]: members, each with the value of the caller's extra column.
pub struct MemberPage {
    pub members: Vec<(Member, Option<String>)>,
    /// How many members match in all.
    pub total: i64,
}

/// A page of the members matching `pattern`, ordered by the name shown (display name, full name,
/// email), then id, with how many match in all — one query on the common path (a second only
/// for a page past the end). Each member comes with `extra`, an SQL expression of text of the
/// membership `m` (`m.user_id`, `m.org_id`; another feature's, such as presence's effective
/// status, which this crate cannot name), or `NULL`.
pub async fn page(
    conn: &mut PgConnection,
    org_id: i64,
    pattern: Option<&str>,
    limit: i64,
    offset: i64,
    extra: &str,
) -> Result<MemberPage, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        member: Member,
        extra: Option<String>,
        total: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {MEMBER_COLUMNS}, {extra} AS extra, count(*) OVER () AS total
         FROM user_organizations m JOIN users u ON u.id = m.user_id
         WHERE {MEMBER_FILTER}
         ORDER BY lower(COALESCE(NULLIF(m.display_name, ''),
                                 NULLIF(concat_ws(' ', u.first_name, u.last_name), ''),
                                 u.email)), u.id
         LIMIT $3 OFFSET $4"
    ))
    .bind(org_id)
    .bind(pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    let total = window_total(rows.first().map(|r| r.total), offset, || async {
        let count_sql =
            format!("SELECT count(*) FROM user_organizations m JOIN users u ON u.id = m.user_id WHERE {MEMBER_FILTER}");
        sqlx::query_scalar(&count_sql)
            .bind(org_id)
            .bind(pattern)
            .fetch_one(&mut *conn)
            .await
    })
    .await?;
    Ok(MemberPage {
        members: rows.into_iter().map(|row| (row.member, row.extra)).collect(),
        total,
    })
}

/// The active member `user_id` of `org_id` (read without a lock).
pub async fn member<'e>(
    db: impl PgExecutor<'e>,
    org_id: i64,
    user_id: i64,
) -> Result<Option<Member>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MEMBER_COLUMNS} FROM user_organizations m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = $1 AND m.user_id = $2 AND m.status = 'active'"
    ))
    .bind(org_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// What a member is shown as in a conference: their names, email, the membership's display
/// name and the organization's public id (one query).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ParticipantRow {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub organization_public_id: String,
}

/// [`ParticipantRow`] of `user_id` in `org_id`, when they are an active member there.
pub async fn participant<'e>(
    db: impl PgExecutor<'e>,
    org_id: i64,
    user_id: i64,
) -> Result<Option<ParticipantRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.email, u.first_name, u.last_name, m.display_name, o.public_id AS organization_public_id
         FROM user_organizations m
         JOIN users u ON u.id = m.user_id
         JOIN organizations o ON o.id = m.org_id
         WHERE m.org_id = $1 AND m.user_id = $2 AND m.status = 'active'",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// The active admins of `org_id` (read without a lock; [`lock_admins`] locks them).
pub async fn admins<'e>(db: impl PgExecutor<'e>, org_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT user_id FROM user_organizations
         WHERE org_id = $1 AND role = 'admin' AND status = 'active' ORDER BY user_id",
    )
    .bind(org_id)
    .fetch_all(db)
    .await
}

/// Records the WorkOS membership id of a membership (one made again in WorkOS).
pub async fn set_workos_membership_id<'e>(
    db: impl PgExecutor<'e>,
    org_id: i64,
    user_id: i64,
    workos_membership_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE user_organizations SET workos_membership_id = $3, updated_at = now()
         WHERE org_id = $1 AND user_id = $2",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(workos_membership_id)
    .execute(db)
    .await?;
    Ok(())
}

/// The active member `user_id` of `org_id`, their membership locked until the caller's
/// transaction ends.
pub async fn lock_member(
    conn: &mut PgConnection,
    org_id: i64,
    user_id: i64,
) -> Result<Option<Member>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MEMBER_COLUMNS} FROM user_organizations m JOIN users u ON u.id = m.user_id
         WHERE m.org_id = $1 AND m.user_id = $2 AND m.status = 'active' FOR UPDATE OF m"
    ))
    .bind(org_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

/// Changes a member's role; the member as they are now.
pub async fn set_role<'e>(
    db: impl PgExecutor<'e>,
    org_id: i64,
    user_id: i64,
    role: Role,
) -> Result<Member, sqlx::Error> {
    // What the session cache holds may change: see crate::session_cache.
    crate::session_cache::invalidate();
    sqlx::query_as(&format!(
        "WITH updated AS (
            UPDATE user_organizations SET role = $3, updated_at = now()
            WHERE org_id = $1 AND user_id = $2
            RETURNING *)
         SELECT {MEMBER_COLUMNS} FROM updated m JOIN users u ON u.id = m.user_id"
    ))
    .bind(org_id)
    .bind(user_id)
    .bind(role)
    .fetch_one(db)
    .await
}

/// The organization's admins, locked in id order until the caller's transaction ends (so two
/// admins demoting each other serialise, and cannot both succeed).
pub async fn lock_admins(conn: &mut PgConnection, org_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT user_id FROM user_organizations
         WHERE org_id = $1 AND role = 'admin' AND status = 'active'
         ORDER BY user_id FOR UPDATE",
    )
    .bind(org_id)
    .fetch_all(conn)
    .await
}

/// Ends a membership: the row goes, and the organization stops being the user's last one.
/// (Their sessions in it are `sessions::end_membership_sessions`'s to end.) The organization's
/// invite link is retired too (a new one is minted when an admin next asks for it), so the
/// removed member cannot walk back in through the link they joined with.
pub async fn remove(conn: &mut PgConnection, org_id: i64, user_id: i64) -> Result<(), sqlx::Error> {
    // What the session cache holds may change: see crate::session_cache.
    crate::session_cache::invalidate();
    let removed = sqlx::query("DELETE FROM user_organizations WHERE org_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    if removed.rows_affected() > 0 {
        super::organizations::retire_invite_id(&mut *conn, org_id).await?;
    }
    super::users::forget_last_organization(conn, user_id, org_id).await
}
