//! Secret settings and the one rule every feature's `init` applies to what it needs
//! ([`Environment::required`](crate::Environment::required),
//! [`Environment::required_secret`](crate::Environment::required_secret)).
//!
//! Secrets are [`SecretString`]s (the `secrecy` crate, also used by the platform clients): their
//! `Debug` prints `[REDACTED]`, so a settings struct can derive `Debug` safely, and
//! [`ExposeSecret::expose_secret`] is the one, greppable, way to read one.
//!
//! The rule: a blank value counts as unset. A setting the process needs that is unset stops the
//! boot in production (one line naming the variable) and disables what depends on it in
//! development (one warning saying what). A secret shorter than its minimum is refused in every
//! environment: a short key is a weak key wherever it is configured.

pub use secrecy::{ExposeSecret, SecretString};

/// A present, non-blank value of an optional setting (trimmed).
pub fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A present, non-blank value of an optional secret.
pub fn present_secret(value: &Option<SecretString>) -> Option<&SecretString> {
    value.as_ref().filter(|s| !s.expose_secret().trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_and_blank_is_unset() {
        let secret = SecretString::from("hunter2-hunter2");
        assert!(!format!("{:?}", Some(secret.clone())).contains("hunter2"));
        assert_eq!(secret.expose_secret(), "hunter2-hunter2");
        assert!(present_secret(&Some(SecretString::from("  "))).is_none());
        assert!(present_secret(&Some(secret)).is_some());
        assert_eq!(present(&Some(" a ".into())), Some("a"));
    }
}
