//! The WorkOS client of the backend: User Management (sign-in, sessions, memberships,
//! invitations) and Organizations, built on the official `workos` crate.
//!
//! It knows nothing of HTTP routes or problems: callers map [`WorkosError`] to their answers.
//! The base URL is a setting (`WORKOS_API_URL`) so tests point it at a local fake (see the
//! `fake` Cargo feature).
//!
//! A [`Workos`] may be *disabled* (development without credentials): every call then returns
//! [`WorkosError::Disabled`].

pub mod events;
#[cfg(feature = "fake")]
pub mod fake;
mod transport;
pub mod webhook;

use std::{sync::Arc, time::Duration};

use base64::Engine;
use workos::{
    organization_membership::{
        CreateOrganizationMembershipParams, CreateOrganizationMembershipParamsBody,
        ListOrganizationMembershipsParams, Role as WorkosRole, UpdateOrganizationMembershipParams,
        UpdateOrganizationMembershipParamsBody,
    },
    organizations::{CreateOrganizationParams, UpdateOrganizationParams},
    user_management::{
        AuthenticateWithCodeParams, AuthenticateWithMagicAuthParams,
        AuthenticateWithOrganizationSelectionParams, AuthenticateWithRefreshTokenParams,
        CreateMagicAuthParams, GetAuthorizationUrlParams, RevokeSessionParams, SendInvitationParams,
        UpdateUserParams, UpdateUserParamsBody,
    },
};

/// The real API.
pub const DEFAULT_API_URL: &str = "https://api.workos.com";

/// WorkOS settings, registered by the identity feature (so they appear in `qubital --help`).
/// `Debug` never shows the API key.
#[derive(clap::Args, Clone, Default)]
#[command(next_help_heading = "WorkOS")]
pub struct WorkosSettings {
    /// Base URL of the WorkOS API (tests point it at a local fake).
    #[arg(long = "workos-api-url", env = "WORKOS_API_URL", default_value = DEFAULT_API_URL)]
    pub api_url: String,

    /// WorkOS secret API key (`sk_...`). Required in production; unset in development disables
    /// WorkOS (its operations answer 503 integration-disabled).
    #[arg(long = "workos-api-key", env = "WORKOS_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// WorkOS client id (`client_...`). Required with the API key.
    #[arg(long = "workos-client-id", env = "WORKOS_CLIENT_ID")]
    pub client_id: Option<String>,

    /// Seconds a WorkOS request may take before it fails.
    #[arg(
        long = "workos-timeout-secs",
        env = "WORKOS_TIMEOUT_SECS",
        default_value_t = 10
    )]
    pub timeout_secs: u64,
}

impl std::fmt::Debug for WorkosSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkosSettings")
            .field("api_url", &self.api_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("client_id", &self.client_id)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

impl WorkosSettings {
    /// Whether the API key is a production (`sk_live_`) key: development mode refuses it.
    pub fn is_live(&self) -> bool {
        self.api_key
            .as_deref()
            .is_some_and(|k| k.trim().starts_with("sk_live_"))
    }

    /// The setting that is missing for WorkOS to be usable, if any.
    pub fn missing(&self) -> Option<&'static str> {
        if self.api_key.as_deref().is_none_or(str::is_empty) {
            Some("WORKOS_API_KEY")
        } else if self.client_id.as_deref().is_none_or(str::is_empty) {
            Some("WORKOS_CLIENT_ID")
        } else {
            None
        }
    }
}

/// Why a WorkOS call failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkosError {
    /// WorkOS is not configured in this (development) deployment.
    #[error("WorkOS is not configured")]
    Disabled,
    /// WorkOS answered with a 4xx: the request (a code, a token, an id) was refused.
    #[error("WorkOS refused the request ({status} {code:?}): {message}")]
    Rejected {
        status: u16,
        code: Option<String>,
        message: String,
        body: serde_json::Value,
    },
    /// WorkOS could not be reached, answered 5xx, or answered something unreadable.
    #[error("WorkOS is unavailable: {0}")]
    Unavailable(String),
}

