//! Who is calling, and what they may do: the contract every feature's operations use.
//!
//! The identity feature provides the [`Authenticator`] (sessions, cookies, refresh); other
//! features only take a [`CookieAuth`] argument in their operations and call
//! [`Caller::require`] with a [`Permission`] declared (with [`permissions!`](crate::permissions))
//! by the feature that owns it. The role → permission table of the whole binary is generated
//! from those declarations into `docs/rbac.md`.

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

    pub fn can(self, permission: &Permission) -> bool {
        self >= permission.minimum_role
    }
}

/// Something an operation may require, granted to a minimum role and every stronger one.
/// Features declare their own with [`permissions!`](crate::permissions); `docs/rbac.md` is
/// generated from every permission linked into the binary ([`permission_table_markdown`]).
#[derive(Debug, PartialEq, Eq)]
pub struct Permission {
    /// The name in `403` details and in the docs (`CreateRoom`).
    pub name: &'static str,
    pub minimum_role: Role,
    /// What it allows (the declaration's doc comment).
    pub description: &'static str,
    /// The crate that declared it.
    pub owner: &'static str,
}

impl Permission {
    pub fn minimum_role(&self) -> Role {
        self.minimum_role
    }
}

/// A declared [`Permission`], as collected by `inventory`.
pub struct RegisteredPermission(pub &'static Permission);

inventory::collect!(RegisteredPermission);

/// Declares permissions (statics) and registers them for the published table:
///
/// ```ignore
/// qubital_plugin::permissions! {
///     /// Write notes.
///     pub WRITE_NOTES = ("WriteNotes", Member);
/// }
/// caller.require(&WRITE_NOTES)?;
/// ```
#[macro_export]
macro_rules! permissions {
    ($($(#[doc = $doc:literal])+ $vis:vis $name:ident = ($label:literal, $role:ident);)+) => {
        $(
            $(#[doc = $doc])+
            $vis static $name: $crate::auth::Permission = $crate::auth::Permission {
                name: $label,
                minimum_role: $crate::auth::Role::$role,
                description: concat!($($doc, "\n"),+),
                owner: env!("CARGO_PKG_NAME"),
            };
            $crate::inventory::submit! { $crate::auth::RegisteredPermission(&$name) }
        )+
    };
}

/// Every permission declared in this binary, ordered by owner, then minimum role, then name.
pub fn registered_permissions() -> Vec<&'static Permission> {
    let mut all: Vec<&'static Permission> = inventory::iter::<RegisteredPermission>
        .into_iter()
        .map(|r| r.0)
        .collect();
    all.sort_by_key(|p| (p.owner, p.minimum_role, p.name));
    all
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
    pub fn require(&self, permission: &Permission) -> Result<(), Problem> {
        if self.role.can(permission) {
            Ok(())
        } else {
            Err(Problem::forbidden(permission.name))
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

/// Name of the session cookie. The `__Host-` prefix makes the browser accept it only `Secure`,
/// for `/`, and from this very host (no sibling subdomain can set or shadow it).
pub const ACCESS_TOKEN_COOKIE: &str = "__Host-access_token";

/// Its name on the wire of a development server (plain HTTP, where browsers refuse `__Host-`
/// cookies); the host renames it at the edge, so code only ever sees [`ACCESS_TOKEN_COOKIE`].
pub const DEVELOPMENT_ACCESS_TOKEN_COOKIE: &str = "access_token";

/// The `cookieAuth` scheme: take it as an operation argument to require a signed-in caller.
#[derive(SecurityScheme)]
#[oai(
    rename = "cookieAuth",
    ty = "api_key",
    key_name = "__Host-access_token",
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

/// The permission table as the Markdown rows published in `docs/rbac.md`.
pub fn permission_table_markdown() -> String {
    let mut table = String::from("| permission | minimum role | allows | declared by |\n|---|---|---|---|\n");
    for permission in registered_permissions() {
        let allows = permission
            .description
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        table.push_str(&format!(
            "| {} | {} | {} | `{}` |\n",
            permission.name,
            permission.minimum_role.as_str(),
            allows,
            permission.owner
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::permissions! {
        /// A permission for these tests.
        TEST_MODERATE = ("TestModerate", Moderator);
    }

    #[test]
    fn roles_are_ordered_and_stronger_roles_inherit_permissions() {
        assert!(
            Role::Guest < Role::Member && Role::Member < Role::Moderator && Role::Moderator < Role::Admin
        );
        for role in [Role::Guest, Role::Member, Role::Moderator, Role::Admin] {
            assert_eq!(role.can(&TEST_MODERATE), role >= Role::Moderator, "{role:?}");
        }
        assert!(registered_permissions().contains(&&TEST_MODERATE));
    }

    #[test]
    fn denial_is_a_403_problem_naming_the_permission() {
        let caller = Caller {
            user_id: 1,
            organization_id: 1,
            role: Role::Member,
            session_id: uuid::Uuid::nil(),
        };
        let problem = caller.require(&TEST_MODERATE).unwrap_err();
        assert_eq!(problem.status().as_u16(), 403);
        assert!(problem.detail.unwrap().contains("TestModerate"));
    }
}
