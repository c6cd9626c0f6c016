//! The Auth operations (tag `Auth`).

use chrono::{DateTime, Utc};
use platform_workos::{AuthorizationRequest, Workos};
use poem::{web::Data, Request};
use poem_openapi::{payload::Json, ApiResponse, Enum, Object, OpenApi, Tags};
use qubital_plugin::{auth::CookieAuth, AppContext, Problem};

use crate::{
    crypto::{random_token, s256},
    directory::User,
    flows::{self, AuthResult, Entrant},
    ratelimit,
    sessions::{self, reason},
    state::{sign_in_problem, AuthState},
    validate,
};

/// Associated data of sealed PKCE verifiers and invitation tokens of OAuth starts.
const STATE_CONTEXT: &str = "oauth_states";

/// How long an OAuth start may wait for its finalize.
const OAUTH_STATE_TTL_SECS: f64 = 600.0;

#[derive(Tags)]
enum AuthTag {
    /// Sign-in and sign-up (WorkOS), organization selection and switching, sign-out. Success
    /// sets the `access_token` cookie; tokens never appear in a body.
    Auth,
}

/// Which kind of OAuth client starts the sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum OAuthClient {
    /// The browser app: the backend generates and keeps the PKCE verifier.
    Web,
    /// The desktop app: sends its own S256 `codeChallenge` now and `codeVerifier` at finalize.
    Desktop,
}

/// The identity provider to sign in with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum OAuthProvider {
    Google,
    Microsoft,
    /// The hosted AuthKit page (every method the WorkOS environment enables).
    Authkit,
}

