//! Organizations: create, get, update (tag `Organizations`).

use chrono::{DateTime, Utc};
use platform_workos::Workos;
use poem::{web::Data, Request};
use poem_openapi::{param::Path, payload::Json, Object, OpenApi, Tags};
use qubital_auth::{flows, flows::Entrant, validate, workos_problem, User};
use qubital_plugin::{auth::CookieAuth, AppContext, Problem};
use sqlx::{PgConnection, Row};

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
    #[oai(validator(max_length = 200))]
    name: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct UpdateOrganizationRequest {
    #[oai(validator(max_length = 200))]
    name: String,
}

/// Longest organization name.
pub const MAX_NAME: usize = 100;

/// The caller's current organization, if `public_id` names it; anything else is 404.
async fn current(
    conn: &mut PgConnection,
    org_id: i64,
    public_id: &str,
    lock: bool,
) -> Result<sqlx::postgres::PgRow, Problem> {
    let sql = format!(
        "SELECT id, public_id, name, logo_url, initialized, created_at, workos_org_id
         FROM organizations WHERE id = $1 AND public_id = $2 {}",
        if lock { "FOR UPDATE" } else { "" }
    );
    sqlx::query(&sql)
        .bind(org_id)
        .bind(public_id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(Problem::not_found)
}

fn dto(row: &sqlx::postgres::PgRow) -> Organization {
    Organization {
        id: row.get("public_id"),
        name: row.get("name"),
        logo_url: row.get("logo_url"),
        initialized: row.get("initialized"),
        created_at: row.get("created_at"),
    }
}

#[derive(Default)]
pub struct OrganizationsApi;

#[OpenApi(tag = "OrganizationsTag::Organizations")]
impl OrganizationsApi {
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
            flows::create_organization(&ctx, req, Entrant::Session(auth.0.session_id), &name).await?,
        ))
    }

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
        let row = current(&mut conn, auth.0.organization_id, &id.0, false).await?;
        Ok(Json(dto(&row)))
    }

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
        auth: CookieAuth,
        id: Path<String>,
        body: Json<UpdateOrganizationRequest>,
    ) -> Result<Json<Organization>, Problem> {
        let caller = auth.0;
        let mut tx = ctx.db().begin().await?;
        // Existence first, then permission: another organization's id is 404 for everyone.
        let row = current(&mut tx, caller.organization_id, &id.0, true).await?;
        caller.require(&MANAGE_ORGANIZATION)?;
        let name = validate::name("body.name", &body.0.name, MAX_NAME)?;
        if let Some(workos_org_id) = row.get::<Option<String>, _>("workos_org_id") {
            ctx.get::<Workos>()
                .rename_organization(&workos_org_id, &name)
                .await
                .map_err(workos_problem)?;
        }
        let row = sqlx::query(
            "UPDATE organizations SET name = $2, initialized = true, updated_at = now() WHERE id = $1
             RETURNING id, public_id, name, logo_url, initialized, created_at",
        )
        .bind(caller.organization_id)
        .bind(&name)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Json(dto(&row)))
    }
}
