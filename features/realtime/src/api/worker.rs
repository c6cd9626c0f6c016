//! The Worker-facing operations (tag `Worker`): what the office-router Worker asks the backend
//! while it serves a WebSocket. Authenticated by `workerAuth` only.

use poem::web::Data;
use poem_openapi::{param::Path, payload::Json, Enum, Object, OpenApi, Tags};
use qubital_auth::directory::{self, Organization};
use qubital_plugin::{auth::Role, wire, AppContext, FieldError, Problem};
use uuid::Uuid;

use crate::worker_auth::WorkerAuth;

#[derive(Tags)]
enum WorkerTag {
    /// Called by the space-router Worker with its own token (`workerAuth`); not for clients.
    Worker,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct WorkerCheckSpaceAccessRequest {
    /// The user (`userId` of the router token).
    user_id: wire::IdText,
    /// The organization the user's router token is for (`orgId`): a space of another
    /// organization is refused even when the user belongs to both.
    organization_id: wire::Token<64>,
}

/// Why access was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "kebab-case")]
enum SpaceAccessDenial {
    /// The space belongs to another organization than the token's.
    OtherOrganization,
    /// The user is not (or no longer) an active member of the space's organization.
    NotAMember,
}

/// May the user enter the space, and with which role.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct SpaceAccess {
    allowed: bool,
    space_id: Uuid,
    /// The space's organization.
    organization_id: String,
    /// The user's role there, when allowed.
    role: Option<Role>,
    /// Why not, when refused.
    reason: Option<SpaceAccessDenial>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct WorkerDescribeMemberRequest {
    organization_id: wire::Token<64>,
    user_id: wire::IdText,
}

/// A member of an organization, as the Worker shows them to others.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct WorkerMember {
    user_id: String,
    organization_id: String,
    display_name: String,
    email: String,
    avatar_url: Option<String>,
    role: Role,
}

fn user_id(value: &wire::IdText) -> Result<i64, Problem> {
    value
        .id()
        .ok_or_else(|| Problem::validation(vec![FieldError::new("body.userId", "is not a user id")]))
}

#[derive(Default)]
pub(crate) struct WorkerApi;

#[OpenApi(tag = "WorkerTag::Worker")]
impl WorkerApi {
    /// Check space access (Worker)
    ///
    /// May user U (of the organization of their router token) enter space S, and with which
    /// role. Refused when the space is another organization's or the user is not an active
    /// member of it.
    ///
    /// Authentication: `workerAuth` (no permission; session cookies are not accepted).
    /// `404 not-found` when the space does not exist.
    #[oai(
        path = "/worker/spaces/:spaceId/check-access",
        method = "post",
        operation_id = "worker-check-space-access"
    )]
    async fn check_space_access(
        &self,
        ctx: Data<&AppContext>,
        _worker: WorkerAuth,
        #[oai(name = "spaceId")] space_id: Path<Uuid>,
        body: Json<WorkerCheckSpaceAccessRequest>,
    ) -> Result<Json<SpaceAccess>, Problem> {
        let user = user_id(&body.user_id)?;
        let mut conn = ctx.db().acquire().await?;
        let space = qubital_spaces::find(&mut *conn, space_id.0)
            .await?
            .ok_or_else(Problem::not_found)?;
        let organization = Organization::by_id(&mut *conn, space.organization_id)
            .await?
            .ok_or_else(Problem::not_found)?;
        let refused = |reason| SpaceAccess {
            allowed: false,
            space_id: space.id,
            organization_id: organization.public_id.clone(),
            role: None,
            reason: Some(reason),
        };
        if organization.public_id != body.organization_id.as_str() {
            return Ok(Json(refused(SpaceAccessDenial::OtherOrganization)));
        }
        let role = directory::membership_role(&mut conn, user, organization.id).await?;
        Ok(Json(match role {
            Some(role) => SpaceAccess {
                allowed: true,
                space_id: space.id,
                organization_id: organization.public_id.clone(),
                role: Some(role),
                reason: None,
            },
            None => refused(SpaceAccessDenial::NotAMember),
        }))
    }

    /// Describe a member (Worker)
    ///
    /// Describe member U of organization O: display name, email, avatar and role there.
    ///
    /// Authentication: `workerAuth` (no permission; session cookies are not accepted).
    /// `404 not-found` when U is not an active member of O.
    #[oai(
        path = "/worker/members/describe",
        method = "post",
        operation_id = "worker-describe-member"
    )]
    async fn describe_member(
        &self,
        ctx: Data<&AppContext>,
        _worker: WorkerAuth,
        body: Json<WorkerDescribeMemberRequest>,
    ) -> Result<Json<WorkerMember>, Problem> {
        let user = user_id(&body.user_id)?;
        let mut conn = ctx.db().acquire().await?;
        let organization = Organization::by_public_id(&mut *conn, &body.organization_id)
            .await?
            .ok_or_else(Problem::not_found)?;
        let Some(role) = directory::membership_role(&mut conn, user, organization.id).await? else {
            return Err(Problem::not_found());
        };
        let profile = directory::load_user(&mut conn, user, organization.id)
            .await
            .map_err(|problem| {
                // "not a member" (raced with a removal) is a 404 here, not a sign-in problem.
                if problem.status().as_u16() == 401 {
                    Problem::not_found()
                } else {
                    problem
                }
            })?;
        Ok(Json(WorkerMember {
            user_id: profile.id,
            organization_id: organization.public_id,
            display_name: profile.display_name,
            email: profile.email,
            avatar_url: profile.avatar_url,
            role,
        }))
    }
}
