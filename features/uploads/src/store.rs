//! Every statement on `upload_tickets`.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// What a ticket is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The caller's avatar in their current organization.
    Avatar,
    /// The current organization's logo.
    Logo,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Avatar => "avatar",
            Kind::Logo => "logo",
        }
    }

    /// The folder of its temporary objects, under `tmp/`.
    pub fn tmp_prefix(self) -> &'static str {
        match self {
            Kind::Avatar => "tmp/avatars/",
            Kind::Logo => "tmp/logos/",
        }
    }
}

/// A ticket to insert.
#[derive(Debug)]
pub struct NewTicket<'a> {
    pub id: Uuid,
    pub kind: Kind,
    pub user_id: i64,
    pub org_id: i64,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert<'e>(db: impl PgExecutor<'e>, ticket: &NewTicket<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO upload_tickets (id, kind, user_id, org_id, content_type, size_bytes, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(ticket.id)
    .bind(ticket.kind.as_str())
    .bind(ticket.user_id)
    .bind(ticket.org_id)
    .bind(ticket.content_type)
    .bind(ticket.size_bytes)
    .bind(ticket.expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// A ticket waiting to be finalized.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Ticket {
    pub id: Uuid,
    pub size_bytes: i64,
    pub expires_at: DateTime<Utc>,
}

/// The ticket `id` of this kind, if `user_id` asked for it in `org_id` (expired or not).
pub async fn find<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
    kind: Kind,
    user_id: i64,
    org_id: i64,
) -> Result<Option<Ticket>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, size_bytes, expires_at FROM upload_tickets
         WHERE id = $1 AND kind = $2 AND user_id = $3 AND org_id = $4",
    )
    .bind(id)
    .bind(kind.as_str())
    .bind(user_id)
    .bind(org_id)
    .fetch_optional(db)
    .await
}

/// Uses the ticket up: `false` if it was gone already (a concurrent finalize won).
pub async fn consume<'e>(db: impl PgExecutor<'e>, id: Uuid) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM upload_tickets WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(deleted.rows_affected() == 1)
}
