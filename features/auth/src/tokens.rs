//! The access token: a short-lived HS256 JWT signed by the backend and bound to a session row.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id (internal, stringified).
    pub sub: String,
    /// The session row this token belongs to.
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

/// Signs and verifies access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Built once: it holds sets (issuer, audience, required claims) a per-request build would
    /// allocate on every authenticated request.
    validation: Validation,
    issuer: String,
    ttl_secs: i64,
}

/// Audience of the access tokens: this API.
const AUDIENCE: &str = "qubital-api";

impl TokenKeys {
    pub fn new(secret: &[u8], issuer: &str, ttl_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.leeway = 0;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            ttl_secs: ttl_secs as i64,
        }
    }

    pub fn issue(&self, user_id: i64, session_id: Uuid) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            sid: session_id,
            iat: now,
            exp: now + self.ttl_secs,
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_owned(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).expect("HS256 signing cannot fail")
    }

    /// The claims of a token with a valid signature, issuer and audience, and whether it has
    /// expired (an expired token still identifies its session, for refresh).
    pub fn verify(&self, token: &str) -> Option<(Claims, bool)> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        let expired = data.claims.exp <= chrono::Utc::now().timestamp();
        Some((data.claims, expired))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_with_their_key_only_and_report_expiry() {
        let keys = TokenKeys::new(&[1u8; 32], "qubital", 60);
        let sid = Uuid::new_v4();
        let token = keys.issue(42, sid);
        let (claims, expired) = keys.verify(&token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.sid, expired), ("42", sid, false));
        assert!(TokenKeys::new(&[2u8; 32], "qubital", 60).verify(&token).is_none());
        assert!(TokenKeys::new(&[1u8; 32], "someone-else", 60)
            .verify(&token)
            .is_none());
        assert!(keys.verify("garbage").is_none());

        let old = TokenKeys {
            ttl_secs: -10,
            ..keys.clone()
        };
        let (_, expired) = keys.verify(&old.issue(42, sid)).unwrap();
        assert!(expired);
    }
}
