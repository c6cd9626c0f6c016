//! Who exists and where they belong, as other features ask it: the User DTO every sign-in
//! returns ([`load_user`]), organizations ([`Organization`]), membership roles, and the
//! mapping of WorkOS role slugs. The rows are in [`crate::store`].

use std::sync::{Arc, OnceLock};

use platform_workos::Workos;
use poem_openapi::{Enum, Object};
use qubital_plugin::{auth::Role, AppContext, Problem};
use sqlx::PgConnection;

pub use crate::store::organizations::{new_public_id, Organization};
use crate::{session_cache::ParticipantCache, state::workos_problem, store};

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
    /// The status the user set in the current organization (`/presence/status/update`); `null`
    /// when none is set and their status follows their connection.
    pub manual_status: Option<PresenceStatus>,
    /// Public id of the organization the session acts in.
    pub current_organization_id: String,
    pub organization_memberships: Vec<OrganizationMembership>,
}

/// A member's status: `Member.presenceStatus` (effective: manual, else automatic) and
/// `User.manualStatus` (manual). The presence feature owns statuses; the type is declared here,
/// with the User DTO, because presence depends on this crate and not the other way round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum, serde::Serialize)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum PresenceStatus {
    Online,
    Away,
    Busy,
    Offline,
}

impl PresenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PresenceStatus::Online => "online",
            PresenceStatus::Away => "away",
            PresenceStatus::Busy => "busy",
            PresenceStatus::Offline => "offline",
        }
    }

    /// The status stored as `value`; anything unknown reads as offline.
    pub fn parse(value: &str) -> Self {
        match value {
            "online" => PresenceStatus::Online,
            "away" => PresenceStatus::Away,
            "busy" => PresenceStatus::Busy,
            _ => PresenceStatus::Offline,
        }
    }
}

/// Registered (`inventory::submit!`) by the feature that keeps manual statuses — presence,
/// which depends on this crate, so this crate cannot call it by name: an SQL expression giving
/// the manual status (`online`, `away`, `busy`) of user `$1` in organization `$2`, or `NULL`.
/// [`load_user`] evaluates it inside its one query, so `User.manualStatus` costs no round trip
/// of its own. The expression reads only its own feature's tables (a scalar subquery, in
/// parentheses). Without one linked, `User.manualStatus` is always `null`.
pub struct ManualStatusSql(pub &'static str);

qubital_plugin::inventory::collect!(ManualStatusSql);

/// The manual status column of [`load_user`]'s query: the first registered expression that is
/// not `NULL`.
fn manual_status_sql() -> String {
    let sources: Vec<&str> = qubital_plugin::inventory::iter::<ManualStatusSql>
        .into_iter()
        .map(|source| source.0)
        .collect();
    match sources.as_slice() {
        [] => "NULL::text".to_owned(),
        [one] => (*one).to_owned(),
        many => format!("COALESCE({})", many.join(", ")),
    }
}

/// The name a member is shown by: the display name they chose in the organization, unless it
/// is blank; else [`fallback_display_name`].
pub fn shown_name(chosen: Option<String>, first: Option<&str>, last: Option<&str>, email: &str) -> String {
    chosen
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| fallback_display_name(first, last, email))
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

/// Builds the User DTO of `user_id` acting in `org_id` (401 when they are gone or no longer a
/// member there).
pub async fn load_user(conn: &mut PgConnection, user_id: i64, org_id: i64) -> Result<User, Problem> {
    static QUERY: OnceLock<String> = OnceLock::new();
    let query = QUERY.get_or_init(|| store::memberships::profile_and_memberships_sql(&manual_status_sql()));
    let (profile, memberships, manual_status) =
        store::memberships::profile_and_memberships(&mut *conn, query, user_id, org_id)
            .await?
            .ok_or_else(Problem::unauthorized)?;
    let Some(current) = memberships.iter().find(|m| m.org_id == org_id).cloned() else {
        return Err(no_longer_member());
    };
    let display_name = shown_name(
        current.display_name,
        profile.first_name.as_deref(),
        profile.last_name.as_deref(),
        &profile.email,
    );
    let manual_status = manual_status.as_deref().map(PresenceStatus::parse);
    Ok(User {
        id: user_id.to_string(),
        email: profile.email,
        first_name: profile.first_name,
        last_name: profile.last_name,
        display_name,
        avatar_url: current.avatar_url,
        manual_status,
        current_organization_id: current.public_id,
        organization_memberships: memberships
            .into_iter()
            .map(|m| OrganizationMembership {
                organization: OrganizationRef {
                    id: m.public_id,
                    name: m.name,
                    logo_url: m.logo_url,
                },
                role: m.role,
            })
            .collect(),
    })
}

/// The role of `user_id` in `org_id`, if they are an active member.
pub async fn membership_role(
    conn: &mut PgConnection,
    user_id: i64,
    org_id: i64,
) -> Result<Option<Role>, sqlx::Error> {
    store::memberships::role(conn, user_id, org_id).await
}

/// A member as the realtime tokens name them: what [`load_user`] would say of their id, shown
/// name and current organization, in one query instead of three.
#[derive(Clone, Debug)]
pub struct Participant {
    /// Stringified user id (`User.id`).
    pub id: String,
    /// `User.displayName`: the membership's display name, else the full name, else the email.
    pub display_name: String,
    /// `User.currentOrganizationId`: the organization's public id.
    pub organization_id: String,
}

/// [`Participant`] of `user_id` in `org_id`; `401` when they are no longer an active member
/// there (as [`load_user`]).
pub async fn participant<'e>(
    db: impl sqlx::PgExecutor<'e>,
    user_id: i64,
    org_id: i64,
) -> Result<Participant, Problem> {
    read_participant(db, user_id, org_id)
        .await?
        .ok_or_else(no_longer_member)
}