impl WorkosError {
    pub fn code(&self) -> Option<&str> {
        match self {
            WorkosError::Rejected { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            WorkosError::Rejected { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

impl From<workos::Error> for WorkosError {
    fn from(error: workos::Error) -> Self {
        match error.api() {
            Some(api) if (400..500).contains(&api.status) && api.status != 429 => WorkosError::Rejected {
                status: api.status,
                code: api.code.clone(),
                message: api.message.clone(),
                body: serde_json::from_slice(&api.raw_body).unwrap_or(serde_json::Value::Null),
            },
            _ => WorkosError::Unavailable(error.to_string()),
        }
    }
}

pub type Result<T, E = WorkosError> = std::result::Result<T, E>;

/// A WorkOS user, as much of it as the backend uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub profile_picture_url: Option<String>,
}

impl From<workos::User> for User {
    fn from(user: workos::User) -> Self {
        Self {
            id: user.id,
            email: user.email,
            first_name: user.first_name.filter(|s| !s.is_empty()),
            last_name: user.last_name.filter(|s| !s.is_empty()),
            profile_picture_url: user.profile_picture_url.filter(|s| !s.is_empty()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organization {
    pub id: String,
    pub name: String,
}

impl From<workos::Organization> for Organization {
    fn from(org: workos::Organization) -> Self {
        Self {
            id: org.id,
            name: org.name,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub id: String,
    pub user_id: String,
    pub organization_id: String,
    pub role_slug: String,
    /// `active`, `inactive` or `pending`.
    pub status: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    pub id: String,
    pub email: String,
    /// `pending`, `accepted`, `expired` or `revoked`.
    pub state: String,
    pub organization_id: Option<String>,
    pub role_slug: Option<String>,
    pub expires_at: String,
}

impl From<workos::UserInvite> for Invitation {
    fn from(invite: workos::UserInvite) -> Self {
        Self {
            id: invite.id,
            email: invite.email,
            state: invite.state.to_string(),
            organization_id: invite.organization_id,
            role_slug: invite.role_slug,
            expires_at: invite.expires_at,
        }
    }
}

/// A successful authentication: who signed in, into which organization, and the refresh token
/// the backend keeps (encrypted) for the session.
#[derive(Clone, Debug)]
pub struct Authentication {
    pub user: User,
    pub organization_id: Option<String>,
    pub refresh_token: String,
    /// The WorkOS session id (`sid` claim of WorkOS's access token), used to revoke it.
    pub session_id: Option<String>,
}

/// What an authentication attempt produced.
#[derive(Clone, Debug)]
pub enum AuthOutcome {
    Authenticated(Authentication),
    /// The user belongs to several organizations and WorkOS wants one chosen.
    OrganizationSelectionRequired {
        pending_authentication_token: String,
        user: User,
        organizations: Vec<Organization>,
    },
}

/// Where an authorization URL sends the user, and what it carries.
#[derive(Clone, Debug, Default)]
pub struct AuthorizationRequest {
    pub redirect_uri: String,
    pub state: String,
    /// S256 challenge.
    pub code_challenge: Option<String>,
    /// `authkit`, `GoogleOAuth`, `MicrosoftOAuth`, ...
    pub provider: String,
    pub login_hint: Option<String>,
}

/// Facts about the end user's request, forwarded to WorkOS for its risk checks.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// The WorkOS client. Cheap to clone.
#[derive(Clone)]
pub struct Workos {
    client: Option<Arc<workos::Client>>,
}

impl Workos {
    /// A client from settings; disabled when the API key or client id is missing.
    pub fn from_settings(settings: &WorkosSettings) -> anyhow::Result<Self> {
        if settings.missing().is_some() {
            return Ok(Self::disabled());
        }
        let timeout = Duration::from_secs(settings.timeout_secs.max(1));
        let client = workos::Client::builder()
            .api_key(settings.api_key.clone().unwrap_or_default())
            .client_id(settings.client_id.clone().unwrap_or_default())
            .base_url(settings.api_url.trim_end_matches('/'))
            .transport(Arc::new(transport::ReqwestTransport::new(timeout)?))
            .max_retries(1)
            .try_build()
            .map_err(|e| anyhow::anyhow!("invalid WorkOS settings: {e}"))?;
        Ok(Self {
            client: Some(Arc::new(client)),
        })
    }

    pub fn disabled() -> Self {
        Self { client: None }
    }

    pub fn is_enabled(&self) -> bool {
        self.client.is_some()
    }

    fn client(&self) -> Result<&workos::Client> {
        self.client.as_deref().ok_or(WorkosError::Disabled)
    }

    /// The AuthKit / OAuth authorization URL the user's browser is sent to.
    pub fn authorization_url(&self, request: &AuthorizationRequest) -> Result<String> {
        let mut params = GetAuthorizationUrlParams::new(request.redirect_uri.clone());
        params.state = Some(request.state.clone());
        params.provider = Some(request.provider.as_str().parse().unwrap_or_else(|e| match e {}));
        if let Some(challenge) = &request.code_challenge {
            params.code_challenge = Some(challenge.clone());
            params.code_challenge_method = Some("S256".into());
        }
        params.login_hint = request.login_hint.clone();
        self.client()?
            .user_management()
            .get_authorization_url(params)
            .map_err(WorkosError::from)
    }

    pub async fn authenticate_with_code(
        &self,
        code: &str,
        code_verifier: Option<&str>,
        invitation_token: Option<&str>,
        info: &ClientInfo,
    ) -> Result<AuthOutcome> {
        let mut params = AuthenticateWithCodeParams::new(code.to_owned());
        params.code_verifier = code_verifier.map(|v| v.to_owned().into());
        params.invitation_token = invitation_token.map(|v| v.to_owned().into());
        params.ip_address = info.ip_address.clone();
        params.user_agent = info.user_agent.clone();
        outcome(
            self.client()?
                .user_management()
                .authenticate_with_code(params)
                .await,
        )
    }

    pub async fn authenticate_with_magic_auth(
        &self,
        email: &str,
        code: &str,
        invitation_token: Option<&str>,
        info: &ClientInfo,
    ) -> Result<AuthOutcome> {
        let mut params = AuthenticateWithMagicAuthParams::new(code.to_owned(), email);
        params.invitation_token = invitation_token.map(|v| v.to_owned().into());
        params.ip_address = info.ip_address.clone();
        params.user_agent = info.user_agent.clone();
        outcome(
            self.client()?
                .user_management()
                .authenticate_with_magic_auth(params)
                .await,
        )
    }

    pub async fn authenticate_with_organization_selection(
        &self,
        pending_authentication_token: &str,
        organization_id: &str,
        info: &ClientInfo,
    ) -> Result<AuthOutcome> {
        let params = AuthenticateWithOrganizationSelectionParams {
            pending_authentication_token: pending_authentication_token.to_owned().into(),
            organization_id: organization_id.to_owned(),
            ip_address: info.ip_address.clone(),
            device_id: None,
            user_agent: info.user_agent.clone(),
        };
        outcome(
            self.client()?
                .user_management()
                .authenticate_with_organization_selection(params)
                .await,
        )
    }

    /// Exchanges a refresh token (single use) for a new one, optionally moving the session to
    /// another organization the user belongs to.
    pub async fn authenticate_with_refresh_token(
        &self,
        refresh_token: &str,
        organization_id: Option<&str>,
        info: &ClientInfo,
    ) -> Result<AuthOutcome> {
        let mut params = AuthenticateWithRefreshTokenParams::new(refresh_token.to_owned());
        params.organization_id = organization_id.map(str::to_owned);
        params.ip_address = info.ip_address.clone();
        params.user_agent = info.user_agent.clone();
        outcome(
            self.client()?
                .user_management()
                .authenticate_with_refresh_token(params)
                .await,
        )
    }

    /// Emails a one-time Magic Auth code to `email` (WorkOS creates the user if needed).
    pub async fn send_magic_auth_code(&self, email: &str, info: &ClientInfo) -> Result<()> {
        let body = workos::CreateMagicCodeAndReturn {
            email: email.to_owned(),
            invitation_token: None,
            ip_address: info.ip_address.clone(),
            user_agent: info.user_agent.clone(),
            radar_auth_attempt_id: None,
            signals_id: None,
        };
        self.client()?
            .user_management()
            .create_magic_auth(CreateMagicAuthParams::new(body))
            .await?;
        Ok(())
    }

    /// Ends the WorkOS session (best effort on sign-out).
    pub async fn revoke_session(&self, session_id: &str) -> Result<()> {
        let body = workos::RevokeSession {
            session_id: session_id.to_owned(),
        };
        self.client()?
            .user_management()
            .revoke_session(RevokeSessionParams::new(body))
            .await?;
        Ok(())
    }

    pub async fn update_user(
        &self,
        user_id: &str,
        first_name: Option<&str>,
        last_name: Option<&str>,
    ) -> Result<User> {
        let mut body = UpdateUserParamsBody::new();
        body.first_name = first_name.map(str::to_owned);
        body.last_name = last_name.map(str::to_owned);
        let user = self
            .client()?
            .user_management()
            .update_user(user_id, UpdateUserParams::new(body))
            .await?;
        Ok(user.into())
    }

    /// Lists at most one organization and says how many came back: the harmless call
    /// `qubital check` makes to show the key is accepted.
    pub async fn list_one_organization(&self) -> Result<usize> {
        let params = workos::organizations::ListOrganizationsParams {
            limit: Some(1),
            ..Default::default()
        };
        let list = self.client()?.organizations().list_organizations(params).await?;
        Ok(list.data.len())
    }

    pub async fn get_organization(&self, id: &str) -> Result<Organization> {
        let org = self.client()?.organizations().get_organization(id).await?;
        Ok(org.into())
    }

    pub async fn create_organization(&self, name: &str) -> Result<Organization> {
        #[allow(deprecated)]
        let body = workos::OrganizationInput {
            name: name.to_owned(),
            allow_profiles_outside_organization: None,
            domains: None,
            domain_data: None,
            metadata: None,
            external_id: None,
        };
        let org = self
            .client()?
            .organizations()
            .create_organization(CreateOrganizationParams::new(body))
            .await?;
        Ok(org.into())
    }

    pub async fn rename_organization(&self, id: &str, name: &str) -> Result<Organization> {
        #[allow(deprecated)]
        let body = workos::UpdateOrganization {
            name: Some(name.to_owned()),
            allow_profiles_outside_organization: None,
            domains: None,
            domain_data: None,
            stripe_customer_id: None,
            metadata: None,
            external_id: None,
        };
        let org = self
            .client()?
            .organizations()
            .update_organization(id, UpdateOrganizationParams::new(body))
            .await?;
        Ok(org.into())
    }

    /// The membership of `user_id` in `organization_id`, if any.
    pub async fn find_membership(&self, user_id: &str, organization_id: &str) -> Result<Option<Membership>> {
        let params = ListOrganizationMembershipsParams {
            user_id: Some(user_id.to_owned()),
            organization_id: Some(organization_id.to_owned()),
            ..Default::default()
        };
        let list = self
            .client()?
            .organization_membership()
            .list_organization_memberships(params)
            .await?;
        Ok(list.data.into_iter().next().map(|m| Membership {
            id: m.id,
            user_id: m.user_id,
            organization_id: m.organization_id,
            role_slug: m.role.slug,
            status: m.status.to_string(),
        }))
    }

    pub async fn create_membership(
        &self,
        user_id: &str,
        organization_id: &str,
        role_slug: &str,
    ) -> Result<Membership> {
        let body = CreateOrganizationMembershipParamsBody {
            user_id: user_id.to_owned(),
            organization_id: organization_id.to_owned(),
            role: Some(WorkosRole::Single {
                role_slug: role_slug.to_owned(),
            }),
        };
        let m = self
            .client()?
            .organization_membership()
            .create_organization_membership(CreateOrganizationMembershipParams::new(body))
            .await?;
        Ok(Membership {
            id: m.id,
            user_id: m.user_id,
            organization_id: m.organization_id,
            role_slug: m.role.slug,
            status: m.status.to_string(),
        })
    }

    pub async fn update_membership_role(&self, membership_id: &str, role_slug: &str) -> Result<()> {
        let body = UpdateOrganizationMembershipParamsBody {
            role: Some(WorkosRole::Single {
                role_slug: role_slug.to_owned(),
            }),
        };
        self.client()?
            .organization_membership()
            .update_organization_membership(membership_id, UpdateOrganizationMembershipParams::new(body))
            .await?;
        Ok(())
    }

    /// Deletes a membership; one that is already gone counts as deleted.
    pub async fn delete_membership(&self, membership_id: &str) -> Result<()> {
        match self
            .client()?
            .organization_membership()
            .delete_organization_membership(membership_id)
            .await
        {
            Ok(()) => Ok(()),
            Err(error) if error.is_not_found() => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn send_invitation(
        &self,
        email: &str,
        organization_id: &str,
        role_slug: &str,
        inviter_user_id: Option<&str>,
        expires_in_days: Option<i64>,
    ) -> Result<Invitation> {
        let body = workos::CreateUserInviteOptions {
            email: email.to_owned(),
            organization_id: Some(organization_id.to_owned()),
            role_slug: Some(role_slug.to_owned()),
            expires_in_days,
            inviter_user_id: inviter_user_id.map(str::to_owned),
            locale: None,
        };
        let invite = self
            .client()?
            .user_management()
            .send_invitation(SendInvitationParams::new(body))
            .await?;
        Ok(invite.into())
    }

    pub async fn revoke_invitation(&self, id: &str) -> Result<()> {
        self.client()?.user_management().revoke_invitation(id).await?;
        Ok(())
    }

    pub async fn find_invitation_by_token(&self, token: &str) -> Result<Invitation> {
        let invite = self
            .client()?
            .user_management()
            .find_invitation_by_token(token)
            .await?;
        Ok(invite.into())
    }

    pub async fn accept_invitation(&self, id: &str) -> Result<()> {
        self.client()?.user_management().accept_invitation(id).await?;
        Ok(())
    }
    /// Emits one event into WorkOS Audit Logs (`POST /audit_logs/events`) with
    /// `Idempotency-Key: idempotency_key`: WorkOS keeps one event per key, so sending the same
    /// event again (a retry after a lost answer) does not duplicate it.
    pub async fn create_audit_event(
        &self,
        organization_id: &str,
        event: &AuditLogEvent,
        idempotency_key: &str,
    ) -> Result<()> {
        let metadata = |pairs: &[(String, String)]| {
            (!pairs.is_empty()).then(|| {
                pairs
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            workos::AuditLogEventActorMetadataOneOf::String(v.clone()),
                        )
                    })
                    .collect()
            })
        };
        let body = workos::AuditLogEventIngestion {
            organization_id: organization_id.to_owned(),
            event: workos::AuditLogEvent {
                action: event.action.clone(),
                occurred_at: event.occurred_at.clone(),
                actor: workos::AuditLogEventActor {
                    id: event.actor.id.clone(),
                    type_: event.actor.kind.clone(),
                    name: event.actor.name.clone(),
                    metadata: None,
                },
                targets: event
                    .targets
                    .iter()
                    .map(|t| workos::AuditLogEventTarget {
                        id: t.id.clone(),
                        type_: t.kind.clone(),
                        name: t.name.clone(),
                        metadata: None,
                    })
                    .collect(),
                context: workos::AuditLogEventContext {
                    location: event.location.clone(),
                    user_agent: event.user_agent.clone(),
                },
                metadata: metadata(&event.metadata),
                version: None,
            },
        };
        let options = workos::RequestOptions::new()
            .strategy(workos::RequestStrategy::Idempotent(idempotency_key.to_owned()));
        self.client()?
            .audit_logs()
            .create_event_with_options(workos::audit_logs::CreateEventParams::new(body), Some(&options))
            .await?;
        Ok(())
    }
}

/// An event for WorkOS Audit Logs, in its terms (`actor`/`targets` with a `type` and an `id`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditLogEvent {
    pub action: String,
    /// RFC 3339.
    pub occurred_at: String,
    pub actor: AuditLogEntity,
    pub targets: Vec<AuditLogEntity>,
    /// The client's IP address (WorkOS's `context.location`).
    pub location: String,
    pub user_agent: Option<String>,
    /// String metadata (such as the request id).
    pub metadata: Vec<(String, String)>,
}

/// An actor or a target of an [`AuditLogEvent`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditLogEntity {
    pub kind: String,
    pub id: String,
    pub name: Option<String>,
}

fn outcome(result: std::result::Result<workos::AuthenticateResponse, workos::Error>) -> Result<AuthOutcome> {
    match result {
        Ok(response) => {
            let refresh_token = response.refresh_token.expose().to_owned();
            let session_id = session_id_of(response.access_token.expose());
            Ok(AuthOutcome::Authenticated(Authentication {
                user: response.user.into(),
                organization_id: response.organization_id.filter(|s| !s.is_empty()),
                refresh_token,
                session_id,
            }))
        }
        Err(error) => {
            let error = WorkosError::from(error);
            if error.code() == Some("organization_selection_required") {
                if let WorkosError::Rejected { body, .. } = &error {
                    if let Ok(selection) = serde_json::from_value::<SelectionBody>(body.clone()) {
                        return Ok(AuthOutcome::OrganizationSelectionRequired {
                            pending_authentication_token: selection.pending_authentication_token,
                            user: selection.user.into(),
                            organizations: selection
                                .organizations
                                .into_iter()
                                .map(|o| Organization {
                                    id: o.id,
                                    name: o.name,
                                })
                                .collect(),
                        });
                    }
                }
            }
            Err(error)
        }
    }
}

/// The body of WorkOS's `organization_selection_required` error.
#[derive(serde::Deserialize)]
struct SelectionBody {
    pending_authentication_token: String,
    user: workos::User,
    #[serde(default)]
    organizations: Vec<SelectionOrganization>,
}

#[derive(serde::Deserialize)]
struct SelectionOrganization {
    id: String,
    name: String,
}

/// The `sid` claim of a WorkOS access token. The token is not verified here: it came straight
/// from WorkOS over TLS and only its session id is used, to revoke that session later.
fn session_id_of(access_token: &str) -> Option<String> {
    let payload = access_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("sid")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_session_id_of_a_workos_access_token() {
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sid":"session_1","sub":"user_1"}"#);
        assert_eq!(
            session_id_of(&format!("e30.{payload}.sig")).as_deref(),
            Some("session_1")
        );
        assert_eq!(session_id_of("not a jwt"), None);
    }

    #[test]
    fn settings_name_the_missing_variable() {
        let mut settings = WorkosSettings::default();
        assert_eq!(settings.missing(), Some("WORKOS_API_KEY"));
        settings.api_key = Some("sk_test".into());
        assert_eq!(settings.missing(), Some("WORKOS_CLIENT_ID"));
        settings.client_id = Some("client_1".into());
        assert_eq!(settings.missing(), None);
        assert!(Workos::from_settings(&settings).unwrap().is_enabled());
        assert!(!Workos::from_settings(&WorkosSettings::default())
            .unwrap()
            .is_enabled());
    }
}
