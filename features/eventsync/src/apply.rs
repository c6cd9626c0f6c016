//! The one code path that applies a WorkOS change to the mirror, whether it came from the event
//! stream, a webhook or a backfill.
//!
//! Rules: an object is written only when its WorkOS `updated_at` is newer than the stored one;
//! a delete leaves a tombstone so that an older event arriving late cannot bring the object
//! back; deleting what is not there is fine. Every statement is a single upsert/delete, safe
//! against a webhook and the stream applying the same object at once.

use chrono::{DateTime, Utc};
use qubital_auth::{directory, sessions};
use qubital_plugin::auth::Role;
use sqlx::PgConnection;

use crate::objects::{Change, Event, MembershipObject, OrganizationObject, UserObject};

/// What applying a change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// The mirror already holds this version or a newer one.
    Stale,
    /// Nothing to apply: an unknown event type, or a membership of a user or organization the
    /// mirror does not know (yet).
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Stale => "stale",
            Outcome::Skipped => "skipped",
        }
    }
}

/// Where an event came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Stream,
    Webhook,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Stream => "stream",
            Source::Webhook => "webhook",
        }
    }
}

/// Applies `event` once: `Ok(None)` when this event id was already applied or found stale (by
/// either source). An event that was *skipped* is tried again when it comes back: a webhook
/// can deliver a membership before its user or organization exist, and the ordered stream
/// then brings the same event id after them. Run it inside the caller's transaction (the
/// inbox row is locked until it commits, so the two sources never apply one event at once).
pub async fn apply_event(
    conn: &mut PgConnection,
    event: &Event,
    source: Source,
) -> anyhow::Result<Option<Outcome>> {
    let first_time = sqlx::query(
        "INSERT INTO event_inbox (event_id, event_type, source, outcome, occurred_at)
         VALUES ($1, $2, $3, 'skipped', $4)
         ON CONFLICT (event_id) DO UPDATE SET source = EXCLUDED.source
             WHERE event_inbox.outcome = 'skipped'",
    )
    .bind(&event.id)
    .bind(&event.event)
    .bind(source.as_str())
    .bind(event.created_at)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if !first_time {
        return Ok(None);
    }
    let outcome = match crate::objects::change_of(&event.event, &event.data) {
        Ok(Some(change)) => apply_change(conn, &change, event.created_at).await?,
        Ok(None) => Outcome::Skipped,
        Err(error) => {
            tracing::warn!(event_id = %event.id, event_type = %event.event, %error, "event data is not what WorkOS documents; skipped");
            Outcome::Skipped
        }
    };
    sqlx::query("UPDATE event_inbox SET outcome = $2 WHERE event_id = $1")
        .bind(&event.id)
        .bind(outcome.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(Some(outcome))
}

/// Applies one change. `at` is when it happened (the event's time; a backfill's start).
pub async fn apply_change(
    conn: &mut PgConnection,
    change: &Change,
    at: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
    Ok(match change {
        Change::OrganizationUpserted(org) => upsert_organization(conn, org).await?,
        Change::OrganizationDeleted(org) => {
            tombstone(conn, "organization", &org.id, at.max(org.updated_at)).await?;
            let deleted = sqlx::query("DELETE FROM organizations WHERE workos_org_id = $1")
                .bind(&org.id)
                .execute(&mut *conn)
                .await?;
            applied_if(deleted.rows_affected() > 0)
        }
        Change::UserUpserted(user) => upsert_user(conn, user).await?,
        Change::UserDeleted(user) => {
            tombstone(conn, "user", &user.id, at.max(user.updated_at)).await?;
            // Sessions and memberships go with the user (ON DELETE CASCADE): access ends now.
            let deleted = sqlx::query("DELETE FROM users WHERE workos_id = $1")
                .bind(&user.id)
                .execute(&mut *conn)
                .await?;
            applied_if(deleted.rows_affected() > 0)
        }
        Change::MembershipUpserted(membership) => upsert_membership(conn, membership).await?,
        Change::MembershipDeleted(membership) => {
            tombstone(
                conn,
                "organization_membership",
                &membership.id,
                at.max(membership.updated_at),
            )
            .await?;
            // The membership by its id; or, for a membership made here without a WorkOS id, the
            // same user and organization if nothing newer was written since. Never a row that
            // carries another WorkOS membership: that is a newer membership a late delete of
            // an older one must not remove.
            let removed: Option<(i64, i64)> = sqlx::query_as(
                "DELETE FROM user_organizations m USING users u, organizations o
                 WHERE m.user_id = u.id AND m.org_id = o.id
                   AND (m.workos_membership_id = $1
                        OR (m.workos_membership_id IS NULL AND u.workos_id = $2 AND o.workos_org_id = $3
                            AND (m.workos_updated_at IS NULL OR m.workos_updated_at <= $4)))
                 RETURNING m.user_id, m.org_id",
            )
            .bind(&membership.id)
            .bind(&membership.user_id)
            .bind(&membership.organization_id)
            .bind(at.max(membership.updated_at))
            .fetch_optional(&mut *conn)
            .await?;
            match removed {
                Some((user_id, org_id)) => {
                    sessions::end_membership_sessions(conn, user_id, org_id, "membership removed in WorkOS")
                        .await?;
                    Outcome::Applied
                }
                None => Outcome::Stale,
            }
        }
    })
}

fn applied_if(changed: bool) -> Outcome {
    if changed {
        Outcome::Applied
    } else {
        Outcome::Stale
    }
}

async fn tombstone(
    conn: &mut PgConnection,
    object_type: &str,
    id: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO workos_tombstones (object_type, workos_id, deleted_at) VALUES ($1, $2, $3)
         ON CONFLICT (object_type, workos_id) DO UPDATE SET deleted_at = GREATEST(workos_tombstones.deleted_at, EXCLUDED.deleted_at)",
    )
    .bind(object_type)
    .bind(id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// `NOT EXISTS` clause: the object was not deleted at or after `$updated_at`.
const NOT_DELETED: &str =
    "NOT EXISTS (SELECT 1 FROM workos_tombstones t WHERE t.object_type = $TYPE AND t.workos_id = $ID AND t.deleted_at >= $UPDATED)";

async fn upsert_organization(conn: &mut PgConnection, org: &OrganizationObject) -> sqlx::Result<Outcome> {
    let sql = format!(
        "INSERT INTO organizations (public_id, name, workos_org_id, workos_updated_at, initialized)
         SELECT $4, $2, $1, $3, true WHERE {}
         ON CONFLICT (workos_org_id) DO UPDATE
           SET name = EXCLUDED.name, workos_updated_at = EXCLUDED.workos_updated_at, updated_at = now()
           WHERE organizations.workos_updated_at IS NULL OR organizations.workos_updated_at < EXCLUDED.workos_updated_at
         RETURNING id",
        NOT_DELETED.replace("$TYPE", "'organization'").replace("$ID", "$1").replace("$UPDATED", "$3")
    );
    let written: Option<i64> = sqlx::query_scalar(&sql)
        .bind(&org.id)
        .bind(&org.name)
        .bind(org.updated_at)
        .bind(directory::new_public_id())
        .fetch_optional(conn)
        .await?;
    Ok(applied_if(written.is_some()))
}

async fn upsert_user(conn: &mut PgConnection, user: &UserObject) -> sqlx::Result<Outcome> {
    let sql = format!(
        "INSERT INTO users (workos_id, email, first_name, last_name, workos_updated_at)
         SELECT $1, $2, $3, $4, $5 WHERE {}
         ON CONFLICT (workos_id) DO UPDATE
           SET email = EXCLUDED.email, first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,
               workos_updated_at = EXCLUDED.workos_updated_at, updated_at = now()
           WHERE users.workos_updated_at IS NULL OR users.workos_updated_at < EXCLUDED.workos_updated_at
         RETURNING id",
        NOT_DELETED
            .replace("$TYPE", "'user'")
            .replace("$ID", "$1")
            .replace("$UPDATED", "$5")
    );
    let written: Option<i64> = sqlx::query_scalar(&sql)
        .bind(&user.id)
        .bind(&user.email)
        .bind(user.first_name.as_deref().filter(|s| !s.is_empty()))
        .bind(user.last_name.as_deref().filter(|s| !s.is_empty()))
        .bind(user.updated_at)
        .fetch_optional(conn)
        .await?;
    Ok(applied_if(written.is_some()))
}

async fn upsert_membership(conn: &mut PgConnection, membership: &MembershipObject) -> sqlx::Result<Outcome> {
    let ids: Option<(i64, i64)> = sqlx::query_as(
        "SELECT u.id, o.id FROM users u, organizations o WHERE u.workos_id = $1 AND o.workos_org_id = $2",
    )
    .bind(&membership.user_id)
    .bind(&membership.organization_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((user_id, org_id)) = ids else {
        // The stream is ordered, so the user and organization arrive first; a webhook can
        // outrun them, and the stream applies the membership later.
        return Ok(Outcome::Skipped);
    };
    let role: Role = membership
        .role
        .as_ref()
        .map(|r| directory::role_from_slug(&r.slug))
        .unwrap_or(Role::Member);
    let status = if membership.status == "active" {
        "active"
    } else {
        "inactive"
    };
    let sql = format!(
        "INSERT INTO user_organizations (user_id, org_id, role, status, workos_membership_id, workos_updated_at)
         SELECT $1, $2, $3, $4, $5, $6 WHERE {}
         ON CONFLICT (user_id, org_id) DO UPDATE
           SET role = EXCLUDED.role, status = EXCLUDED.status, workos_membership_id = EXCLUDED.workos_membership_id,
               workos_updated_at = EXCLUDED.workos_updated_at, updated_at = now()
           WHERE user_organizations.workos_updated_at IS NULL OR user_organizations.workos_updated_at < EXCLUDED.workos_updated_at
         RETURNING status",
        NOT_DELETED.replace("$TYPE", "'organization_membership'").replace("$ID", "$5").replace("$UPDATED", "$6")
    );
    let written: Option<String> = sqlx::query_scalar(&sql)
        .bind(user_id)
        .bind(org_id)
        .bind(role.as_str())
        .bind(status)
        .bind(&membership.id)
        .bind(membership.updated_at)
        .fetch_optional(&mut *conn)
        .await?;
    if written.as_deref() == Some("inactive") {
        sessions::end_membership_sessions(conn, user_id, org_id, "membership deactivated in WorkOS").await?;
    }
    Ok(applied_if(written.is_some()))
}
