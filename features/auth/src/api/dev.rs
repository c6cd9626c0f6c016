//! The development sign-in operation (tag `Development`): registered `development_only`, so it
//! exists only when the process runs in development (absent from the routes and the spec in
//! production). The flow is [`crate::development`].

use poem::{web::Data, Request};
use poem_openapi::{payload::Json, Object, OpenApi, Tags};
use qubital_plugin::{auth::Role, wire, AppContext, Problem};

use crate::{development, directory::User, validate};

#[derive(Tags)]
enum DevTag {
    /// Development-only helpers. Absent in production.
    Development,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct DevSignInRequest {
    email: wire::Email,
    /// Joins the organization of this name (case-insensitive) or creates it. Default: the
    /// user's last organization, else a new one named "Development".
    organization_name: Option<wire::Name<100>>,
    /// Default: `admin` for the first member of the organization, `member` after. Given for an
    /// existing member, it changes their role.
    role: Option<Role>,
}

#[derive(Default)]
pub struct DevApi;

#[OpenApi(tag = "DevTag::Development")]
impl DevApi {
    /// Sign in without WorkOS (development)
    ///
    /// Sign in as any email without WorkOS: creates or reuses a local user, joins (or creates)
    /// the named organization, and sets the `access_token` cookie.
    ///
    /// Permission: none (public). Development only.
    #[oai(path = "/auth/dev/sign-in", method = "post", operation_id = "dev-sign-in")]
    async fn dev_sign_in(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        body: Json<DevSignInRequest>,
    ) -> Result<Json<User>, Problem> {
        if !ctx.environment().is_development() {
            // Unreachable: the route is not mounted outside development.
            return Err(Problem::not_found());
        }
        let body = body.0;
        let email = validate::email("body.email", &body.email)?;
        let organization = body
            .organization_name
            .as_deref()
            .map(|n| validate::name("body.organizationName", n, 100))
            .transpose()?;
        Ok(Json(
            development::sign_in(&ctx, req, &email, organization.as_deref(), body.role).await?,
        ))
    }
}
