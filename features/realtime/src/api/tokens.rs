//! The Realtime operations (tag `Realtime`): tokens to connect to the realtime transports, and
//! the office-router's public keys.

use chrono::{DateTime, TimeZone, Utc};
use platform_livekit::{ParticipantGrants, TrackSource};
use poem::web::Data;
use poem_openapi::{payload::Json, ApiResponse, Object, OpenApi, Tags};
use qubital_auth::{directory, permissions::VIEW_ORGANIZATION};
use qubital_plugin::{
    auth::{Caller, CookieAuth, Role},
    AppContext, Problem,
};
use qubital_spaces::permissions::LIST_ROOMS;
use serde::Serialize;
use uuid::Uuid;

use crate::{centrifugo, conference, settings::RealtimeState};

/// Lifetime of an office-router connection token: it only opens the WebSocket.
pub const ROUTER_TOKEN_TTL_SECS: i64 = 60;

/// How long clients (the Worker) may cache the JWKS.
const JWKS_MAX_AGE_SECS: u32 = 300;

#[derive(Tags)]
enum RealtimeTag {
    /// Short-lived credentials for the realtime transports (the conference of a space, the
    /// space router, the messaging connection). The transports themselves are not named.
    Realtime,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct ConferenceTokenRequest {
    /// The space whose conference to join.
    space_id: Uuid,
}

/// Joins the live audio/video conference of one space.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct ConferenceToken {
    token: String,
    /// The conference server to connect to with `token`.
    url: String,
    /// After this instant the token no longer admits the participant.
    expires_at: DateTime<Utc>,
}

/// Opens the space-router WebSocket (movement and state of the organization's spaces).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct RouterToken {
    token: String,
    /// The router's WebSocket URL, when configured on this server.
    url: Option<String>,
    /// One minute after issuance: use it right away.
    expires_at: DateTime<Utc>,
}

/// Authenticates the messaging WebSocket that chat and presence ride.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct ConnectionToken {
    token: String,
    /// The messaging WebSocket URL, when configured on this server.
    url: Option<String>,
    expires_at: DateTime<Utc>,
    /// The caller's own identity channels, subscribed by the token.
    channels: Vec<String>,
}

/// A public key of the office-router tokens (RFC 7517).
#[derive(Debug, Object)]
struct Jwk {
    /// Always `RSA`.
    kty: String,
    /// Always `sig`.
    #[oai(rename = "use")]
    key_use: String,
    /// Always `RS256`.
    alg: String,
    /// Matches the `kid` header of the tokens it verifies.
    kid: String,
    n: String,
    e: String,
}

/// The JSON Web Key Set of the office-router tokens: the signing key, and the previous one
/// while a rotation is under way.
#[derive(Debug, Object)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(ApiResponse)]
enum JwksResponse {
    /// The published keys. Refetch on an unknown `kid`.
    #[oai(status = 200)]
    Ok(Json<JwkSet>, #[oai(header = "Cache-Control")] String),
}

#[derive(Serialize)]
struct RouterClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    /// The user id (the same as `userId`).
    sub: String,
    #[serde(rename = "userId")]
    user_id: String,
    #[serde(rename = "orgId")]
    org_id: &'a str,
    role: Role,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
}

/// The conference grants of a role: everyone hears and sees; guests publish camera and
/// microphone but do not share their screen; moderators and admins administer the room (mute,
/// remove). Nobody rewrites their own metadata, which carries the role.
pub fn conference_grants(role: Role) -> ParticipantGrants {
    ParticipantGrants {
        can_subscribe: true,
        can_publish_sources: (role == Role::Guest)
            .then(|| vec![TrackSource::Camera, TrackSource::Microphone]),
        can_publish_data: true,
        room_admin: role >= Role::Moderator,
        can_update_own_metadata: false,
    }
}

fn timestamp(unix: i64) -> Result<DateTime<Utc>, Problem> {
    Utc.timestamp_opt(unix, 0)
        .single()
        .ok_or_else(|| Problem::internal("token expiry out of range"))
}

/// The caller as the tokens name them (display name, the organization's public id): cached for
/// at most `SESSION_CACHE_SECS` like the session, else one query.
async fn participant(ctx: &AppContext, caller: &Caller) -> Result<directory::Participant, Problem> {
    directory::cached_participant(ctx, caller.user_id, caller.organization_id).await
}

#[derive(Default)]
pub(crate) struct RealtimeApi;

