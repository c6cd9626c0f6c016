//! The current organization's logo: upload ticket, finalize, remove (tag `Organizations`;
//! permission `ManageOrganization`). Another organization's id is `404` for everyone, checked
//! before the permission.

use poem::{web::Data, Request};
use poem_openapi::{param::Path, payload::Json, OpenApi, Tags};
use qubital_audit::{Action, AuditEvent, Target};
use qubital_auth::store::organizations::{self as organizations, Details};
use qubital_organizations::{permissions::MANAGE_ORGANIZATION, Organization};
use qubital_plugin::{
    auth::{Caller, CookieAuth},
    problem::types,
    AppContext, Problem,
};
use sqlx::PgConnection;

use super::{
    bucket, clean_up, issue, publish, unknown_ticket, FinalizeUploadRequest, UploadTicket,
    UploadTicketRequest,
};
use crate::{
    problems::{
        UPLOAD_CHANGED, UPLOAD_IMAGE_DIMENSIONS, UPLOAD_MISSING, UPLOAD_NOT_AN_IMAGE, UPLOAD_TICKET_EXPIRED,
        UPLOAD_TICKET_UNKNOWN, UPLOAD_TOO_LARGE,
    },
    store::{self, Kind},
};

/// The same tag as `/organizations/{id}/get` (identical text: the spec keeps the first one
/// registered).
#[derive(Tags)]
enum OrganizationsTag {
    /// Organizations (mirrored from WorkOS).
    Organizations,
}

qubital_plugin::operation_errors! {
    /// What `/organizations/{id}/logo/upload-ticket` answers besides the host's problems.
    pub LogoTicketErrors = [types::NOT_FOUND, types::FORBIDDEN, types::INTEGRATION_DISABLED];
    /// What `/organizations/{id}/logo/finalize` answers besides the host's problems.
    pub LogoFinalizeErrors = [
        types::NOT_FOUND,
        types::FORBIDDEN,
        types::INTEGRATION_DISABLED,
        types::INTEGRATION_UNAVAILABLE,
        UPLOAD_TICKET_UNKNOWN,
        UPLOAD_TICKET_EXPIRED,
        UPLOAD_MISSING,
        UPLOAD_CHANGED,
        UPLOAD_TOO_LARGE,
        UPLOAD_NOT_AN_IMAGE,
        UPLOAD_IMAGE_DIMENSIONS,
    ];
    /// What `/organizations/{id}/logo/remove` answers besides the host's problems.
    pub LogoRemoveErrors = [types::NOT_FOUND, types::FORBIDDEN];
}

/// Where an organization's logos go: `logos/<organization id>/<ticket id>.<ext>`.
fn logo_prefix(org_public_id: &str) -> String {
    format!("logos/{org_public_id}/")
}

/// The caller's current organization if `public_id` is its id (`404` otherwise, whoever
/// asks), then `403` unless the caller may manage it. Locked until the transaction ends when
/// `for_update`.
async fn managed_organization(
    conn: &mut PgConnection,
    caller: &Caller,
    public_id: &str,
    for_update: bool,
) -> Result<Details, Problem> {
    let org = organizations::details(conn, caller.organization_id, public_id, for_update)
        .await?
        .ok_or_else(Problem::not_found)?;
    caller.require(&MANAGE_ORGANIZATION)?;
    Ok(org)
}

/// The audit row of a logo change, in its transaction.
async fn audit(
    conn: &mut PgConnection,
    caller: &Caller,
    action: Action,
    req: &Request,
    org: &Details,
) -> Result<(), Problem> {
    qubital_audit::record(
        conn,
        AuditEvent::by(caller, action, req)
            .target(Target::new("organization", &org.public_id).named(&org.name)),
    )
    .await?;
    Ok(())
}

#[derive(Default)]
pub(crate) struct LogoApi;

