//! State shared by every request handler and job.

use std::sync::Arc;

use sqlx::PgPool;

use crate::{
    secret::{ExposeSecret, SecretString},
    ProcessRole,
};

/// Which kind of deployment the process runs as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Environment {
    /// Secrets are required; logs are JSON; cookies are `Secure`.
    Production,
    /// Throwaway keys are generated; logs are coloured text; unconfigured vendors are disabled.
    Development,
}

impl Environment {
    pub fn is_development(self) -> bool {
        self == Environment::Development
    }

    /// A setting this process needs (see [`crate::secret`] for the rule): its trimmed value;
    /// `None` in development when it is unset, after a warning that `disabled` (what stops
    /// working); an error naming `variable` in production.
    pub fn required<'a>(
        self,
        variable: &str,
        value: &'a Option<String>,
        disabled: &str,
    ) -> anyhow::Result<Option<&'a str>> {
        match crate::secret::present(value) {
            Some(value) => Ok(Some(value)),
            None => self.missing(variable, disabled).map(|()| None),
        }
    }

    /// A secret this process needs: as [`Environment::required`], and a value shorter than
    /// `min_bytes` is refused in every environment.
    pub fn required_secret<'a>(
        self,
        variable: &str,
        value: &'a Option<SecretString>,
        min_bytes: usize,
        disabled: &str,
    ) -> anyhow::Result<Option<&'a SecretString>> {
        match crate::secret::present_secret(value) {
            Some(secret) if secret.expose_secret().len() < min_bytes => {
                anyhow::bail!("{variable} must be at least {min_bytes} bytes")
            }
            Some(secret) => Ok(Some(secret)),
            None => self.missing(variable, disabled).map(|()| None),
        }
    }

    /// An optional secret (a feature works without it): blank is unset, and a value shorter
    /// than `min_bytes` is refused.
    pub fn optional_secret<'a>(
        self,
        variable: &str,
        value: &'a Option<SecretString>,
        min_bytes: usize,
    ) -> anyhow::Result<Option<&'a SecretString>> {
        match crate::secret::present_secret(value) {
            Some(secret) if secret.expose_secret().len() < min_bytes => {
                anyhow::bail!("{variable} must be at least {min_bytes} bytes")
            }
            other => Ok(other),
        }
    }

    fn missing(self, variable: &str, disabled: &str) -> anyhow::Result<()> {
        if self.is_development() {
            tracing::warn!("{variable} is unset: {disabled}");
            Ok(())
        } else {
            anyhow::bail!("{variable} is required in production")
        }
    }
}

/// Handed to handlers (as `poem::web::Data<&AppContext>`) and to jobs. Cheap to clone.
#[derive(Clone)]
pub struct AppContext {
    inner: Arc<Inner>,
}

struct Inner {
    db: PgPool,
    environment: Environment,
    state: http::Extensions,
}

impl AppContext {
    pub fn new(db: PgPool, environment: Environment, state: http::Extensions) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                environment,
                state,
            }),
        }
    }

    pub fn db(&self) -> &PgPool {
        &self.inner.db
    }

    pub fn environment(&self) -> Environment {
        self.inner.environment
    }

    /// A value a feature provided at boot (its settings, its clients).
    ///
    /// # Panics
    /// When nothing of type `T` was provided: that is a wiring bug caught by the first test that
    /// touches the feature, not a runtime condition.
    pub fn get<T: Send + Sync + 'static>(&self) -> &T {
        self.try_get().unwrap_or_else(|| {
            panic!(
                "no {} was provided at boot; register it in the feature's init",
                std::any::type_name::<T>()
            )
        })
    }

    pub fn try_get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.inner.state.get::<T>()
    }
}

/// What a feature's [`InitFn`](crate::InitFn) sees while the host boots.
pub struct Boot {
    pub db: PgPool,
    pub environment: Environment,
    /// The process being booted. A feature requires the secrets of what that process runs
    /// (its API operations in `serve`, its jobs in their role) and no others. (`qubital migrate`
    /// runs no feature's init at all.)
    pub role: ProcessRole,
    state: http::Extensions,
}

impl Boot {
    pub fn new(db: PgPool, environment: Environment, role: ProcessRole, state: http::Extensions) -> Self {
        Self {
            db,
            environment,
            role,
            state,
        }
    }

    /// Whether this process serves the HTTP API (and so needs its operations' secrets).
    pub fn serves_api(&self) -> bool {
        self.role.serves_api()
    }

    /// A settings struct registered with [`Settings::of`](crate::Settings::of), or anything an
    /// earlier feature provided.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.state.get::<T>()
    }

    /// Makes `value` available to handlers and jobs through [`AppContext::get`].
    pub fn provide<T: Clone + Send + Sync + 'static>(&mut self, value: T) {
        self.state.insert(value);
    }

    pub fn finish(self) -> AppContext {
        AppContext::new(self.db, self.environment, self.state)
    }
}
