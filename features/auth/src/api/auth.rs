//! The sign-in operations (tag `Auth`): OAuth and Magic Auth, organization selection,
//! sign-up, switching, sign-out. Each checks the rate limit, validates its input and calls the
//! flow that does the work ([`crate::sign_in`], [`crate::enter`]).

use chrono::{DateTime, Utc};
use platform_workos::Workos;
use poem::{web::Data, Request};
use poem_openapi::{payload::Json, ApiResponse, Enum, Object, OpenApi, Tags, Union};
use qubital_plugin::{auth::CookieAuth, wire, AppContext, Problem};

use crate::{
    directory::{OrganizationRef, User},
    enter::{self, Entrant},
    ratelimit,
    sessions::{self, reason},
    sign_in::{self, OAuthStart, Outcome, Pkce},
    state::{sign_in_problem, AuthState},
    validate,
};

#[derive(Tags)]
enum AuthTag {
    /// Sign-in and sign-up (WorkOS), organization selection and switching, sign-out. Success
    /// sets the `access_token` cookie; tokens never appear in a body.
    Auth,
}

/// `web`: the browser app; the backend generates and keeps the PKCE verifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum WebClient {
    Web,
}

/// `desktop`: the desktop app; it sends its own S256 `codeChallenge` now and its
/// `codeVerifier` at finalize.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum DesktopClient {
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

/// A PKCE code verifier or S256 challenge (RFC 7636: 43..128 unreserved characters).
pub struct PkceRule;

impl wire::Rule for PkceRule {
    const NAME: &'static str = "pkce";
    const PATTERN: &'static str = "^[A-Za-z0-9._~-]+$";
    const MIN_LENGTH: usize = 43;
    const MAX_LENGTH: usize = 128;
}

type PkceText = wire::Text<PkceRule>;

/// Start a sign-in from the browser app (`client: web`) or the desktop app (`client:
/// desktop`, with its PKCE challenge).
#[derive(Debug, Union)]
#[oai(one_of)]
enum StartOAuthRequest {
    Web(StartWebOAuth),
    Desktop(StartDesktopOAuth),
}

/// A browser sign-in: the server manages PKCE, so no challenge is sent.
#[derive(Debug, Object)]
// No `deny_unknown_fields` (poem-openapi refuses it with `flatten`): the host's request guard
// refuses unknown fields before parsing (`additionalProperties: false`).
#[oai(rename_all = "camelCase")]
struct StartWebOAuth {
    client: WebClient,
    #[oai(flatten)]
    options: OAuthOptions,
}

/// A desktop sign-in, with the client's own PKCE challenge.
#[derive(Debug, Object)]
// No `deny_unknown_fields` (poem-openapi refuses it with `flatten`): the host's request guard
// refuses unknown fields before parsing (`additionalProperties: false`).
#[oai(rename_all = "camelCase")]
struct StartDesktopOAuth {
    client: DesktopClient,
    /// The S256 PKCE challenge, base64url without padding.
    code_challenge: PkceText,
    #[oai(flatten)]
    options: OAuthOptions,
}

/// What both kinds of client may add to a sign-in.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct OAuthOptions {
    /// Defaults to `google`.
    provider: Option<OAuthProvider>,
    /// The token of a WorkOS invitation being accepted by this sign-in.
    invitation_token: Option<wire::Token<512>>,
    /// Pre-fills the email at the identity provider.
    login_hint: Option<wire::Email>,
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
    code: wire::Token<512>,
    state: wire::Token<512>,
    /// Desktop only (required there): the PKCE verifier whose challenge started the flow.
    code_verifier: Option<PkceText>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct StartMagicAuthRequest {
    email: wire::Email,
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
    email: wire::Email,
    /// The one-time code from the email.
    code: wire::Token<64>,
    invitation_token: Option<wire::Token<512>>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct SelectOrganizationRequest {
    /// From the `organization-selection-required` result.
    selection_id: wire::Token<512>,
    /// One of the offered organizations.
    organization_id: wire::Token<64>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct SwitchOrganizationRequest {
    /// An organization the user belongs to.
    organization_id: wire::Token<64>,
}

/// Finish a sign-up in one of three ways: create an organization, or join one through a
/// WorkOS invitation or an invite link.
#[derive(Debug, Union)]
#[oai(one_of)]
enum SignUpRequest {
    CreateOrganization(SignUpCreatingOrganization),
    Invitation(SignUpByInvitation),
    InviteLink(SignUpByInviteLink),
}

/// Create this organization and become its admin.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct SignUpCreatingOrganization {
    /// From the `sign-up-required` result.
    sign_up_id: wire::Token<512>,
    /// 1..100 characters (trimmed).
    organization_name: wire::Name<100>,
}

/// Join through a WorkOS invitation.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct SignUpByInvitation {
    /// From the `sign-up-required` result.
    sign_up_id: wire::Token<512>,
    /// The token from the invitation email.
    invitation_token: wire::Token<512>,
}

