//! Organizations: create, get, update (tag `Organizations`).

use chrono::{DateTime, Utc};
use platform_workos::Workos;
use poem::{web::Data, Request};
use poem_openapi::{param::Path, payload::Json, Object, OpenApi, Tags};
use qubital_audit::{Action, AuditEvent, Target};
use qubital_auth::{
    enter::{self, Entrant},
    store::organizations::{self as store, Details},
    validate, workos_problem, User,
};
use qubital_plugin::{auth::CookieAuth, wire, AppContext, Problem};

use crate::permissions::MANAGE_ORGANIZATION;
use qubital_auth::permissions::VIEW_ORGANIZATION;

#[derive(Tags)]
enum OrganizationsTag {
    /// Organizations (mirrored from WorkOS).
    Organizations,
}

/// An organization.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Organization {
    /// The organization's public id.
    pub id: String,
    pub name: String,
    pub logo_url: Option<String>,
    /// Whether an admin completed its setup (created it here, or updated it).
    pub initialized: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct CreateOrganizationRequest {
    /// 1..100 characters (trimmed).
    name: wire::Name<MAX_NAME>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct UpdateOrganizationRequest {
    /// 1..100 characters (trimmed).
    name: wire::Name<MAX_NAME>,
}

/// Longest organization name.
pub const MAX_NAME: usize = 100;

impl From<Details> for Organization {
    fn from(row: Details) -> Self {
        Organization {
            id: row.public_id,
            name: row.name,
            logo_url: row.logo_url,
            initialized: row.initialized,
            created_at: row.created_at,
        }
    }
}

#[derive(Default)]
pub struct OrganizationsApi;

#[OpenApi(tag = "OrganizationsTag::Organizations")]
impl OrganizationsApi {
    /// Create an organization
    ///
    /// Create an organization (in WorkOS too, for WorkOS sessions) with the caller as its admin,
    /// and switch the session into it. Returns the User with the new current organization.
    ///
    /// Permission: none (any signed-in user).
    #[oai(
        path = "/organizations/create",
        method = "post",
        operation_id = "create-organization"
    )]
    async fn create(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        body: Json<CreateOrganizationRequest>,
    ) -> Result<Json<User>, Problem> {
        let name = validate::name("body.name", &body.0.name, MAX_NAME)?;
        Ok(Json(
            enter::create_organization(&ctx, req, Entrant::Session(auth.0.session_id), &name).await?,
        ))
    }

    /// Get the organization
    ///
    /// The current organization. `id` must be the current organization's id.
    ///
    /// Permission: ViewOrganization.
    #[oai(
        path = "/organizations/:id/get",
        method = "post",
        operation_id = "get-organization"
    )]
    async fn get(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        id: Path<String>,
    ) -> Result<Json<Organization>, Problem> {
        auth.0.require(&VIEW_ORGANIZATION)?;
        let mut conn = ctx.db().acquire().await?;
        let org = store::details(&mut conn, auth.0.organization_id, &id.0, false)
            .await?
            .ok_or_else(Problem::not_found)?;
        Ok(Json(org.into()))
    }

    /// Rename the organization
    ///
    /// Rename the current organization (WorkOS first, then here). Marks it initialized.
    ///
    /// Permission: ManageOrganization.
    #[oai(
        path = "/organizations/:id/update",
        method = "post",
        operation_id = "update-organization"
    )]
    async fn update(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        id: Path<String>,
        body: Json<UpdateOrganizationRequest>,
    ) -> Result<Json<Organization>, Problem> {
        let caller = auth.0;
        // Existence first, then permission: another organization's id is 404 for everyone.
        let org = {
            let mut conn = ctx.db().acquire().await?;
            store::details(&mut conn, caller.organization_id, &id.0, false)
                .await?
                .ok_or_else(Problem::not_found)?
        };
        caller.require(&MANAGE_ORGANIZATION)?;
        let name = validate::name("body.name", &body.0.name, MAX_NAME)?;
        // No transaction or pooled connection across the WorkOS call (a slow WorkOS must not
        // starve the pool). Two renames racing may land here in another order than at WorkOS;
        // eventsync then mirrors WorkOS's final name (`organization.updated`).
        if let Some(workos_org_id) = &org.workos_org_id {
            ctx.get::<Workos>()
                .rename_organization(workos_org_id, &name)
                .await
                .map_err(workos_problem)?;
        }
        let mut tx = ctx.db().begin().await?;
        let org = store::rename(&mut *tx, caller.organization_id, &name)
            .await?
            .ok_or_else(Problem::not_found)?;
        qubital_audit::record(
            &mut tx,
            AuditEvent::by(&caller, Action::OrganizationUpdated, req)
                .target(Target::new("organization", &org.public_id).named(&org.name)),
        )
        .await?;
        tx.commit().await?;
        Ok(Json(org.into()))
    }
}
