//! The identity feature's settings (environment variables, also flags).

use qubital_plugin::SecretString;

/// Sign-in, session and token settings.
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Identity")]
pub struct AuthSettings {
    /// Key signing the access tokens (HS256), at least 32 bytes. Required in production;
    /// development generates a throwaway one at boot.
    #[arg(long = "jwt-secret", env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<SecretString>,

    /// `iss` (and `aud`) of the access tokens.
    #[arg(long = "jwt-issuer", env = "JWT_ISSUER", default_value = "qubital")]
    pub jwt_issuer: String,

    /// Lifetime of an access token, in seconds. An expired token with a live session is
    /// refreshed transparently.
    #[arg(long = "access-token-ttl-secs", env = "ACCESS_TOKEN_TTL_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub access_token_ttl_secs: u64,

    /// Absolute lifetime of a session (and of its cookie), in days.
    #[arg(long = "session-ttl-days", env = "SESSION_TTL_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=365))]
    pub session_ttl_days: u32,

    /// AES-256-GCM key sealing WorkOS refresh tokens at rest: 32 bytes, base64. Required in
    /// production; development generates a throwaway one (sessions then die with the process).
    #[arg(
        long = "session-encryption-key",
        env = "SESSION_ENCRYPTION_KEY",
        hide_env_values = true
    )]
    pub session_encryption_key: Option<SecretString>,

    /// Redirect URI of the web OAuth flow (registered with WorkOS). Required in production.
    #[arg(long = "workos-redirect-uri", env = "WORKOS_REDIRECT_URI")]
    pub redirect_uri: Option<String>,

    /// Redirect URI of the desktop OAuth flow [default: the web one].
    #[arg(long = "workos-desktop-redirect-uri", env = "WORKOS_DESKTOP_REDIRECT_URI")]
    pub desktop_redirect_uri: Option<String>,

    /// Sign-in requests (start/finalize/select/sign-up) allowed per client IP per minute.
    #[arg(long = "sign-in-rate-limit", env = "SIGN_IN_RATE_LIMIT_PER_MINUTE", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub sign_in_rate_limit: u32,

    /// Take the client IP from the first `X-Forwarded-For` entry (only behind a proxy that sets
    /// it).
    #[arg(long = "trust-forwarded-for", env = "TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
}