/// Join through an organization's invite link.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct SignUpByInviteLink {
    /// From the `sign-up-required` result.
    sign_up_id: wire::Token<512>,
    /// The link's invite id.
    invite_id: wire::Token<128>,
}

#[derive(ApiResponse)]
enum SignedOut {
    /// The session has ended and the cookie is cleared.
    #[oai(status = 204)]
    Done,
}

/// Signed in: the cookie is set.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SignedIn {
    pub user: User,
}

/// The user belongs to several organizations: choose one with `/auth/select-organization`.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct OrganizationSelectionRequired {
    /// Opaque, single-use handle for `/auth/select-organization` (valid 15 minutes).
    pub selection_id: String,
    pub organizations: Vec<OrganizationRef>,
}

/// The user has no organization yet: finish with `/auth/sign-up` (create one, or join by
/// invitation or invite link).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct SignUpRequired {
    /// Opaque, single-use handle for `/auth/sign-up` (valid 15 minutes).
    pub sign_up_id: String,
    pub email: String,
}

/// The outcome of a sign-in: `status` says which.
#[derive(Debug, Union)]
#[oai(discriminator_name = "status")]
pub enum AuthResult {
    #[oai(mapping = "signed-in")]
    SignedIn(SignedIn),
    #[oai(mapping = "organization-selection-required")]
    OrganizationSelectionRequired(OrganizationSelectionRequired),
    #[oai(mapping = "sign-up-required")]
    SignUpRequired(SignUpRequired),
}

impl From<Outcome> for AuthResult {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::SignedIn(user) => AuthResult::SignedIn(SignedIn { user }),
            Outcome::SelectionRequired {
                selection_id,
                organizations,
            } => AuthResult::OrganizationSelectionRequired(OrganizationSelectionRequired {
                selection_id,
                organizations: organizations
                    .into_iter()
                    .map(|o| OrganizationRef {
                        id: o.public_id,
                        name: o.name,
                        logo_url: None,
                    })
                    .collect(),
            }),
            Outcome::SignUpRequired { sign_up_id, email } => {
                AuthResult::SignUpRequired(SignUpRequired { sign_up_id, email })
            }
        }
    }
}

impl StartOAuthRequest {
    /// The PKCE arrangement (the web client leaves it to the server) and the common options.
    fn into_parts(self) -> (Pkce, OAuthOptions) {
        match self {
            StartOAuthRequest::Web(web) => (Pkce::Server, web.options),
            StartOAuthRequest::Desktop(desktop) => (
                Pkce::Client {
                    challenge: desktop.code_challenge.into_string(),
                },
                desktop.options,
            ),
        }
    }
}

/// An optional invitation token, validated.
fn invitation_token(token: Option<&str>) -> Result<Option<String>, Problem> {
    token
        .map(|t| validate::token("body.invitationToken", t))
        .transpose()
}

#[derive(Default)]
pub struct AuthApi;

