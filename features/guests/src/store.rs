//! Every SQL statement of the guests feature: `guest_invites` and `guests`. Organization-scoped
//! functions take the organization id and filter on it.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// An invitation as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct InviteRow {
    pub id: Uuid,
    pub org_id: i64,
    pub space_id: Uuid,
    pub created_by: Option<i64>,
    /// `anyone` or `named`.
    pub admit_by: String,
    pub admitter_ids: Vec<i64>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const INVITE_COLUMNS: &str =
    "id, org_id, space_id, created_by, admit_by, admitter_ids, created_at, expires_at, revoked_at";

pub(crate) struct NewInvite<'a> {
    pub id: Uuid,
    pub org_id: i64,
    pub room_id: i64,
    pub space_id: Uuid,
    pub created_by: i64,
    pub admit_by: &'a str,
    pub admitter_ids: &'a [i64],
    pub duration_seconds: i64,
}

/// Records an invitation expiring `duration_seconds` from now (whole seconds).
pub(crate) async fn insert_invite<'e>(
    db: impl PgExecutor<'e>,
    new: &NewInvite<'_>,
) -> Result<InviteRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO guest_invites
             (id, org_id, room_id, space_id, created_by, admit_by, admitter_ids, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7,
                 date_trunc('second', now()) + make_interval(secs => $8))
         RETURNING {INVITE_COLUMNS}"
    ))
    .bind(new.id)
    .bind(new.org_id)
    .bind(new.room_id)
    .bind(new.space_id)
    .bind(new.created_by)
    .bind(new.admit_by)
    .bind(new.admitter_ids)
    .bind(new.duration_seconds as f64)
    .fetch_one(db)
    .await
}

/// The invitation `id`, in whichever organization (the token named it; no caller is signed in).
pub(crate) async fn find_invite<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
) -> Result<Option<InviteRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INVITE_COLUMNS} FROM guest_invites WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// A page of the organization's invitations (optionally of one space), newest first, and how
/// many there are.
pub(crate) async fn list_invites(
    conn: &mut PgConnection,
    org_id: i64,
    space_id: Option<Uuid>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<InviteRow>, i64), sqlx::Error> {
    let rows = sqlx::query_as(&format!(
        "SELECT {INVITE_COLUMNS} FROM guest_invites
         WHERE org_id = $1 AND ($2::uuid IS NULL OR space_id = $2)
         ORDER BY created_at DESC, id
         LIMIT $3 OFFSET $4"
    ))
    .bind(org_id)
    .bind(space_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    let total = sqlx::query_scalar(
        "SELECT count(*) FROM guest_invites WHERE org_id = $1 AND ($2::uuid IS NULL OR space_id = $2)",
    )
    .bind(org_id)
    .bind(space_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((rows, total))
}

/// Revokes the invitation `id` of `org_id`: the invitation, and whether this call revoked it
/// (`false`: it was revoked already, and keeps its first revocation time); `None` when the
/// organization has no such invitation.
pub(crate) async fn revoke_invite(
    conn: &mut PgConnection,
    org_id: i64,
    id: Uuid,
) -> Result<Option<(InviteRow, bool)>, sqlx::Error> {
    let revoked: Option<InviteRow> = sqlx::query_as(&format!(
        "UPDATE guest_invites SET revoked_at = now()
         WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL
         RETURNING {INVITE_COLUMNS}"
    ))
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = revoked {
        return Ok(Some((row, true)));
    }
    let row: Option<InviteRow> = sqlx::query_as(&format!(
        "SELECT {INVITE_COLUMNS} FROM guest_invites WHERE org_id = $1 AND id = $2"
    ))
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|row| (row, false)))
}

/// A guest with what its invitation says.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct GuestRow {
    pub id: Uuid,
    pub invite_id: Uuid,
    pub space_id: Uuid,
    pub display_name: String,
    pub secret_hash: Vec<u8>,
    /// `waiting`, `admitted` or `denied`.
    pub status: String,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub admit_by: String,
    pub admitter_ids: Vec<i64>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const GUEST_SELECT: &str = "SELECT g.id, g.invite_id, i.space_id, g.display_name, g.secret_hash,
            g.status, g.decided_by, g.decided_at, g.created_at, i.admit_by, i.admitter_ids,
            i.expires_at, i.revoked_at
     FROM guests g JOIN guest_invites i ON i.id = g.invite_id";