#[OpenApi(tag = "RealtimeTag::Realtime")]
impl RealtimeApi {
    /// Get a conference token
    ///
    /// A token to join the conference of a space of the caller's organization: identity = the
    /// caller's user id, name = their display name, metadata = `{userId, organizationId,
    /// role}`, grants by role.
    ///
    /// Permission: `ListRooms`. `404 not-found` for a space of another organization;
    /// `503 integration-disabled` when the conference is not configured on this server.
    #[oai(
        path = "/realtime/conference-token",
        method = "post",
        operation_id = "get-conference-token"
    )]
    async fn conference_token(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<ConferenceTokenRequest>,
    ) -> Result<Json<ConferenceToken>, Problem> {
        let caller = &auth.0;
        caller.require(&LIST_ROOMS)?;
        let state = ctx.get::<RealtimeState>();
        if !state.livekit.is_enabled() {
            return Err(Problem::integration_disabled("The conference service"));
        }
        // The space and the participant are usually cached (for at most `SPACE_CACHE_SECS`,
        // `SESSION_CACHE_SECS`): then the request reads nothing. On a miss, two independent
        // reads on two pooled connections at once.
        let (space, user) = tokio::try_join!(
            async {
                qubital_spaces::cached_in_organization(&ctx, caller.organization_id, body.space_id)
                    .await
                    .map_err(Problem::from)
            },
            participant(&ctx, caller),
        )?;
        let space = space.ok_or_else(Problem::not_found)?;
        let metadata = conference::member_metadata(&user, caller.role);
        let access = conference::mint(
            &ctx,
            space.id,
            conference::Participant {
                identity: &user.id,
                name: &user.display_name,
                metadata: &metadata,
                role: caller.role,
            },
            None,
        )?;
        Ok(Json(ConferenceToken {
            token: access.token,
            url: access.url,
            expires_at: access.expires_at,
        }))
    }

    /// Get a space-router token
    ///
    /// A one-minute token to open the space-router WebSocket: RS256, `sub`/`userId` = the
    /// caller's user id, `orgId` = their current organization, `role`; verify it with the keys
    /// of `/.well-known/jwks.json` (by `kid`).
    ///
    /// Permission: `ListRooms`.
    #[oai(
        path = "/realtime/router-token",
        method = "post",
        operation_id = "get-router-token"
    )]
    async fn router_token(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
    ) -> Result<Json<RouterToken>, Problem> {
        let caller = &auth.0;
        caller.require(&LIST_ROOMS)?;
        let state = ctx.get::<RealtimeState>();
        let user = participant(&ctx, caller).await?;
        let now = Utc::now().timestamp();
        let exp = now + ROUTER_TOKEN_TTL_SECS;
        let claims = RouterClaims {
            iss: &state.router_issuer,
            aud: &state.router_audience,
            sub: user.id.clone(),
            user_id: user.id,
            org_id: &user.organization_id,
            role: caller.role,
            iat: now,
            nbf: now,
            exp,
            jti: Uuid::new_v4().to_string(),
        };
        let keys = state.router_keys.get().await?;
        Ok(Json(RouterToken {
            token: keys.sign(&claims)?,
            url: state.router_url.clone(),
            expires_at: timestamp(exp)?,
        }))
    }

    /// Get a messaging connection token
    ///
    /// A token for the messaging WebSocket (chat and presence): HS256, `sub` = the caller's
    /// user id, `channels` = their own identity channels (`user:#<userId>`,
    /// `org:<organizationId>`, `role:<organizationId>.<role>`).
    ///
    /// Permission: `ViewOrganization`.
    #[oai(
        path = "/realtime/connection-token",
        method = "post",
        operation_id = "get-connection-token"
    )]
    async fn connection_token(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
    ) -> Result<Json<ConnectionToken>, Problem> {
        let caller = &auth.0;
        caller.require(&VIEW_ORGANIZATION)?;
        let tokens = &ctx.get::<RealtimeState>().centrifugo;
        let user = participant(&ctx, caller).await?;
        let channels = centrifugo::identity_channels(caller.user_id, &user.organization_id, caller.role);
        let (token, exp) = tokens.connection_token(caller.user_id, &channels, Utc::now().timestamp())?;
        Ok(Json(ConnectionToken {
            token,
            url: tokens.client_url.clone(),
            expires_at: timestamp(exp)?,
            channels,
        }))
    }

    /// Router token public keys (JWKS)
    ///
    /// The public keys of the space-router tokens (JWKS). Public; cacheable for five minutes.
    #[oai(path = "/.well-known/jwks.json", method = "get", operation_id = "get-jwks")]
    async fn jwks(&self, ctx: Data<&AppContext>) -> Result<JwksResponse, Problem> {
        let keys = ctx.get::<RealtimeState>().router_keys.get().await?;
        let keys = keys
            .published()
            .into_iter()
            .map(|key| Jwk {
                kty: "RSA".into(),
                key_use: "sig".into(),
                alg: "RS256".into(),
                kid: key.kid,
                n: key.n,
                e: key.e,
            })
            .collect();
        Ok(JwksResponse::Ok(
            Json(JwkSet { keys }),
            format!("public, max-age={JWKS_MAX_AGE_SECS}"),
        ))
    }
}
