//! `POST /internal/centrifugo/subscribe`: Centrifugo's subscribe proxy. Centrifugo asks it
//! whether the connection's user may subscribe to a channel (one without a subscription token):
//!
//! - `chat:<conversationId>`: a member of the conversation who is still an active member of its
//!   organization;
//! - `status:<organizationId>:<userId>`: an active member of that organization, about a member
//!   of it;
//! - anything else: refused.
//!
//! Authenticated by `Authorization: Bearer <CENTRIFUGO_PROXY_TOKEN>` (a static header in
//! Centrifugo's proxy configuration). A refusal is `200 {"error": {"code": 403, …}}` (final for
//! the client); a failure to decide (database down) is a 5xx problem, which Centrifugo turns into
//! a temporary error the client retries.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use platform_centrifugo::subscribe_proxy::{SubscribeRequest, SubscribeResponse};
use poem::web::Data;
use poem_openapi::{param::Header, payload::Json, OpenApi, Tags};
use qubital_auth::directory::{self, Organization};
use qubital_plugin::{problem::types, AppContext, ExposeSecret, Problem};
use serde_json::Value;
use sqlx::PgConnection;

use crate::{
    channels::{self, Parsed},
    settings::ChatState,
    store,
};

#[derive(Tags)]
enum InternalTag {
    /// Operations for operators and schedulers, authenticated by a shared bearer token; not
    /// for clients.
    Internal,
}

#[derive(Default)]
pub(crate) struct SubscribeProxyApi;

#[OpenApi(tag = "InternalTag::Internal")]
impl SubscribeProxyApi {
    /// Authorize a messaging subscription
    ///
    /// Centrifugo's subscribe proxy: the body is Centrifugo's subscribe request (`user`,
    /// `channel`, …) and the answer its `{"result": {}}` (allowed) or `{"error": {"code": 403,
    /// "message": "permission denied"}}`. `chat:` channels admit the conversation's members,
    /// `status:<organizationId>:<userId>` the organization's members. Authenticated by
    /// `Authorization: Bearer <CENTRIFUGO_PROXY_TOKEN>` (`401 invalid-token`); `503
    /// integration-disabled` when no token is configured.
    #[oai(
        path = "/internal/centrifugo/subscribe",
        method = "post",
        operation_id = "authorize-subscription"
    )]
    async fn subscribe(
        &self,
        ctx: Data<&AppContext>,
        #[oai(name = "Authorization")] authorization: Header<Option<String>>,
        body: Json<Value>,
    ) -> Result<Json<Value>, Problem> {
        let Some(expected) = ctx.get::<ChatState>().proxy_token.as_ref() else {
            return Err(Problem::integration_disabled("the subscribe proxy"));
        };
        let given = authorization
            .0
            .as_deref()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or_default();
        // Constant time: the comparison must not tell how much of a guess was right.
        if verify_slices_are_equal(given.as_bytes(), expected.expose_secret().as_bytes()).is_err() {
            tracing::warn!("subscribe proxy call with a wrong token");
            return Err(Problem::new(&types::INVALID_TOKEN));
        }
        let request: SubscribeRequest = serde_json::from_value(body.0)
            .map_err(|_| Problem::invalid_field("body", "not a Centrifugo subscribe request"))?;
        let mut conn = ctx.db().acquire().await?;
        let allowed = admits(&mut conn, &request).await?;
        if !allowed {
            tracing::info!(user = %request.user, channel = %request.channel, "subscription refused");
        }
        let answer = if allowed {
            SubscribeResponse::allow()
        } else {
            SubscribeResponse::permission_denied()
        };
        Ok(Json(serde_json::to_value(answer).map_err(Problem::internal)?))
    }
}

/// Whether `request.user` may subscribe to `request.channel`.
async fn admits(conn: &mut PgConnection, request: &SubscribeRequest) -> Result<bool, sqlx::Error> {
    let Some(user) = request.user.parse::<i64>().ok().filter(|id| *id > 0) else {
        return Ok(false);
    };
    match channels::parse(&request.channel) {
        Parsed::Conversation(id) => match store::organization_if_member(conn, id, user).await? {
            Some(org_id) => Ok(directory::membership_role(conn, user, org_id).await?.is_some()),
            None => Ok(false),
        },
        Parsed::Status {
            organization,
            user_id,
        } => {
            let Some(organization) = Organization::by_public_id(&mut *conn, organization).await? else {
                return Ok(false);
            };
            Ok(directory::membership_role(conn, user, organization.id)
                .await?
                .is_some()
                && directory::membership_role(conn, user_id, organization.id)
                    .await?
                    .is_some())
        }
        Parsed::Other => Ok(false),
    }
}
