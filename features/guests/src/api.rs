//! The guest operations (tag `Guests`), one `#[OpenApi]` type per resource: invitations
//! ([`invites`], moderators) and guests ([`guests`]: the guest's own join and status, without
//! a session, and the members' lobby). Here: the DTOs and checks they share.

mod guests;
mod invites;

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object, Tags};
use qubital_plugin::Problem;
use uuid::Uuid;

pub(crate) use guests::GuestsApi;
pub(crate) use invites::GuestInvitesApi;

use crate::{
    problems::{GUEST_INVITE_EXPIRED, GUEST_INVITE_REVOKED},
    store::{GuestRow, InviteRow},
};

#[derive(Tags)]
enum GuestsTag {
    /// People without an account, invited into one space for a limited time: invitations, the
    /// lobby, admission.
    Guests,
}

/// Who may admit the guests of an invitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum AdmitBy {
    /// Every member of the organization (role `member` and up).
    Anyone,
    /// Only the members listed in `admitterIds`.
    Named,
}

impl AdmitBy {
    fn as_str(self) -> &'static str {
        match self {
            AdmitBy::Anyone => "anyone",
            AdmitBy::Named => "named",
        }
    }

    fn from_row(value: &str) -> Self {
        if value == "named" {
            AdmitBy::Named
        } else {
            AdmitBy::Anyone
        }
    }
}

/// Whether an invitation can still be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum InviteStatus {
    Active,
    Expired,
    Revoked,
}

/// An invitation of guests into one space (its token is shown only when it is made).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct GuestInvite {
    pub id: Uuid,
    /// The one space its guests may join.
    pub space_id: Uuid,
    pub admit_by: AdmitBy,
    /// With `admitBy: named`, who may admit (user ids); empty otherwise.
    pub admitter_ids: Vec<String>,
    /// Who made it (a user id); null once that user is deleted.
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub status: InviteStatus,
}

impl From<InviteRow> for GuestInvite {
    fn from(row: InviteRow) -> Self {
        let status = match invite_state(row.revoked_at, row.expires_at) {
            Ok(()) => InviteStatus::Active,
            Err(InviteEnded::Revoked) => InviteStatus::Revoked,
            Err(InviteEnded::Expired) => InviteStatus::Expired,
        };
        Self {
            id: row.id,
            space_id: row.space_id,
            admit_by: AdmitBy::from_row(&row.admit_by),
            admitter_ids: row.admitter_ids.iter().map(i64::to_string).collect(),
            created_by: row.created_by.map(|id| id.to_string()),
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            status,
        }
    }
}

/// Where a guest is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum GuestStatus {
    /// In the lobby, until an allowed member admits or denies them.
    Waiting,
    Admitted,
    Denied,
}

impl GuestStatus {
    fn as_str(self) -> &'static str {
        match self {
            GuestStatus::Waiting => "waiting",
            GuestStatus::Admitted => "admitted",
            GuestStatus::Denied => "denied",
        }
    }

    fn from_row(value: &str) -> Self {
        match value {
            "admitted" => GuestStatus::Admitted,
            "denied" => GuestStatus::Denied,
            _ => GuestStatus::Waiting,
        }
    }
}

/// A guest, as the organization's members see them.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Guest {
    pub id: Uuid,
    /// The invitation they came with.
    pub invite_id: Uuid,
    /// The space they asked to join.
    pub space_id: Uuid,
    /// The name they gave (not verified).
    pub display_name: String,
    pub status: GuestStatus,
    /// When they knocked.
    pub created_at: DateTime<Utc>,
    /// Who admitted or denied them (a user id).
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Their invitation's expiry: their conference access ends then at the latest.
    pub expires_at: DateTime<Utc>,
}

impl From<GuestRow> for Guest {
    fn from(row: GuestRow) -> Self {
        Self {
            id: row.id,
            invite_id: row.invite_id,
            space_id: row.space_id,
            display_name: row.display_name,
            status: GuestStatus::from_row(&row.status),
            created_at: row.created_at,
            decided_by: row.decided_by.map(|id| id.to_string()),
            decided_at: row.decided_at,
            expires_at: row.expires_at,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum InviteEnded {
    Revoked,
    Expired,
}

/// Whether an invitation is still usable now: revoked first, then expired.
fn invite_state(revoked_at: Option<DateTime<Utc>>, expires_at: DateTime<Utc>) -> Result<(), InviteEnded> {
    if revoked_at.is_some() {
        Err(InviteEnded::Revoked)
    } else if expires_at <= Utc::now() {
        Err(InviteEnded::Expired)
    } else {
        Ok(())
    }
}

/// `410 guest-invite-revoked` or `410 guest-invite-expired` unless the invitation is usable.
fn require_live(revoked_at: Option<DateTime<Utc>>, expires_at: DateTime<Utc>) -> Result<(), Problem> {
    invite_state(revoked_at, expires_at).map_err(|ended| match ended {
        InviteEnded::Revoked => Problem::new(&GUEST_INVITE_REVOKED),
        InviteEnded::Expired => Problem::new(&GUEST_INVITE_EXPIRED),
    })
}

/// A guest's identity in the conference: never a user id.
fn conference_identity(guest_id: Uuid) -> String {
    format!("guest:{guest_id}")
}
