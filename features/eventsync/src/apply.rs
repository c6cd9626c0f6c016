//! The one code path that applies a WorkOS change to the mirror, whether it came from the event
//! stream, a webhook or a backfill.
//!
//! Rules: an object is written only when its WorkOS `updated_at` is newer than the stored one
//! (the identity feature's mirror decides); a delete leaves a tombstone so that an older event
//! arriving late cannot bring the object back; deleting what is not there is fine. Changes to
//! one object are serialised (an advisory lock on it), so a webhook and the stream applying
//! changes of the same object at once cannot interleave.

use chrono::{DateTime, Utc};
use qubital_auth::{directory, sessions, store::mirror};
use qubital_plugin::auth::Role;
use sqlx::PgConnection;

use crate::{
    objects::{self, Change, Event, MembershipObject, ObjectKind, OrganizationObject, UserObject},
    store,
};

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
    pub fn as_str(self) -> &'static str {
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
///
/// Locks are taken in one order everywhere — the WorkOS object first, then the event's inbox
/// row — because the follower applies a whole page in one transaction and so holds the locks
/// of several objects at once: a webhook waiting for one of them must not hold an inbox row
/// the page is about to claim (that would be a deadlock).
pub async fn apply_event(
    conn: &mut PgConnection,
    event: &Event,
    source: Source,
) -> anyhow::Result<Option<Outcome>> {
    let change = objects::change_of(&event.event, &event.data);
    if let Ok(Some(change)) = &change {
        let (kind, id) = change.object();
        store::lock_object(conn, kind, id).await?;
    }
    if !store::claim_event(conn, event, source).await? {
        return Ok(None);
    }
    let outcome = match change {
        Ok(Some(change)) => apply_locked(conn, &change, event.created_at).await?,
        Ok(None) => Outcome::Skipped,
        Err(error) => {
            tracing::warn!(event_id = %event.id, event_type = %event.event, %error, "event data is not what WorkOS documents; skipped");
            Outcome::Skipped
        }
    };
    // The claim recorded the event as skipped; only a different outcome needs writing.
    if outcome != Outcome::Skipped {
        store::record_outcome(conn, &event.id, outcome).await?;
    }
    Ok(Some(outcome))
}

/// Applies one change. `at` is when it happened (the event's time; a backfill's start). Run it
/// inside the caller's transaction: the object stays locked until it ends.
pub async fn apply_change(
    conn: &mut PgConnection,
    change: &Change,
    at: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
    let (kind, id) = change.object();
    store::lock_object(conn, kind, id).await?;
    apply_locked(conn, change, at).await
}

/// [`apply_change`] once the object's lock is held.
async fn apply_locked(
    conn: &mut PgConnection,
    change: &Change,
    at: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
    Ok(match change {
        Change::OrganizationUpserted(org) => upsert_organization(conn, org).await?,
        Change::OrganizationDeleted(org) => delete_organization(conn, org, at).await?,
        Change::UserUpserted(user) => upsert_user(conn, user).await?,
        Change::UserDeleted(user) => delete_user(conn, user, at).await?,
        Change::MembershipUpserted(membership) => upsert_membership(conn, membership).await?,
        Change::MembershipDeleted(membership) => delete_membership(conn, membership, at).await?,
    })
}

fn applied_if(changed: bool) -> Outcome {
    if changed {
        Outcome::Applied
    } else {
        Outcome::Stale
    }
}

async fn upsert_organization(conn: &mut PgConnection, org: &OrganizationObject) -> sqlx::Result<Outcome> {
    if store::deleted_since(conn, ObjectKind::Organization, &org.id, org.updated_at).await? {
        return Ok(Outcome::Stale);
    }
    let written = mirror::upsert_organization(conn, &org.id, &org.name, org.updated_at).await?;
    Ok(applied_if(written))
}

async fn delete_organization(
    conn: &mut PgConnection,
    org: &OrganizationObject,
    at: DateTime<Utc>,
) -> sqlx::Result<Outcome> {
    store::tombstone(conn, ObjectKind::Organization, &org.id, at.max(org.updated_at)).await?;
    Ok(applied_if(mirror::delete_organization(conn, &org.id).await?))
}

async fn upsert_user(conn: &mut PgConnection, user: &UserObject) -> sqlx::Result<Outcome> {
    if store::deleted_since(conn, ObjectKind::User, &user.id, user.updated_at).await? {
        return Ok(Outcome::Stale);
    }
    let written = mirror::upsert_user(
        conn,
        &user.id,
        &user.email,
        user.first_name.as_deref(),
        user.last_name.as_deref(),
        user.updated_at,
    )
    .await?;
    Ok(applied_if(written))
}

async fn delete_user(conn: &mut PgConnection, user: &UserObject, at: DateTime<Utc>) -> sqlx::Result<Outcome> {
    store::tombstone(conn, ObjectKind::User, &user.id, at.max(user.updated_at)).await?;
    // Sessions and memberships go with the user: access ends now.
    Ok(applied_if(mirror::delete_user(conn, &user.id).await?))
}

async fn upsert_membership(conn: &mut PgConnection, membership: &MembershipObject) -> sqlx::Result<Outcome> {
    let Some(key) = mirror::membership_key(conn, &membership.user_id, &membership.organization_id).await?
    else {
        // The stream is ordered, so the user and organization arrive first; a webhook can
        // outrun them, and the stream applies the membership later.
        return Ok(Outcome::Skipped);
    };
    if store::deleted_since(
        conn,
        ObjectKind::Membership,
        &membership.id,
        membership.updated_at,
    )
    .await?
    {
        return Ok(Outcome::Stale);
    }
    let role = membership
        .role
        .as_ref()
        .map(|r| directory::role_from_slug(&r.slug))
        .unwrap_or(Role::Member);
    // `pending` is mirrored as inactive: no access until WorkOS activates it.
    let active = membership.status == "active";
    let written =
        mirror::upsert_membership(conn, key, &membership.id, role, active, membership.updated_at).await?;
    if written && !active {
        sessions::end_membership_sessions(conn, key.user_id, key.org_id, "membership deactivated in WorkOS")
            .await?;
    }
    Ok(applied_if(written))
}

async fn delete_membership(
    conn: &mut PgConnection,
    membership: &MembershipObject,
    at: DateTime<Utc>,
) -> sqlx::Result<Outcome> {
    let at = at.max(membership.updated_at);
    store::tombstone(conn, ObjectKind::Membership, &membership.id, at).await?;
    let removed = mirror::delete_membership(
        conn,
        &membership.id,
        &membership.user_id,
        &membership.organization_id,
        at,
    )
    .await?;
    let Some(key) = removed else {
        return Ok(Outcome::Stale);
    };
    sessions::end_membership_sessions(conn, key.user_id, key.org_id, "membership removed in WorkOS").await?;
    Ok(Outcome::Applied)
}