/// [`participant`], from this process's participant cache when it was read lately
/// ([`crate::session_cache`]: at most `SESSION_CACHE_SECS` old, forgotten at once on a change
/// of names, membership or session): the realtime tokens name their caller without a query on
/// the common path. A member who is gone is never cached, so the `401` is always read.
pub async fn cached_participant(ctx: &AppContext, user_id: i64, org_id: i64) -> Result<Participant, Problem> {
    ctx.get::<Arc<ParticipantCache>>()
        .get_or_read((user_id, org_id), || read_participant(ctx.db(), user_id, org_id))
        .await?
        .ok_or_else(no_longer_member)
}

async fn read_participant<'e>(
    db: impl sqlx::PgExecutor<'e>,
    user_id: i64,
    org_id: i64,
) -> Result<Option<Participant>, sqlx::Error> {
    Ok(store::memberships::participant(db, org_id, user_id)
        .await?
        .map(|row| Participant {
            id: user_id.to_string(),
            display_name: shown_name(
                row.display_name,
                row.first_name.as_deref(),
                row.last_name.as_deref(),
                &row.email,
            ),
            organization_id: row.organization_public_id,
        }))
}

fn no_longer_member() -> Problem {
    Problem::unauthorized().with_detail("You are no longer a member of this organization.")
}

/// Where the user ids a request names are, for the errors of [`require_members`].
#[derive(Clone, Copy, Debug)]
pub enum IdsAt<'a> {
    /// One id, at this location (`body.userId`).
    One(&'a str),
    /// A list of ids, at this location (`body.memberIds`): errors name `body.memberIds[i]`.
    Each(&'a str),
}

/// The roles of `users` in organization `org_id`, when every one of them is an active member
/// there (one query). Otherwise `404 not-found` naming each other one: a user of another
/// organization is invisible, so whether they exist at all is not told.
pub async fn require_members(
    conn: &mut PgConnection,
    org_id: i64,
    at: IdsAt<'_>,
    users: &[i64],
) -> Result<Vec<Role>, Problem> {
    let found = store::memberships::roles(conn, org_id, users).await?;
    let mut roles = Vec::with_capacity(users.len());
    let mut errors = Vec::new();
    for (i, user) in users.iter().enumerate() {
        match found.get(user) {
            Some(role) => roles.push(*role),
            None => errors.push(qubital_plugin::FieldError::new(
                match at {
                    IdsAt::One(location) => location.to_owned(),
                    IdsAt::Each(location) => format!("{location}[{i}]"),
                },
                "not a member of the organization",
            )),
        }
    }
    if errors.is_empty() {
        Ok(roles)
    } else {
        Err(Problem::not_found_at(errors))
    }
}

/// A WorkOS role slug as a role; unknown slugs are members.
pub fn role_from_slug(slug: &str) -> Role {
    Role::parse(slug).unwrap_or(Role::Member)
}

/// An organization WorkOS named: its local mirror, or WorkOS's record of it when it is not
/// mirrored yet (to [`record`](OrganizationMirror::record) in the transaction that uses it, so
/// no transaction waits on WorkOS).
pub enum OrganizationMirror {
    Known(Organization),
    New(platform_workos::Organization),
}

impl OrganizationMirror {
    /// Finds the mirror of `workos_org_id`, or fetches the organization from WorkOS.
    pub async fn find<'e>(
        db: impl sqlx::PgExecutor<'e>,
        workos: &Workos,
        workos_org_id: &str,
    ) -> Result<Self, Problem> {
        if let Some(org) = Organization::by_workos_id(db, workos_org_id).await? {
            return Ok(Self::Known(org));
        }
        let remote = workos
            .get_organization(workos_org_id)
            .await
            .map_err(workos_problem)?;
        Ok(Self::New(remote))
    }

    /// The local organization (mirrored now if it was new).
    pub async fn record(self, conn: &mut PgConnection) -> Result<Organization, Problem> {
        match self {
            Self::Known(org) => Ok(org),
            Self::New(remote) => {
                Ok(Organization::upsert_from_workos(conn, &remote.id, &remote.name, false).await?)
            }
        }
    }
}

/// The public ids of the organizations among `ids` that exist, `(id, public id)`, in one query:
/// for features that keep per-organization numbers by internal id and label them by public id
/// (conference usage).
pub use crate::store::organizations::public_ids as organization_public_ids;

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