pub(crate) struct NewGuest<'a> {
    pub id: Uuid,
    pub invite: &'a InviteRow,
    pub display_name: &'a str,
    pub secret_hash: &'a [u8],
}

/// Records a guest waiting in the lobby of `invite`'s space.
pub(crate) async fn insert_guest(
    conn: &mut PgConnection,
    new: &NewGuest<'_>,
) -> Result<GuestRow, sqlx::Error> {
    sqlx::query(
        "INSERT INTO guests (id, invite_id, org_id, display_name, secret_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new.id)
    .bind(new.invite.id)
    .bind(new.invite.org_id)
    .bind(new.display_name)
    .bind(new.secret_hash)
    .bind(new.invite.expires_at)
    .execute(&mut *conn)
    .await?;
    sqlx::query_as(&format!("{GUEST_SELECT} WHERE g.id = $1"))
        .bind(new.id)
        .fetch_one(&mut *conn)
        .await
}

/// The guest `id`, in whichever organization (the guest itself asks, proving its secret).
pub(crate) async fn find_guest<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
) -> Result<Option<GuestRow>, sqlx::Error> {
    sqlx::query_as(&format!("{GUEST_SELECT} WHERE g.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The guest `id` of `org_id`, locked until the transaction ends (so two admitters decide once).
pub(crate) async fn lock_guest(
    conn: &mut PgConnection,
    org_id: i64,
    id: Uuid,
) -> Result<Option<GuestRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{GUEST_SELECT} WHERE g.org_id = $1 AND g.id = $2 FOR UPDATE OF g"
    ))
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Records the decision on a waiting guest (`admitted` or `denied`) by `by`.
pub(crate) async fn decide(
    conn: &mut PgConnection,
    id: Uuid,
    status: &str,
    by: i64,
) -> Result<GuestRow, sqlx::Error> {
    sqlx::query(
        "UPDATE guests SET status = $2, decided_by = $3, decided_at = now()
         WHERE id = $1 AND status = 'waiting'",
    )
    .bind(id)
    .bind(status)
    .bind(by)
    .execute(&mut *conn)
    .await?;
    sqlx::query_as(&format!("{GUEST_SELECT} WHERE g.id = $1"))
        .bind(id)
        .fetch_one(&mut *conn)
        .await
}

/// A page of the organization's guests (optionally of one space, in one status), oldest
/// first (the lobby's order), and how many there are. Only guests of live invitations.
pub(crate) async fn list_guests(
    conn: &mut PgConnection,
    org_id: i64,
    space_id: Option<Uuid>,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<GuestRow>, i64), sqlx::Error> {
    const FILTER: &str = "g.org_id = $1 AND ($2::uuid IS NULL OR i.space_id = $2)
         AND ($3::text IS NULL OR g.status = $3)
         AND i.revoked_at IS NULL AND i.expires_at > now()";
    let rows = sqlx::query_as(&format!(
        "{GUEST_SELECT} WHERE {FILTER} ORDER BY g.created_at, g.id LIMIT $4 OFFSET $5"
    ))
    .bind(org_id)
    .bind(space_id)
    .bind(status)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    let total = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM guests g JOIN guest_invites i ON i.id = g.invite_id WHERE {FILTER}"
    ))
    .bind(org_id)
    .bind(space_id)
    .bind(status)
    .fetch_one(&mut *conn)
    .await?;
    Ok((rows, total))
}

/// The admitted guests of the invitation `invite_id` (to disconnect when it is revoked).
pub(crate) async fn admitted_guests<'e>(
    db: impl PgExecutor<'e>,
    invite_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM guests WHERE invite_id = $1 AND status = 'admitted'")
        .bind(invite_id)
        .fetch_all(db)
        .await
}
