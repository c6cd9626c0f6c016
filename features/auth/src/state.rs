//! The feature's runtime state, built once at boot.

use std::sync::Arc;

use platform_workos::{ClientInfo, WorkosError};
use poem::Request;
use qubital_plugin::Problem;

use crate::{crypto::Sealer, settings::AuthSettings, tokens::TokenKeys};

/// Keys and settings of the identity feature, provided to the app context at boot.
#[derive(Clone)]
pub struct AuthState {
    inner: Arc<Inner>,
}

struct Inner {
    tokens: TokenKeys,
    sealer: Sealer,
    settings: AuthSettings,
    secure_cookies: bool,
}

impl AuthState {
    pub fn new(tokens: TokenKeys, sealer: Sealer, settings: AuthSettings, secure_cookies: bool) -> Self {
        Self {
            inner: Arc::new(Inner {
                tokens,
                sealer,
                settings,
                secure_cookies,
            }),
        }
    }

    pub fn tokens(&self) -> &TokenKeys {
        &self.inner.tokens
    }

    pub fn sealer(&self) -> &Sealer {
        &self.inner.sealer
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.inner.settings
    }

    pub fn secure_cookies(&self) -> bool {
        self.inner.secure_cookies
    }

    /// The client's IP as the host determined it (`TRUSTED_PROXY_HOPS`).
    pub fn client_ip(&self, req: &Request) -> Option<String> {
        req.data::<qubital_plugin::request::ClientIp>()
            .map(|ip| ip.0.to_string())
    }

    /// What WorkOS gets to know about the end user's request.
    pub fn client_info(&self, req: &Request) -> ClientInfo {
        ClientInfo {
            ip_address: self.client_ip(req),
            user_agent: req
                .headers()
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(512).collect()),
        }
    }
}

/// The answer to a failed WorkOS call made on behalf of an operation.
pub fn workos_problem(error: WorkosError) -> Problem {
    match error {
        WorkosError::Disabled => Problem::integration_disabled("WorkOS"),
        WorkosError::Unavailable(message) => {
            tracing::error!(error = %message, "WorkOS is unavailable");
            integration_unavailable()
        }
        WorkosError::Rejected {
            status,
            code,
            message,
            ..
        } => {
            tracing::error!(status, ?code, %message, "WorkOS refused a request");
            Problem::new(&qubital_plugin::problem::types::INTEGRATION_ERROR)
        }
    }
}

pub fn integration_unavailable() -> Problem {
    Problem::new(&qubital_plugin::problem::types::INTEGRATION_UNAVAILABLE).with_retry_after(5)
}

/// The answer to a sign-in WorkOS refused (bad code, bad verifier, expired token).
pub fn sign_in_problem(error: WorkosError) -> Problem {
    match error {
        WorkosError::Rejected { status, code, .. } => {
            tracing::info!(status, ?code, "WorkOS refused a sign-in");
            Problem::new(&crate::problems::SIGN_IN_REJECTED)
                .with_detail("The code or token was refused; start the sign-in again.")
        }
        other => workos_problem(other),
    }
}
