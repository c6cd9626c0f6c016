//! Centrifugo connection tokens (HS256 with Centrifugo's `token_hmac_secret_key`).
//!
//! The token's `channels` claim subscribes the connection, server-side, to the caller's own
//! identity channels only; conversation and status channels are authorized separately (chat's
//! subscribe tokens and presence). Chat reuses this signer (`ctx.get::<CentrifugoTokens>()`)
//! instead of registering the secret a second time.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use qubital_plugin::auth::Role;
use serde::Serialize;

/// The channels a member may be subscribed to by their connection token.
pub fn identity_channels(user_id: i64, organization_public_id: &str, role: Role) -> Vec<String> {
    vec![
        // `#` limits the channel to the user whose id follows (Centrifugo's user boundary).
        format!("user:#{user_id}"),
        format!("org:{organization_public_id}"),
        format!("role:{organization_public_id}.{}", role.as_str()),
    ]
}

#[derive(Serialize)]
struct ConnectionClaims<'a> {
    sub: String,
    iat: i64,
    exp: i64,
    channels: &'a [String],
}

/// Signs Centrifugo tokens. Cheap to clone.
#[derive(Clone)]
pub struct CentrifugoTokens {
    key: EncodingKey,
    pub ttl_secs: u64,
    pub client_url: Option<String>,
}

impl CentrifugoTokens {
    pub fn new(secret: &[u8], ttl_secs: u64, client_url: Option<String>) -> Self {
        Self {
            key: EncodingKey::from_secret(secret),
            ttl_secs,
            client_url,
        }
    }

    /// A connection token for `user_id` subscribed to `channels`, expiring at `exp` (Unix s).
    pub fn connection_token(
        &self,
        user_id: i64,
        channels: &[String],
        now: i64,
    ) -> anyhow::Result<(String, i64)> {
        let exp = now + self.ttl_secs as i64;
        let claims = ConnectionClaims {
            sub: user_id.to_string(),
            iat: now,
            exp,
            channels,
        };
        Ok((encode(&Header::new(Algorithm::HS256), &claims, &self.key)?, exp))
    }

    /// Signs any Centrifugo claims (subscription tokens of other features) with HS256.
    pub fn sign<C: Serialize>(&self, claims: &C) -> anyhow::Result<String> {
        Ok(encode(&Header::new(Algorithm::HS256), claims, &self.key)?)
    }
}
