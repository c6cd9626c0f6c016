//! A connection's tokens: sealed at rest with the identity feature's sealer (the associated
//! data names the column), opened only to call the provider, never logged (`Tokens`' `Debug`
//! redacts them) and never sent to a client. An access token is reused while it lives for
//! another minute, refreshed otherwise (and once more when the provider refuses it); a refresh
//! the provider refuses for good marks the connection broken.

use std::{future::Future, sync::Arc};

use chrono::{Duration, Utc};
use platform_calendar::{CalendarError, CalendarProvider, Tokens};
use qubital_auth::crypto::{OpenError, Sealer};
use qubital_plugin::{ExposeSecret, SecretString};
use sqlx::PgPool;

use crate::store::{self, ConnectionRow};

pub(crate) const REFRESH_TOKEN: &str = "calendar_connections.refresh_token";
pub(crate) const ACCESS_TOKEN: &str = "calendar_connections.access_token";
pub(crate) const CODE_VERIFIER: &str = "calendar_oauth_states.code_verifier";

/// Why a provider call on behalf of a connection failed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The grant is gone; the connection is now marked broken.
    Broken,
    Provider(CalendarError),
    Database(sqlx::Error),
    /// A sealed token does not open (the encryption key changed): as good as broken.
    Unreadable,
}

impl From<sqlx::Error> for CallError {
    fn from(error: sqlx::Error) -> Self {
        CallError::Database(error)
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Broken => f.write_str("the provider refused the grant"),
            CallError::Provider(error) => write!(f, "{error}"),
            CallError::Database(error) => write!(f, "{error}"),
            CallError::Unreadable => f.write_str("the stored tokens do not open with the current key"),
        }
    }
}

/// What acting for one connection needs.
pub(crate) struct Acting<'a> {
    pub db: &'a PgPool,
    pub sealer: &'a Sealer,
    pub provider: &'a Arc<dyn CalendarProvider>,
    pub connection: &'a ConnectionRow,
}

impl Acting<'_> {
    /// Runs `call` with a live access token; refreshes and runs it once more when the provider
    /// refuses the token. No transaction is open meanwhile.
    pub(crate) async fn call<T, F, Fut>(&self, call: F) -> Result<T, CallError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T, CalendarError>>,
    {
        let token = match self.stored_access_token() {
            Some(token) => token,
            None => self.refresh().await?,
        };
        match call(token).await {
            Err(error) if error.needs_refresh() => {
                let token = self.refresh().await?;
                call(token).await.map_err(CallError::Provider)
            }
            other => other.map_err(CallError::Provider),
        }
    }

    /// The stored access token while it lives for another minute.
    fn stored_access_token(&self) -> Option<String> {
        let connection = self.connection;
        let expires_at = connection.access_expires_at?;
        if expires_at < Utc::now() + Duration::seconds(60) {
            return None;
        }
        let sealed = connection.access_token.as_ref()?;
        self.sealer.open(sealed, ACCESS_TOKEN).ok()
    }

    /// A fresh access token from the refresh token, stored sealed (with a rotated refresh
    /// token). A refused grant marks the connection broken.
    async fn refresh(&self) -> Result<String, CallError> {
        let connection = self.connection;
        let Ok(refresh_token) = open(self.sealer, &connection.refresh_token, REFRESH_TOKEN) else {
            tracing::error!(connection_id = %connection.id, "a calendar refresh token does not open");
            store::mark_broken(self.db, connection.id).await?;
            return Err(CallError::Unreadable);
        };
        match self.provider.refresh(refresh_token.expose_secret()).await {
            Ok(tokens) => {
                self.store(&tokens).await?;
                Ok(tokens.access_token)
            }
            Err(error) if error.is_broken_connection() => {
                tracing::info!(connection_id = %connection.id, "the calendar grant was revoked: connection broken");
                store::mark_broken(self.db, connection.id).await?;
                Err(CallError::Broken)
            }
            Err(error) => Err(CallError::Provider(error)),
        }
    }

    async fn store(&self, tokens: &Tokens) -> Result<(), sqlx::Error> {
        let access = self.sealer.seal(&tokens.access_token, ACCESS_TOKEN);
        let rotated = tokens
            .refresh_token
            .as_ref()
            .map(|token| self.sealer.seal(token, REFRESH_TOKEN));
        store::store_access_token(
            self.db,
            self.connection.id,
            &access,
            tokens.expires_at,
            rotated.as_deref(),
        )
        .await
    }
}

/// Opens a sealed token into a [`SecretString`], whose `Debug` shows nothing.
pub(crate) fn open(sealer: &Sealer, sealed: &[u8], column: &str) -> Result<SecretString, OpenError> {
    sealer.open(sealed, column).map(SecretString::from)
}