impl OAuthProvider {
    fn workos_name(self) -> &'static str {
        match self {
            OAuthProvider::Google => "GoogleOAuth",
            OAuthProvider::Microsoft => "MicrosoftOAuth",
            OAuthProvider::Authkit => "authkit",
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct StartOAuthRequest {
    client: OAuthClient,
    /// Desktop only (required there): the S256 PKCE challenge, base64url without padding.
    #[oai(validator(min_length = 43, max_length = 128))]
    code_challenge: Option<String>,
    /// Defaults to `google`.
    provider: Option<OAuthProvider>,
    /// The token of a WorkOS invitation being accepted by this sign-in.
    #[oai(validator(min_length = 1, max_length = 512))]
    invitation_token: Option<String>,
    /// Pre-fills the email at the identity provider.
    #[oai(validator(max_length = 254))]
    login_hint: Option<String>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct StartOAuthResponse {
    /// Where to send the user's browser.
    authorization_url: String,
    /// Comes back with the code; single use.
    state: String,
    /// After this, finalize refuses the state.
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct FinalizeOAuthRequest {
    #[oai(validator(min_length = 1, max_length = 512))]
    code: String,
    #[oai(validator(min_length = 1, max_length = 512))]
    state: String,
    /// Desktop only (required there): the PKCE verifier whose challenge started the flow.
    #[oai(validator(min_length = 43, max_length = 128))]
    code_verifier: Option<String>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct StartMagicAuthRequest {
    #[oai(validator(max_length = 320))]
    email: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct MagicAuthStarted {
    /// The address the one-time code was sent to.
    email: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct FinalizeMagicAuthRequest {
    #[oai(validator(max_length = 320))]
    email: String,
    /// The one-time code from the email.
    #[oai(validator(min_length = 1, max_length = 64))]
    code: String,
    #[oai(validator(min_length = 1, max_length = 512))]
    invitation_token: Option<String>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct SelectOrganizationRequest {
    /// From the `organization-selection-required` result.
    #[oai(validator(min_length = 1, max_length = 512))]
    selection_id: String,
    /// One of the offered organizations.
    #[oai(validator(min_length = 1, max_length = 64))]
    organization_id: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct SwitchOrganizationRequest {
    /// An organization the user belongs to.
    #[oai(validator(min_length = 1, max_length = 64))]
    organization_id: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct SignUpRequest {
    /// From the `sign-up-required` result.
    #[oai(validator(min_length = 1, max_length = 512))]
    sign_up_id: String,
    /// Create this organization and become its admin...
    #[oai(validator(max_length = 200))]
    organization_name: Option<String>,
    /// ...or join through a WorkOS invitation (the token from the email)...
    #[oai(validator(min_length = 1, max_length = 512))]
    invitation_token: Option<String>,
    /// ...or join through an organization's invite link. Exactly one of the three.
    #[oai(validator(min_length = 1, max_length = 128))]
    invite_id: Option<String>,
}

#[derive(ApiResponse)]
enum SignedOut {
    /// The session has ended and the cookie is cleared.
    #[oai(status = 204)]
    Done,
}

/// The WorkOS id of the invitation a sign-in carries, to mark its mirror accepted afterwards
/// (best effort: an unknown token is WorkOS's to refuse at authenticate).
async fn invitation_id(workos: &Workos, token: Option<&str>) -> Option<String> {
    workos.find_invitation_by_token(token?).await.ok().map(|i| i.id)
}

fn workos_and_state(ctx: &AppContext) -> (&AuthState, &Workos) {
    (ctx.get::<AuthState>(), ctx.get::<Workos>())
}

#[derive(Default)]
pub struct AuthApi;

#[OpenApi(tag = "AuthTag::Auth")]
impl AuthApi {
    /// Start an OAuth sign-in: returns the URL to send the browser to. Web clients get
    /// backend-managed PKCE (kept server-side under `state`); desktop clients send their S256
    /// challenge. The `state` is single use and expires after 10 minutes.
    ///
    /// Permission: none (public). Rate-limited per IP.
    #[oai(path = "/auth/start-oauth", method = "post", operation_id = "start-oauth")]
    async fn start_oauth(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        body: Json<StartOAuthRequest>,
    ) -> Result<Json<StartOAuthResponse>, Problem> {
        let (state, workos) = workos_and_state(&ctx);
        ratelimit::check(&ctx, state, req).await?;
        let body = body.0;
        if !workos.is_enabled() {
            return Err(Problem::integration_disabled("WorkOS"));
        }
        let (verifier, challenge) = match (body.client, body.code_challenge) {
            (OAuthClient::Desktop, Some(challenge)) => {
                let challenge = validate::token("body.codeChallenge", &challenge)?;
                (None, challenge)
            }
            (OAuthClient::Desktop, None) => {
                return Err(Problem::invalid_field(
                    "body.codeChallenge",
                    "is required for desktop sign-in",
                ))
            }
            (OAuthClient::Web, Some(_)) => {
                return Err(Problem::invalid_field(
                    "body.codeChallenge",
                    "must not be sent for web sign-in (the server manages PKCE)",
                ))
            }
            (OAuthClient::Web, None) => {
                let verifier = random_token(48);
                let challenge = s256(&verifier);
                (Some(verifier), challenge)
            }
        };
        let invitation_token = body
            .invitation_token
            .as_deref()
            .map(|t| validate::token("body.invitationToken", t))
            .transpose()?;
        let login_hint = body
            .login_hint
            .as_deref()
            .map(|e| validate::email("body.loginHint", e))
            .transpose()?;
        let settings = state.settings();
        let redirect_uri = match body.client {
            OAuthClient::Web => settings.redirect_uri.clone(),
            OAuthClient::Desktop => settings
                .desktop_redirect_uri
                .clone()
                .or_else(|| settings.redirect_uri.clone()),
        }
        .ok_or_else(|| Problem::integration_disabled("WorkOS (no WORKOS_REDIRECT_URI)"))?;
        let oauth_state = random_token(32);
        let expires_at: DateTime<Utc> = sqlx::query_scalar(
            "INSERT INTO oauth_states (state, client, code_verifier, code_challenge, redirect_uri, invitation_token, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
             RETURNING expires_at",
        )
        .bind(&oauth_state)
        .bind(match body.client {
            OAuthClient::Web => "web",
            OAuthClient::Desktop => "desktop",
        })
        .bind(verifier.as_deref().map(|v| state.sealer().seal(v, STATE_CONTEXT)))
        .bind(verifier.is_none().then_some(&challenge))
        .bind(&redirect_uri)
        .bind(invitation_token.as_deref().map(|t| state.sealer().seal(t, STATE_CONTEXT)))
        .bind(OAUTH_STATE_TTL_SECS)
        .fetch_one(ctx.db())
        .await?;
        let url = workos
            .authorization_url(&AuthorizationRequest {
                redirect_uri,
                state: oauth_state.clone(),
                code_challenge: Some(challenge),
                provider: body
                    .provider
                    .unwrap_or(OAuthProvider::Google)
                    .workos_name()
                    .to_owned(),
                login_hint,
            })
            .map_err(crate::state::workos_problem)?;
        Ok(Json(StartOAuthResponse {
            authorization_url: url,
            state: oauth_state,
            expires_at,
        }))
    }

    /// Finish an OAuth sign-in with the `code` and `state` the redirect carried (desktop also
    /// sends its `codeVerifier`). Signs in (sets the cookie), or asks for an organization
    /// selection or a sign-up.
    ///
    /// Permission: none (public). Rate-limited per IP.
    #[oai(
        path = "/auth/finalize-oauth",
        method = "post",
        operation_id = "finalize-oauth"
    )]
    async fn finalize_oauth(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        body: Json<FinalizeOAuthRequest>,
    ) -> Result<Json<AuthResult>, Problem> {
        let (state, workos) = workos_and_state(&ctx);
        ratelimit::check(&ctx, state, req).await?;
        let body = body.0;
        let code = validate::token("body.code", &body.code)?;
        let oauth_state = validate::token("body.state", &body.state)?;
        // Single use: the row is gone whatever happens next.
        let row = sqlx::query_as::<_, (String, Option<Vec<u8>>, Option<String>, Option<Vec<u8>>, bool)>(
            "DELETE FROM oauth_states WHERE state = $1
             RETURNING client, code_verifier, code_challenge, invitation_token, expires_at > now()",
        )
        .bind(&oauth_state)
        .fetch_optional(ctx.db())
        .await?;
        let Some((client, sealed_verifier, challenge, sealed_invitation, live)) = row else {
            return Err(
                Problem::new(&crate::problems::OAUTH_STATE_INVALID).with_detail("Start the sign-in again.")
            );
        };
        if !live {
            return Err(
                Problem::new(&crate::problems::OAUTH_STATE_EXPIRED).with_detail("Start the sign-in again.")
            );
        }
        let verifier = if client == "desktop" {
            let verifier = body.code_verifier.ok_or_else(|| {
                Problem::invalid_field("body.codeVerifier", "is required for desktop sign-in")
            })?;
            if Some(s256(&verifier)) != challenge {
                return Err(
                    Problem::new(&crate::problems::PKCE_MISMATCH).with_detail("Start the sign-in again.")
                );
            }
            verifier
        } else {
            if body.code_verifier.is_some() {
                return Err(Problem::invalid_field(
                    "body.codeVerifier",
                    "must not be sent for web sign-in (the server manages PKCE)",
                ));
            }
            sealed_verifier
                .and_then(|v| state.sealer().open(&v, STATE_CONTEXT).ok())
                .ok_or_else(|| Problem::internal("an OAuth state's verifier does not open"))?
        };
        let invitation = sealed_invitation.and_then(|t| state.sealer().open(&t, STATE_CONTEXT).ok());
        let invitation_id = invitation_id(workos, invitation.as_deref()).await;
        let outcome = workos
            .authenticate_with_code(
                &code,
                Some(&verifier),
                invitation.as_deref(),
                &state.client_info(req),
            )
            .await
            .map_err(sign_in_problem)?;
        Ok(Json(
            flows::complete_sign_in(&ctx, req, outcome, invitation_id.as_deref()).await?,
        ))
    }

    /// Email a one-time sign-in code (Magic Auth) to an address.
    ///
    /// Permission: none (public). Rate-limited per IP.
    #[oai(
        path = "/auth/start-magic-auth",
        method = "post",
        operation_id = "start-magic-auth"
    )]
    async fn start_magic_auth(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        body: Json<StartMagicAuthRequest>,
    ) -> Result<Json<MagicAuthStarted>, Problem> {
        let (state, workos) = workos_and_state(&ctx);
        ratelimit::check(&ctx, state, req).await?;
        let email = validate::email("body.email", &body.0.email)?;
        workos
            .send_magic_auth_code(&email, &state.client_info(req))
            .await
            .map_err(sign_in_problem)?;
        Ok(Json(MagicAuthStarted { email }))
    }

    /// Sign in with the emailed one-time code.
    ///
    /// Permission: none (public). Rate-limited per IP.
    #[oai(
        path = "/auth/finalize-magic-auth",
        method = "post",
        operation_id = "finalize-magic-auth"
    )]
    async fn finalize_magic_auth(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        body: Json<FinalizeMagicAuthRequest>,
    ) -> Result<Json<AuthResult>, Problem> {
        let (state, workos) = workos_and_state(&ctx);
        ratelimit::check(&ctx, state, req).await?;
        let body = body.0;
        let email = validate::email("body.email", &body.email)?;
        let code = validate::token("body.code", &body.code)?;
        let invitation = body
            .invitation_token
            .as_deref()
            .map(|t| validate::token("body.invitationToken", t))
            .transpose()?;
        let invitation_id = invitation_id(workos, invitation.as_deref()).await;
        let outcome = workos
            .authenticate_with_magic_auth(&email, &code, invitation.as_deref(), &state.client_info(req))
            .await
            .map_err(sign_in_problem)?;
        Ok(Json(
            flows::complete_sign_in(&ctx, req, outcome, invitation_id.as_deref()).await?,
        ))
    }

    /// Finish a sign-in that asked for an organization: signs into the chosen one.
    ///
    /// Permission: none (public; needs the `selectionId`). Rate-limited per IP.
    #[oai(
        path = "/auth/select-organization",
        method = "post",
        operation_id = "select-organization"
    )]
    async fn select_organization(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        body: Json<SelectOrganizationRequest>,
    ) -> Result<Json<User>, Problem> {
        let (state, _) = workos_and_state(&ctx);
        ratelimit::check(&ctx, state, req).await?;
        let selection = validate::token("body.selectionId", &body.0.selection_id)?;
        let org = validate::token("body.organizationId", &body.0.organization_id)?;
        Ok(Json(
            flows::select_organization(&ctx, req, &selection, &org).await?,
        ))
    }

    /// Move the session to another organization the user belongs to (re-issues the cookie).
    /// An organization the user does not belong to answers 404.
    ///
    /// Permission: none (any signed-in user).
    #[oai(
        path = "/auth/switch-organization",
        method = "post",
        operation_id = "switch-organization"
    )]
    async fn switch_organization(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
        body: Json<SwitchOrganizationRequest>,
    ) -> Result<Json<User>, Problem> {
        let org = validate::token("body.organizationId", &body.0.organization_id)?;
        let caller = auth.0;
        Ok(Json(
            flows::switch_organization(&ctx, req, caller.session_id, caller.user_id, &org).await?,
        ))
    }

