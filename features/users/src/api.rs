//! The operations on the signed-in user (tag `User`).

use platform_workos::Workos;
use poem::web::Data;
use poem_openapi::{payload::Json, Object, OpenApi, Tags};
use qubital_auth::{directory, store, validate, workos_problem, User};
use qubital_plugin::{auth::CookieAuth, wire, AppContext, Problem};

#[derive(Tags)]
enum UserTag {
    /// The signed-in user and their profile.
    User,
}

/// Longest display, first or last name.
const MAX_NAME: usize = 100;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct UpdateProfileRequest {
    /// The name shown to the current organization. Omitted: unchanged; empty: reset to the
    /// full name.
    display_name: Option<wire::ClearableName<MAX_NAME>>,
    /// Omitted: unchanged; empty: cleared.
    first_name: Option<wire::ClearableName<MAX_NAME>>,
    /// Omitted: unchanged; empty: cleared.
    last_name: Option<wire::ClearableName<MAX_NAME>>,
}

/// `None` = unchanged, `Some(None)` = cleared, `Some(Some(v))` = set.
fn optional_name(
    location: &str,
    value: Option<wire::ClearableName<MAX_NAME>>,
) -> Result<Option<Option<String>>, Problem> {
    match value {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(Some(None)),
        Some(v) => Ok(Some(Some(validate::name(location, &v, MAX_NAME)?))),
    }
}

/// Changes the user's first and/or last name (`None`: unchanged, `Some(None)`: cleared) at
/// WorkOS, for WorkOS users: if WorkOS refuses, nothing changes here either. No transaction or
/// pooled connection is held during the call (a slow WorkOS must not starve the pool); only the
/// changed names are sent, so concurrent updates of different names never undo each other, and
/// eventsync mirrors WorkOS's final state whatever order two updates of one name land in.
async fn update_names_at_workos(
    db: &sqlx::PgPool,
    workos: &Workos,
    user_id: i64,
    first_name: Option<Option<&str>>,
    last_name: Option<Option<&str>>,
) -> Result<(), Problem> {
    let Some(workos_id) = store::users::names(db, user_id).await?.workos_id else {
        return Ok(());
    };
    workos
        .update_user(
            &workos_id,
            first_name.map(|name| name.unwrap_or("")),
            last_name.map(|name| name.unwrap_or("")),
        )
        .await
        .map_err(workos_problem)?;
    Ok(())
}

#[derive(Default)]
pub struct UserApi;

#[OpenApi(tag = "UserTag::User")]
impl UserApi {
    /// Get the signed-in user
    ///
    /// The signed-in user, with their memberships and current organization.
    ///
    /// Permission: none (any signed-in user).
    #[oai(path = "/user/get", method = "post", operation_id = "get-current-user")]
    async fn get(&self, ctx: Data<&AppContext>, auth: CookieAuth) -> Result<Json<User>, Problem> {
        let mut conn = ctx.db().acquire().await?;
        Ok(Json(
            directory::load_user(&mut conn, auth.0.user_id, auth.0.organization_id).await?,
        ))
    }

    /// Update the profile
    ///
    /// Update the profile: display name (in the current organization), first and last name
    /// (global, kept in step with WorkOS).
    ///
    /// Permission: none (any signed-in user; only their own profile).
    #[oai(path = "/user/update", method = "post", operation_id = "update-profile")]
    async fn update(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<UpdateProfileRequest>,
    ) -> Result<Json<User>, Problem> {
        let caller = auth.0;
        let body = body.0;
        let display_name = optional_name("body.displayName", body.display_name)?;
        let first_name = optional_name("body.firstName", body.first_name)?;
        let last_name = optional_name("body.lastName", body.last_name)?;

        let (first_name, last_name) = (
            first_name.as_ref().map(Option::as_deref),
            last_name.as_ref().map(Option::as_deref),
        );
        if first_name.is_some() || last_name.is_some() {
            update_names_at_workos(
                ctx.db(),
                ctx.get::<Workos>(),
                caller.user_id,
                first_name,
                last_name,
            )
            .await?;
        }
        let mut tx = ctx.db().begin().await?;
        if first_name.is_some() || last_name.is_some() {
            store::users::set_name_fields(&mut *tx, caller.user_id, first_name, last_name).await?;
        }
        if let Some(display_name) = display_name {
            store::memberships::set_display_name(
                &mut *tx,
                caller.user_id,
                caller.organization_id,
                display_name.as_deref(),
            )
            .await?;
        }
        let user = directory::load_user(&mut tx, caller.user_id, caller.organization_id).await?;
        tx.commit().await?;
        Ok(Json(user))
    }
}
