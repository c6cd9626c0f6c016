//! Who is calling, and what they may do: the contract every feature's operations use.
//!
//! The identity feature provides the [`Authenticator`] (sessions, cookies, refresh); other
//! features only take a [`CookieAuth`] argument in their operations and call
//! [`Caller::require`]. The role → permission table lives here, in one place, and is published
//! in `docs/rbac.md`.

use std::sync::Arc;

use poem::Request;
use poem_openapi::{auth::ApiKey, SecurityScheme};
use serde::{Deserialize, Serialize};

use crate::{AppContext, Problem};

/// Organization roles, weakest first: `guest < member < moderator < admin`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    poem_openapi::Enum,
    sqlx::Type,
)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Role {
    Guest,
    Member,
    Moderator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Guest => "guest",
            Role::Member => "member",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Role::Guest, Role::Member, Role::Moderator, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == value)
    }

    pub fn can(self, permission: Permission) -> bool {
        self >= permission.minimum_role()
    }
}

macro_rules! permissions {
    ($($(#[$doc:meta])* $name:ident => $role:ident,)*) => {
        /// Something an operation may require. Each permission is granted to a minimum role and
        /// every stronger one.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Permission { $($(#[$doc])* $name,)* }

        impl Permission {
            /// Every permission, in table order.
            pub const ALL: &'static [Permission] = &[$(Permission::$name,)*];

            pub fn minimum_role(self) -> Role {
                match self { $(Permission::$name => Role::$role,)* }
            }

            pub fn name(self) -> &'static str {
                match self { $(Permission::$name => stringify!($name),)* }
            }
        }
    };
}

permissions! {
    /// See spaces, their layouts and tags; join a space's conference.
    ListRooms => Guest,
    /// See the organization and its members.
    ViewOrganization => Guest,
    /// Create spaces and tags.
    CreateRoom => Member,
    /// Change a space's name, layout, tags.
    UpdateRoom => Moderator,
    DeleteRoom => Admin,
    StartRecording => Moderator,
    StopRecording => Moderator,
    /// See recordings and download them.
    ViewRecordings => Member,
    /// Invite people, see and revoke invitations, read the invite link.
    InviteMember => Admin,
    /// Change a member's role.
    EditUser => Admin,
    /// Remove a member from the organization.
    BanUser => Admin,
    /// Rename the organization, change its logo, rotate its invite link.
    ManageOrganization => Admin,
}

/// The authenticated caller of an operation.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: i64,
    /// The organization the session currently acts in; every org-scoped query filters on it.
    pub organization_id: i64,
    pub role: Role,
    pub session_id: uuid::Uuid,
}

impl Caller {
    /// `Ok` when the caller's role grants `permission`, else a 403 problem naming it.
    pub fn require(&self, permission: Permission) -> Result<(), Problem> {
        if self.role.can(permission) {
            Ok(())
        } else {
            Err(Problem::forbidden(permission.name()))
        }
    }
}

/// Turns a request's credentials into a [`Caller`]. Provided at boot by the identity feature.
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// `access_token` is the cookie's value. The implementation may re-issue the cookie (through
    /// `req.cookie()`) when it refreshes an expired token.
    async fn authenticate(&self, req: &Request, access_token: &str) -> Result<Caller, Problem>;
}

/// How an [`Authenticator`] is stored in the [`AppContext`].
#[derive(Clone)]
pub struct SharedAuthenticator(pub Arc<dyn Authenticator>);

/// Name of the session cookie.
pub const ACCESS_TOKEN_COOKIE: &str = "access_token";

/// The `cookieAuth` scheme: take it as an operation argument to require a signed-in caller.
#[derive(SecurityScheme)]
#[oai(
    rename = "cookieAuth",
    ty = "api_key",
    key_name = "access_token",
    key_in = "cookie",
    checker = "authenticate"
)]
pub struct CookieAuth(pub Caller);

async fn authenticate(req: &Request, token: ApiKey) -> poem::Result<Caller> {
    let ctx = req
        .data::<AppContext>()
        .expect("AppContext is provided by the host");
    let Some(SharedAuthenticator(authenticator)) = ctx.try_get::<SharedAuthenticator>() else {
        return Err(Problem::unauthorized()
            .with_detail("Sign-in is not available in this build.")
            .into());
    };
    let caller = authenticator.authenticate(req, &token.key).await?;
    let span = tracing::Span::current();
    span.record("user_id", caller.user_id);
    span.record("org_id", caller.organization_id);
    Ok(caller)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_stronger_roles_inherit_permissions() {
        assert!(
            Role::Guest < Role::Member && Role::Member < Role::Moderator && Role::Moderator < Role::Admin
        );
        for &permission in Permission::ALL {
            let minimum = permission.minimum_role();
            assert!(Role::Admin.can(permission), "admin lacks {permission:?}");
            assert!(minimum.can(permission));
            for role in [Role::Guest, Role::Member, Role::Moderator] {
                assert_eq!(role.can(permission), role >= minimum);
            }
        }
        assert!(!Role::Member.can(Permission::StartRecording));
        assert!(Role::Moderator.can(Permission::StartRecording));
    }

    #[test]
    fn denial_is_a_403_problem_naming_the_permission() {
        let caller = Caller {
            user_id: 1,
            organization_id: 1,
            role: Role::Member,
            session_id: uuid::Uuid::nil(),
        };
        let problem = caller.require(Permission::DeleteRoom).unwrap_err();
        assert_eq!(problem.status.as_u16(), 403);
        assert!(problem.detail.unwrap().contains("DeleteRoom"));
    }
}

/// The permission table as the Markdown rows published in `docs/rbac.md`.
pub fn permission_table_markdown() -> String {
    let mut table = String::from("| permission | minimum role |\n|---|---|\n");
    for permission in Permission::ALL {
        table.push_str(&format!(
            "| {} | {} |\n",
            permission.name(),
            permission.minimum_role().as_str()
        ));
    }
    table
}

#[cfg(test)]
mod docs {
    #[test]
    fn docs_rbac_md_shows_the_permission_table() {
        let page = include_str!("../../../docs/rbac.md");
        let start = page.find("<!-- permissions:start -->\n").expect("start marker")
            + "<!-- permissions:start -->\n".len();
        let end = page.find("<!-- permissions:end -->").expect("end marker");
        assert_eq!(
            &page[start..end],
            super::permission_table_markdown(),
            "docs/rbac.md is stale: paste permission_table_markdown() between the markers"
        );
    }
}
