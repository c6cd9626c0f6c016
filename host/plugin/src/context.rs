//! State shared by every request handler and job.

use std::sync::Arc;

use sqlx::PgPool;

use crate::{
    secret::{ExposeSecret, SecretString},
    ProcessRole,
};

/// The shortest secret production accepts, whatever a feature asks for: below this, a key is
/// guessable.
pub const MIN_PRODUCTION_SECRET_BYTES: usize = 16;

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

    /// A secret this process needs: as [`Environment::required`] (so blank stops a production
    /// boot), and a value shorter than `min_bytes` is refused in every environment; in
    /// production never shorter than [`MIN_PRODUCTION_SECRET_BYTES`], whatever `min_bytes` says.
    pub fn required_secret<'a>(
        self,
        variable: &str,
        value: &'a Option<SecretString>,
        min_bytes: usize,
        disabled: &str,
    ) -> anyhow::Result<Option<&'a SecretString>> {
        let min_bytes = self.secret_floor(min_bytes);
        match crate::secret::present_secret(value) {
            Some(secret) if secret.expose_secret().trim().len() < min_bytes => {
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
        let min_bytes = self.secret_floor(min_bytes);
        match crate::secret::present_secret(value) {
            Some(secret) if secret.expose_secret().trim().len() < min_bytes => {
                anyhow::bail!("{variable} must be at least {min_bytes} bytes")
            }
            other => Ok(other),
        }
    }

    fn secret_floor(self, min_bytes: usize) -> usize {
        if self.is_development() {
            min_bytes
        } else {
            min_bytes.max(MIN_PRODUCTION_SECRET_BYTES)
        }
    }

    /// Development mode (its development sign-in, its throwaway keys) in a place that looks like
    /// production — `what`: a network-facing address, live vendor credentials — is refused
    /// unless `allowed` (`QUBITAL_ALLOW_INSECURE_DEVELOPMENT`), and then logged as an error.
    /// Production is never refused here.
    pub fn refuse_development_with(self, what: &str, allowed: bool) -> anyhow::Result<()> {
        if !self.is_development() {
            return Ok(());
        }
        if allowed {
            tracing::error!(
                "INSECURE: development mode (development sign-in, throwaway keys) runs with {what}, \
                 because QUBITAL_ALLOW_INSECURE_DEVELOPMENT is set"
            );
            return Ok(());
        }
        anyhow::bail!(
            "development mode refuses to run with {what}: its development sign-in and throwaway keys \
             would be exposed. Run with QUBITAL_ENV=production, or set \
             QUBITAL_ALLOW_INSECURE_DEVELOPMENT=true to override"
        )
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
    /// `QUBITAL_ALLOW_INSECURE_DEVELOPMENT`: see [`Boot::refuse_development_with`].
    pub insecure_development_allowed: bool,
    state: http::Extensions,
}

impl Boot {
    pub fn new(db: PgPool, environment: Environment, role: ProcessRole, state: http::Extensions) -> Self {
        Self {
            db,
            environment,
            role,
            insecure_development_allowed: false,
            state,
        }
    }

    /// Development mode with `what` (live vendor credentials, say) is refused unless
    /// `QUBITAL_ALLOW_INSECURE_DEVELOPMENT` is set ([`Environment::refuse_development_with`]).
    pub fn refuse_development_with(&self, what: &str) -> anyhow::Result<()> {
        self.environment
            .refuse_development_with(what, self.insecure_development_allowed)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(value: &str) -> Option<SecretString> {
        Some(SecretString::from(value))
    }

    #[test]
    fn a_blank_or_short_secret_stops_a_production_boot() {
        let production = Environment::Production;
        // `WORKOS_WEBHOOK_SECRET=`: blank is unset, and unset is refused in production.
        for blank in [None, secret(""), secret("   ")] {
            let error = production
                .required_secret("WORKOS_WEBHOOK_SECRET", &blank, 1, "disabled")
                .unwrap_err();
            assert!(
                error.to_string().contains("WORKOS_WEBHOOK_SECRET is required"),
                "{error}"
            );
        }
        // Short: refused, even where the feature asked for a 1-byte minimum.
        let short = secret("abc");
        let error = production
            .required_secret("KEY", &short, 1, "disabled")
            .unwrap_err();
        assert!(error.to_string().contains("at least 16 bytes"), "{error}");
        let error = production.optional_secret("KEY", &short, 1).unwrap_err();
        assert!(error.to_string().contains("at least 16 bytes"), "{error}");
        // Padding does not count.
        let padded = secret("abc                        ");
        assert!(production.required_secret("KEY", &padded, 1, "disabled").is_err());
        // Long enough: accepted.
        let good = secret("0123456789abcdef0123");
        assert!(production
            .required_secret("KEY", &good, 1, "d")
            .unwrap()
            .is_some());
        // Development: blank disables, the feature's own minimum still applies.
        let development = Environment::Development;
        assert!(development
            .required_secret("KEY", &secret(""), 1, "d")
            .unwrap()
            .is_none());
        assert!(development
            .required_secret("KEY", &short, 1, "d")
            .unwrap()
            .is_some());
        assert!(development.required_secret("KEY", &short, 8, "d").is_err());
    }

    #[test]
    fn development_mode_with_production_signs_is_refused_unless_overridden() {
        let what = "a live WorkOS API key";
        let error = Environment::Development
            .refuse_development_with(what, false)
            .unwrap_err();
        assert!(
            error.to_string().contains("QUBITAL_ALLOW_INSECURE_DEVELOPMENT"),
            "{error}"
        );
        assert!(Environment::Development
            .refuse_development_with(what, true)
            .is_ok());
        assert!(Environment::Production
            .refuse_development_with(what, false)
            .is_ok());
    }
}