    /// Finish the sign-in of a user who has no organization yet: create one (and become its
    /// admin), or join one through a WorkOS invitation or an invite link.
    ///
    /// Permission: none (public; needs the `signUpId`). Rate-limited per IP.
    #[oai(path = "/auth/sign-up", method = "post", operation_id = "sign-up")]
    async fn sign_up(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        body: Json<SignUpRequest>,
    ) -> Result<Json<User>, Problem> {
        let (state, _) = workos_and_state(&ctx);
        ratelimit::check(&ctx, state, req).await?;
        let body = body.0;
        let entrant = Entrant::SignUp(validate::token("body.signUpId", &body.sign_up_id)?);
        let user = match (body.organization_name, body.invitation_token, body.invite_id) {
            (Some(name), None, None) => {
                let name = validate::name("body.organizationName", &name, 100)?;
                flows::create_organization(&ctx, req, entrant, &name).await?
            }
            (None, Some(token), None) => {
                let token = validate::token("body.invitationToken", &token)?;
                flows::join_by_invitation(&ctx, req, entrant, &token).await?
            }
            (None, None, Some(invite)) => {
                let invite = validate::token("body.inviteId", &invite)?;
                flows::join_by_invite_link(&ctx, req, entrant, &invite).await?
            }
            _ => {
                return Err(Problem::invalid_field(
                    "body",
                    "send exactly one of organizationName, invitationToken, inviteId",
                ))
            }
        };
        Ok(Json(user))
    }

    /// End the current session and clear the cookie (the WorkOS session is revoked too).
    ///
    /// Permission: none (any signed-in user).
    #[oai(path = "/auth/sign-out", method = "post", operation_id = "sign-out")]
    async fn sign_out(
        &self,
        ctx: Data<&AppContext>,
        req: &Request,
        auth: CookieAuth,
    ) -> Result<SignedOut, Problem> {
        let (state, workos) = workos_and_state(&ctx);
        let mut conn = ctx.db().acquire().await?;
        let ended = sessions::end_session(&mut conn, auth.0.session_id, reason::SIGNED_OUT).await?;
        sessions::revoke_with_workos(workos, ended);
        sessions::clear_cookie(state, req);
        Ok(SignedOut::Done)
    }
}