#[OpenApi(tag = "AuthTag::Auth")]
impl AuthApi {
    /// Start OAuth sign-in
    ///
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
        ratelimit::check(&ctx, ctx.get::<AuthState>(), req).await?;
        if !ctx.get::<Workos>().is_enabled() {
            return Err(Problem::integration_disabled("WorkOS"));
        }
        let (pkce, options) = body.0.into_parts();
        let start = OAuthStart {
            pkce,
            provider: options.provider.unwrap_or(OAuthProvider::Google).workos_name(),
            invitation_token: invitation_token(options.invitation_token.as_deref())?,
            login_hint: options
                .login_hint
                .as_deref()
                .map(|e| validate::email("body.loginHint", e))
                .transpose()?,
        };
        let started = sign_in::start_oauth(&ctx, req, start).await?;
        Ok(Json(StartOAuthResponse {
            authorization_url: started.authorization_url,
            state: started.state,
            expires_at: started.expires_at,
        }))
    }

    /// Finish OAuth sign-in
    ///
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
        ratelimit::check(&ctx, ctx.get::<AuthState>(), req).await?;
        let body = body.0;
        let code = validate::token("body.code", &body.code)?;
        let state = validate::token("body.state", &body.state)?;
        let verifier = body.code_verifier.map(wire::Text::into_string);
        let outcome = sign_in::finish_oauth(&ctx, req, &code, &state, verifier).await?;
        Ok(Json(outcome.into()))
    }

    /// Start Magic Auth sign-in
    ///
    /// Email a one-time sign-in code (Magic Auth) to an address.
    ///
    /// Permission: none (public). Rate-limited per IP and per address.
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
        let state = ctx.get::<AuthState>();
        ratelimit::check(&ctx, state, req).await?;
        let email = validate::email("body.email", &body.0.email)?;
        ratelimit::magic_auth_send(&ctx, &email).await?;
        ctx.get::<Workos>()
            .send_magic_auth_code(&email, &state.client_info(req))
            .await
            .map_err(sign_in_problem)?;
        Ok(Json(MagicAuthStarted { email }))
    }

    /// Finish Magic Auth sign-in
    ///
    /// Sign in with the emailed one-time code.
    ///
    /// Permission: none (public). Rate-limited per IP and per address (attempts at its code).
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
        ratelimit::check(&ctx, ctx.get::<AuthState>(), req).await?;
        let body = body.0;
        let email = validate::email("body.email", &body.email)?;
        let code = validate::token("body.code", &body.code)?;
        let invitation = invitation_token(body.invitation_token.as_deref())?;
        let outcome = sign_in::finish_magic_auth(&ctx, req, &email, &code, invitation.as_deref()).await?;
        Ok(Json(outcome.into()))
    }

    /// Choose the organization to sign into
    ///
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
        ratelimit::check(&ctx, ctx.get::<AuthState>(), req).await?;
        let selection = validate::token("body.selectionId", &body.0.selection_id)?;
        let org = validate::token("body.organizationId", &body.0.organization_id)?;
        Ok(Json(
            sign_in::select_organization(&ctx, req, &selection, &org).await?,
        ))
    }

    /// Switch organization
    ///
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
            enter::switch_organization(&ctx, req, caller.session_id, &org).await?,
        ))
    }

    /// Finish sign-up with a new organization
    ///
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
        ratelimit::check(&ctx, ctx.get::<AuthState>(), req).await?;
        let entrant = |sign_up_id: &str| validate::token("body.signUpId", sign_up_id).map(Entrant::SignUp);
        let user = match body.0 {
            SignUpRequest::CreateOrganization(form) => {
                let name = validate::name("body.organizationName", &form.organization_name, 100)?;
                enter::create_organization(&ctx, req, entrant(&form.sign_up_id)?, &name).await?
            }
            SignUpRequest::Invitation(form) => {
                let token = validate::token("body.invitationToken", &form.invitation_token)?;
                enter::join_by_invitation(&ctx, req, entrant(&form.sign_up_id)?, &token).await?
            }
            SignUpRequest::InviteLink(form) => {
                let invite = validate::token("body.inviteId", &form.invite_id)?;
                enter::join_by_invite_link(&ctx, req, entrant(&form.sign_up_id)?, &invite).await?
            }
        };
        Ok(Json(user))
    }

    /// Sign out
    ///
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
        let mut conn = ctx.db().acquire().await?;
        let ended = sessions::end_session(&mut conn, auth.0.session_id, reason::SIGNED_OUT).await?;
        sessions::revoke_with_workos(ctx.get::<Workos>(), ended);
        sessions::clear_cookie(ctx.get::<AuthState>(), req);
        Ok(SignedOut::Done)
    }
}
