//! What a WorkOS event (or a backfilled object) changes in the mirror, parsed leniently from
//! WorkOS's JSON: only the fields the mirror keeps are read.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The event types the follower asks for.
pub const FOLLOWED_TYPES: &[&str] = &[
    "organization.created",
    "organization.updated",
    "organization.deleted",
    "user.created",
    "user.updated",
    "user.deleted",
    "organization_membership.created",
    "organization_membership.updated",
    "organization_membership.deleted",
];

#[derive(Clone, Debug, Deserialize)]
pub struct OrganizationObject {
    pub id: String,
    pub name: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct UserObject {
    pub id: String,
    pub email: String,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RoleRef {
    pub slug: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct MembershipObject {
    pub id: String,
    pub user_id: String,
    pub organization_id: String,
    #[serde(default)]
    pub role: Option<RoleRef>,
    /// `active`, `inactive` or `pending`.
    pub status: String,
    pub updated_at: DateTime<Utc>,
}

/// A change to the mirror.
#[derive(Clone, Debug)]
pub enum Change {
    OrganizationUpserted(OrganizationObject),
    OrganizationDeleted(OrganizationObject),
    UserUpserted(UserObject),
    UserDeleted(UserObject),
    MembershipUpserted(MembershipObject),
    MembershipDeleted(MembershipObject),
}

/// The kinds of WorkOS object the mirror keeps, as `workos_tombstones.object_type` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    Organization,
    User,
    Membership,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Organization => "organization",
            ObjectKind::User => "user",
            ObjectKind::Membership => "organization_membership",
        }
    }
}

impl Change {
    /// The object changed: its kind and WorkOS id.
    pub fn object(&self) -> (ObjectKind, &str) {
        match self {
            Change::OrganizationUpserted(o) | Change::OrganizationDeleted(o) => {
                (ObjectKind::Organization, &o.id)
            }
            Change::UserUpserted(u) | Change::UserDeleted(u) => (ObjectKind::User, &u.id),
            Change::MembershipUpserted(m) | Change::MembershipDeleted(m) => (ObjectKind::Membership, &m.id),
        }
    }
}

/// The change an event of type `event_type` carrying `data` makes; `Ok(None)` for a type the
/// mirror does not follow.
pub fn change_of(event_type: &str, data: &serde_json::Value) -> Result<Option<Change>, serde_json::Error> {
    Ok(Some(match event_type {
        "organization.created" | "organization.updated" => {
            Change::OrganizationUpserted(serde_json::from_value(data.clone())?)
        }
        "organization.deleted" => Change::OrganizationDeleted(serde_json::from_value(data.clone())?),
        "user.created" | "user.updated" => Change::UserUpserted(serde_json::from_value(data.clone())?),
        "user.deleted" => Change::UserDeleted(serde_json::from_value(data.clone())?),
        "organization_membership.created" | "organization_membership.updated" => {
            Change::MembershipUpserted(serde_json::from_value(data.clone())?)
        }
        "organization_membership.deleted" => Change::MembershipDeleted(serde_json::from_value(data.clone())?),
        _ => return Ok(None),
    }))
}

/// An event, from the stream or a webhook.
#[derive(Clone, Debug, Deserialize)]
pub struct Event {
    pub id: String,
    pub event: String,
    pub created_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

impl TryFrom<platform_workos::events::Event> for Event {
    type Error = chrono::ParseError;

    fn try_from(event: platform_workos::events::Event) -> Result<Self, Self::Error> {
        Ok(Self {
            created_at: DateTime::parse_from_rfc3339(&event.created_at)?.with_timezone(&Utc),
            id: event.id,
            event: event.event,
            data: event.data,
        })
    }
}
