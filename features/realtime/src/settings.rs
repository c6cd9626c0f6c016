//! The realtime feature's settings (environment variables, also flags). LiveKit's own settings
//! are `platform_livekit::LiveKitSettings`, registered by this feature too.

use qubital_plugin::SecretString;

/// Token lifetimes, the office-router signing keys, Centrifugo.
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Realtime access")]
pub struct RealtimeSettings {
    /// Lifetime of a conference token, in seconds (the participant must join within it).
    #[arg(long = "conference-token-ttl-secs", env = "CONFERENCE_TOKEN_TTL_SECS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(60..=86_400))]
    pub conference_token_ttl_secs: u64,

    /// `iss` of the office-router connection tokens (the same variable names the backend's own
    /// access-token issuer).
    #[arg(long = "router-token-issuer", env = "JWT_ISSUER", default_value = "qubital")]
    pub router_token_issuer: String,

    /// `aud` of the office-router connection tokens: what the Worker expects.
    #[arg(
        long = "router-token-audience",
        env = "JWT_AUDIENCE",
        default_value = "office-router"
    )]
    pub router_token_audience: String,

    /// RSA private key (PEM, PKCS#1 or PKCS#8, at least 2048 bits) signing the office-router
    /// tokens; `\n` escapes are accepted. Required in production; development generates a
    /// throwaway key.
    #[arg(
        long = "router-token-private-key",
        env = "JWT_PRIVATE_KEY",
        hide_env_values = true
    )]
    pub router_token_private_key: Option<SecretString>,

    /// The previous signing key after a rotation (PEM; public or private, only the public half
    /// is used): still published in the JWKS so tokens in flight keep verifying. Never signs.
    #[arg(
        long = "router-token-previous-key",
        env = "JWT_PREVIOUS_KEY",
        hide_env_values = true
    )]
    pub router_token_previous_key: Option<String>,

    /// WebSocket URL of the office router, returned with its tokens (optional).
    #[arg(long = "office-router-url", env = "OFFICE_ROUTER_URL")]
    pub office_router_url: Option<String>,

    /// HMAC secret of Centrifugo connection tokens (Centrifugo's `token_hmac_secret_key`), at
    /// least 32 bytes. Required in production; development generates a throwaway one.
    #[arg(
        long = "centrifugo-token-secret",
        env = "CENTRIFUGO_TOKEN_SECRET",
        hide_env_values = true
    )]
    pub centrifugo_token_secret: Option<SecretString>,

    /// Lifetime of a Centrifugo connection token, in seconds (the client refreshes it).
    #[arg(long = "centrifugo-token-ttl-secs", env = "CENTRIFUGO_TOKEN_TTL_SECS", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(60..=86_400))]
    pub centrifugo_token_ttl_secs: u64,

    /// Centrifugo's client WebSocket URL, returned with connection tokens (optional).
    #[arg(long = "centrifugo-client-url", env = "CENTRIFUGO_CLIENT_URL")]
    pub centrifugo_client_url: Option<String>,
}

/// How the backend checks the tokens of the office-router Worker on `/worker/...`.
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Worker authentication")]
pub struct WorkerAuthSettings {
    /// Public key (PEM) verifying the Worker's tokens: RSA → RS256, P-256 → ES256. Set this or
    /// WORKER_JWT_SECRET (required in production).
    #[arg(long = "worker-jwt-public-key", env = "WORKER_JWT_PUBLIC_KEY")]
    pub worker_jwt_public_key: Option<String>,

    /// Shared secret (HS256, at least 32 bytes) verifying the Worker's tokens, instead of a
    /// public key.
    #[arg(long = "worker-jwt-secret", env = "WORKER_JWT_SECRET", hide_env_values = true)]
    pub worker_jwt_secret: Option<SecretString>,

    /// `iss` the Worker's tokens must carry.
    #[arg(
        long = "worker-jwt-issuer",
        env = "WORKER_JWT_ISSUER",
        default_value = "office-router"
    )]
    pub worker_jwt_issuer: String,

    /// `aud` the Worker's tokens must carry.
    #[arg(
        long = "worker-jwt-audience",
        env = "WORKER_JWT_AUDIENCE",
        default_value = "qubital"
    )]
    pub worker_jwt_audience: String,

    /// Clock skew tolerated on `exp`/`nbf`, in seconds.
    #[arg(long = "worker-jwt-leeway-secs", env = "WORKER_JWT_LEEWAY_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(0..=60))]
    pub worker_jwt_leeway_secs: u64,
}

/// A PEM from an environment variable: `\n` escapes (common in `.env` files and secret
/// stores) become line breaks.
pub(crate) fn pem_text(value: &str) -> String {
    value.trim().replace("\\n", "\n")
}
