//! The signed-in user ("me"): `/user/get` and `/user/update`.
//!
//! Profile data is per organization (display name, avatar live on the membership); first and
//! last name are global and kept in step with WorkOS for WorkOS users. Avatar upload arrives
//! with object storage in a later issue; the DTO already carries `avatarUrl`.

use platform_workos::Workos;
use poem::web::Data;
use poem_openapi::{payload::Json, Object, OpenApi, Tags};
use qubital_auth::{directory, validate, workos_problem, User};
use qubital_plugin::{auth::CookieAuth, Api, AppContext, Feature, Problem};

qubital_plugin::inventory::submit! {
    Feature::new("users").apis(&[Api::of::<UserApi>()])
}

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
    #[oai(validator(max_length = 400))]
    display_name: Option<String>,
    /// Omitted: unchanged; empty: cleared.
    #[oai(validator(max_length = 400))]
    first_name: Option<String>,
    /// Omitted: unchanged; empty: cleared.
    #[oai(validator(max_length = 400))]
    last_name: Option<String>,
}

/// `None` = unchanged, `Some(None)` = cleared, `Some(Some(v))` = set.
fn optional_name(location: &str, value: Option<String>) -> Result<Option<Option<String>>, Problem> {
    match value {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(Some(None)),
        Some(v) => Ok(Some(Some(validate::name(location, &v, MAX_NAME)?))),
    }
}

#[derive(Default)]
pub struct UserApi;

#[OpenApi(tag = "UserTag::User")]
impl UserApi {
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

        let mut tx = ctx.db().begin().await?;
        if first_name.is_some() || last_name.is_some() {
            let current: (Option<String>, Option<String>, Option<String>) =
                sqlx::query_as("SELECT workos_id, first_name, last_name FROM users WHERE id = $1 FOR UPDATE")
                    .bind(caller.user_id)
                    .fetch_one(&mut *tx)
                    .await?;
            let (workos_id, old_first, old_last) = current;
            let first = first_name.clone().unwrap_or(old_first);
            let last = last_name.clone().unwrap_or(old_last);
            if let Some(workos_id) = workos_id {
                // WorkOS first: if it refuses, nothing changes here either.
                ctx.get::<Workos>()
                    .update_user(
                        &workos_id,
                        Some(first.as_deref().unwrap_or("")),
                        Some(last.as_deref().unwrap_or("")),
                    )
                    .await
                    .map_err(workos_problem)?;
            }
            sqlx::query("UPDATE users SET first_name = $2, last_name = $3, updated_at = now() WHERE id = $1")
                .bind(caller.user_id)
                .bind(&first)
                .bind(&last)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(display_name) = display_name {
            sqlx::query(
                "UPDATE user_organizations SET display_name = $3, updated_at = now()
                 WHERE user_id = $1 AND org_id = $2",
            )
            .bind(caller.user_id)
            .bind(caller.organization_id)
            .bind(&display_name)
            .execute(&mut *tx)
            .await?;
        }
        let user = directory::load_user(&mut tx, caller.user_id, caller.organization_id).await?;
        tx.commit().await?;
        Ok(Json(user))
    }
}
