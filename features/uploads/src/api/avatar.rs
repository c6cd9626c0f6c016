//! The caller's avatar in their current organization: upload ticket, finalize, remove (tag
//! `User`; any signed-in user, their own avatar only).

use poem::web::Data;
use poem_openapi::{payload::Json, OpenApi, Tags};
use qubital_auth::{directory, store::memberships, User};
use qubital_plugin::{auth::CookieAuth, problem::types, AppContext, Problem};

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

/// The same tag as `/user/get` (identical text: the spec keeps the first one registered).
#[derive(Tags)]
enum UserTag {
    /// The signed-in user and their profile.
    User,
}

qubital_plugin::operation_errors! {
    /// What `/user/avatar/upload-ticket` answers besides the host's problems.
    pub AvatarTicketErrors = [types::INTEGRATION_DISABLED];
    /// What `/user/avatar/finalize` answers besides the host's problems.
    pub AvatarFinalizeErrors = [
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
    /// What `/user/avatar/remove` answers: the host's problems only.
    pub AvatarRemoveErrors = [];
}

/// Where the caller's avatars go: `avatars/<user id>/<ticket id>.<ext>`.
fn avatar_prefix(user_id: i64) -> String {
    format!("avatars/{user_id}/")
}

#[derive(Default)]
pub(crate) struct AvatarApi;

#[OpenApi(tag = "UserTag::User")]
impl AvatarApi {
    /// Start an avatar upload
    ///
    /// Step 1 of changing the caller's avatar in the current organization: a URL to `PUT` the
    /// image to (PNG, JPEG or WebP, at most 5 MiB), valid 120 s, signed for the declared
    /// `Content-Type` and `Content-Length`. Then call `/user/avatar/finalize` with the `key`.
    /// `503 integration-disabled` when this server has no upload bucket.
    ///
    /// Permission: none (any signed-in user).
    #[oai(
        path = "/user/avatar/upload-ticket",
        method = "post",
        operation_id = "avatar-upload-ticket"
    )]
    async fn upload_ticket(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<UploadTicketRequest>,
    ) -> Result<Json<UploadTicket>, AvatarTicketErrors> {
        Ok(Json(issue(&ctx, &auth.0, Kind::Avatar, body.0).await?))
    }

    /// Finish an avatar upload
    ///
    /// Step 2: checks the uploaded file from its bytes (a PNG, JPEG or WebP image of 16 to 4096
    /// pixels a side, no larger than declared), publishes it at a key the server chooses, sets
    /// it as the caller's `avatarUrl` in the current organization and returns the User. The
    /// ticket is used up; the previous avatar and the temporary file are deleted.
    ///
    /// Permission: none (any signed-in user; only their own tickets).
    #[oai(
        path = "/user/avatar/finalize",
        method = "post",
        operation_id = "avatar-finalize"
    )]
    async fn finalize(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<FinalizeUploadRequest>,
    ) -> Result<Json<User>, AvatarFinalizeErrors> {
        let caller = auth.0;
        let prefix = avatar_prefix(caller.user_id);
        let published = publish(&ctx, &caller, Kind::Avatar, &body.0.key, |id, format| {
            format!("{prefix}{id}.{}", format.extension())
        })
        .await?;

        let mut tx = ctx.db().begin().await?;
        if !store::consume(&mut *tx, published.ticket_id).await? {
            return Err(unknown_ticket().into());
        }
        let replaced = memberships::set_avatar_url(
            &mut tx,
            caller.user_id,
            caller.organization_id,
            Some(&published.url),
        )
        .await?
        .ok_or_else(Problem::unauthorized)?;
        let user = directory::load_user(&mut tx, caller.user_id, caller.organization_id).await?;
        tx.commit().await?;

        clean_up(
            bucket(&ctx)?,
            Some(&published.tmp_key),
            replaced.as_deref(),
            &prefix,
        )
        .await;
        Ok(Json(user))
    }

    /// Remove the avatar
    ///
    /// Clears the caller's avatar in the current organization (and deletes its image when it
    /// was uploaded here). Removing no avatar succeeds. Returns the User.
    ///
    /// Permission: none (any signed-in user; only their own avatar).
    #[oai(path = "/user/avatar/remove", method = "post", operation_id = "remove-avatar")]
    async fn remove(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
    ) -> Result<Json<User>, AvatarRemoveErrors> {
        let caller = auth.0;
        let mut tx = ctx.db().begin().await?;
        let replaced = memberships::set_avatar_url(&mut tx, caller.user_id, caller.organization_id, None)
            .await?
            .ok_or_else(Problem::unauthorized)?;
        let user = directory::load_user(&mut tx, caller.user_id, caller.organization_id).await?;
        tx.commit().await?;

        // Without a bucket (development) there is nothing of ours to delete.
        if let Ok(bucket) = bucket(&ctx) {
            clean_up(bucket, None, replaced.as_deref(), &avatar_prefix(caller.user_id)).await;
        }
        Ok(Json(user))
    }
}