#[OpenApi(tag = "OrganizationsTag::Organizations")]
impl LogoApi {
    /// Start an organization logo upload
    ///
    /// Step 1 of changing the current organization's logo: a URL to `PUT` the image to (PNG,
    /// JPEG or WebP, at most 5 MiB), valid 120 s, signed for the declared `Content-Type` and
    /// `Content-Length`. Then call `/organizations/{id}/logo/finalize` with the `key`. `id` must
    /// be the current organization's (`404` otherwise). `503 integration-disabled` when this
    /// server has no upload bucket.
    ///
    /// Permission: ManageOrganization.
    #[oai(
        path = "/organizations/:id/logo/upload-ticket",
        method = "post",
        operation_id = "organization-logo-upload-ticket"
    )]
    async fn upload_ticket(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        id: Path<String>,
        body: Json<UploadTicketRequest>,
    ) -> Result<Json<UploadTicket>, LogoTicketErrors> {
        let caller = auth.0;
        let mut conn = ctx.db().acquire().await?;
        managed_organization(&mut conn, &caller, &id.0, false).await?;
        drop(conn);
        Ok(Json(issue(&ctx, &caller, Kind::Logo, body.0).await?))
    }

    /// Finish an organization logo upload
    ///
    /// Step 2: checks the uploaded file from its bytes (a PNG, JPEG or WebP image of 16 to 4096
    /// pixels a side, no larger than declared), publishes it at a key the server chooses, sets
    /// it as the organization's `logoUrl` (audited as `organization.logo_updated`) and returns
    /// the organization. The ticket (the caller's own, for this organization) is used up; the
    /// previous logo and the temporary file are deleted.
    ///
    /// Permission: ManageOrganization.
    #[oai(
        path = "/organizations/:id/logo/finalize",
        method = "post",
        operation_id = "organization-logo-finalize"
    )]
    async fn finalize(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        id: Path<String>,
        body: Json<FinalizeUploadRequest>,
    ) -> Result<Json<Organization>, LogoFinalizeErrors> {
        let caller = auth.0;
        let mut conn = ctx.db().acquire().await?;
        let org = managed_organization(&mut conn, &caller, &id.0, false).await?;
        drop(conn);
        let prefix = logo_prefix(&org.public_id);
        let published = publish(&ctx, &caller, Kind::Logo, &body.0.key, |ticket, format| {
            format!("{prefix}{ticket}.{}", format.extension())
        })
        .await?;

        let mut tx = ctx.db().begin().await?;
        // Again, locked: the role or the organization may have changed meanwhile.
        let before = managed_organization(&mut tx, &caller, &id.0, true).await?;
        if !store::consume(&mut *tx, published.ticket_id).await? {
            return Err(unknown_ticket().into());
        }
        let org = organizations::set_logo_url(&mut *tx, before.id, Some(&published.url)).await?;
        audit(&mut tx, &caller, Action::OrganizationLogoUpdated, req, &org).await?;
        tx.commit().await?;

        clean_up(
            bucket(&ctx)?,
            Some(&published.tmp_key),
            before.logo_url.as_deref(),
            &prefix,
        )
        .await;
        Ok(Json(org.into()))
    }

    /// Remove the organization logo
    ///
    /// Clears the current organization's logo (audited as `organization.logo_removed`; its
    /// image is deleted when it was uploaded here) and returns the organization. Removing no
    /// logo succeeds and records nothing.
    ///
    /// Permission: ManageOrganization.
    #[oai(
        path = "/organizations/:id/logo/remove",
        method = "post",
        operation_id = "remove-organization-logo"
    )]
    async fn remove(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        id: Path<String>,
    ) -> Result<Json<Organization>, LogoRemoveErrors> {
        let caller = auth.0;
        let mut tx = ctx.db().begin().await?;
        let before = managed_organization(&mut tx, &caller, &id.0, true).await?;
        let Some(replaced) = before.logo_url.clone() else {
            return Ok(Json(before.into()));
        };
        let org = organizations::set_logo_url(&mut *tx, before.id, None).await?;
        audit(&mut tx, &caller, Action::OrganizationLogoRemoved, req, &org).await?;
        tx.commit().await?;

        // Without a bucket (development) there is nothing of ours to delete.
        if let Ok(bucket) = bucket(&ctx) {
            clean_up(bucket, None, Some(&replaced), &logo_prefix(&org.public_id)).await;
        }
        Ok(Json(org.into()))
    }
}
