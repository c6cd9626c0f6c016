//! What an audit event is, and [`record`]: the one call every administrative change makes, in
//! its own transaction.

use poem::Request;
use poem_openapi::Enum;
use qubital_plugin::{auth::Caller, request::ClientIp};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store;

/// What happened. The wire value (`member.role_updated`) is also the WorkOS Audit Logs action,
/// so each must be configured there (see `docs/audit-logs.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Enum)]
#[oai(rename = "AuditAction")]
pub enum Action {
    /// A member's role changed.
    #[oai(rename = "member.role_updated")]
    MemberRoleUpdated,
    /// A member was removed from the organization.
    #[oai(rename = "member.removed")]
    MemberRemoved,
    /// An invitation was sent.
    #[oai(rename = "invitation.created")]
    InvitationCreated,
    /// A pending invitation was revoked.
    #[oai(rename = "invitation.revoked")]
    InvitationRevoked,
    /// An invitation was accepted (by its invitee, the actor).
    #[oai(rename = "invitation.accepted")]
    InvitationAccepted,
    /// The organization's invite link was replaced.
    #[oai(rename = "invite_link.rotated")]
    InviteLinkRotated,
    /// The organization was renamed.
    #[oai(rename = "organization.updated")]
    OrganizationUpdated,
    /// The organization's logo was set.
    #[oai(rename = "organization.logo_updated")]
    OrganizationLogoUpdated,
    /// The organization's logo was removed.
    #[oai(rename = "organization.logo_removed")]
    OrganizationLogoRemoved,
    /// A space was created.
    #[oai(rename = "space.created")]
    SpaceCreated,
    /// A space's fields changed.
    #[oai(rename = "space.updated")]
    SpaceUpdated,
    /// A space was deleted.
    #[oai(rename = "space.deleted")]
    SpaceDeleted,
    /// A space tag was created.
    #[oai(rename = "space_tag.created")]
    SpaceTagCreated,
    /// A space tag was deleted.
    #[oai(rename = "space_tag.deleted")]
    SpaceTagDeleted,
    /// A recording started.
    #[oai(rename = "recording.started")]
    RecordingStarted,
    /// A recording was stopped.
    #[oai(rename = "recording.stopped")]
    RecordingStopped,
    /// A download link of a recording was issued.
    #[oai(rename = "recording.download_link_created")]
    RecordingDownloadLinkCreated,
    /// A guest was invited into a space.
    #[oai(rename = "guest.invited")]
    GuestInvited,
    /// A waiting guest was admitted.
    #[oai(rename = "guest.admitted")]
    GuestAdmitted,
    /// A waiting guest was denied.
    #[oai(rename = "guest.denied")]
    GuestDenied,
    /// A guest invitation was revoked (its admitted guests are disconnected).
    #[oai(rename = "guest_invite.revoked")]
    GuestInviteRevoked,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 21] = [
        Action::MemberRoleUpdated,
        Action::MemberRemoved,
        Action::InvitationCreated,
        Action::InvitationRevoked,
        Action::InvitationAccepted,
        Action::InviteLinkRotated,
        Action::OrganizationUpdated,
        Action::OrganizationLogoUpdated,
        Action::OrganizationLogoRemoved,
        Action::SpaceCreated,
        Action::SpaceUpdated,
        Action::SpaceDeleted,
        Action::SpaceTagCreated,
        Action::SpaceTagDeleted,
        Action::RecordingStarted,
        Action::RecordingStopped,
        Action::RecordingDownloadLinkCreated,
        Action::GuestInvited,
        Action::GuestAdmitted,
        Action::GuestDenied,
        Action::GuestInviteRevoked,
    ];

    /// The wire (and WorkOS) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::MemberRoleUpdated => "member.role_updated",
            Action::MemberRemoved => "member.removed",
            Action::InvitationCreated => "invitation.created",
            Action::InvitationRevoked => "invitation.revoked",
            Action::InvitationAccepted => "invitation.accepted",
            Action::InviteLinkRotated => "invite_link.rotated",
            Action::OrganizationUpdated => "organization.updated",
            Action::OrganizationLogoUpdated => "organization.logo_updated",
            Action::OrganizationLogoRemoved => "organization.logo_removed",
            Action::SpaceCreated => "space.created",
            Action::SpaceUpdated => "space.updated",
            Action::SpaceDeleted => "space.deleted",
            Action::SpaceTagCreated => "space_tag.created",
            Action::SpaceTagDeleted => "space_tag.deleted",
            Action::RecordingStarted => "recording.started",
            Action::RecordingStopped => "recording.stopped",
            Action::RecordingDownloadLinkCreated => "recording.download_link_created",
            Action::GuestInvited => "guest.invited",
            Action::GuestAdmitted => "guest.admitted",
            Action::GuestDenied => "guest.denied",
            Action::GuestInviteRevoked => "guest_invite.revoked",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == value)
    }
}

/// Who did it. Every event so far is done by a signed-in user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// `user` (a member, by internal user id) or `system`.
    pub kind: &'static str,
    pub id: String,
    pub name: Option<String>,
}

impl Actor {
    /// A user, by internal id (the same id as `User.id` on the wire).
    pub fn user(user_id: i64) -> Self {
        Self {
            kind: "user",
            id: user_id.to_string(),
            name: None,
        }
    }
}

/// What it was done to: a type (`space`, `member`, `invitation`, …) and the id the API shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Target {
    pub fn new(kind: &str, id: impl ToString) -> Self {
        Self {
            kind: kind.to_owned(),
            id: id.to_string(),
            name: None,
        }
    }

    /// The target's human name at the time (a space's name, an invitee's email).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// Where the request came from: its id (`X-Request-Id`), the client IP as the host determined
/// it ([`ClientIp`]), and its `User-Agent`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub request_id: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// Longest `User-Agent` kept.
const MAX_USER_AGENT: usize = 512;

impl RequestContext {
    /// The context of the request being served.
    pub fn of(req: &Request) -> Self {
        let user_agent = req
            .header("user-agent")
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect::<String>())
            .filter(|ua| !ua.is_empty());
        Self {
            request_id: qubital_plugin::request::current().map(|r| r.request_id),
            ip_address: req.data::<ClientIp>().map(|ip| ip.0.to_string()),
            user_agent,
        }
    }
}

/// One audit event, before it is recorded.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    /// The organization it happened in (the identity feature's internal id).
    pub organization_id: i64,
    pub actor: Actor,
    pub action: Action,
    pub targets: Vec<Target>,
    pub context: RequestContext,
}

impl AuditEvent {
    /// `action` by `actor` in `organization_id`, during `req`.
    pub fn new(organization_id: i64, actor: Actor, action: Action, req: &Request) -> Self {
        Self {
            organization_id,
            actor,
            action,
            targets: Vec::new(),
            context: RequestContext::of(req),
        }
    }

    /// `action` by the signed-in caller, in their current organization.
    pub fn by(caller: &Caller, action: Action, req: &Request) -> Self {
        Self::new(caller.organization_id, Actor::user(caller.user_id), action, req)
    }

    pub fn target(mut self, target: Target) -> Self {
        self.targets.push(target);
        self
    }
}

/// Records `event` on `conn`, which must be the transaction of the change it describes: the
/// change and its trail commit (or roll back) together. The event's id, which is also its
/// `Idempotency-Key` at WorkOS.
pub async fn record(conn: &mut PgConnection, event: AuditEvent) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    store::insert(conn, id, &event).await?;
    Ok(id)
}
