//! Verification of WorkOS webhook signatures.
//!
//! The `WorkOS-Signature` header is `t=<unix ms>, v1=<hex HMAC-SHA256 of "<t>.<body>">` keyed
//! with the endpoint's secret. A signature is accepted when it matches (compared in constant
//! time) and its timestamp is within `tolerance` of now.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the signature timestamp is outside the tolerance")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

/// Checks `header` against `body`, at time `now`.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    tolerance: Duration,
    now: SystemTime,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = Some(value.trim()),
            Some(("v1", value)) => signature = Some(value.trim()),
            _ => {}
        }
    }
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Malformed);
    };
    let millis: u64 = timestamp.parse().map_err(|_| SignatureError::Malformed)?;
    let expected = hex::decode(signature).map_err(|_| SignatureError::Malformed)?;
    let now_ms = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
    if now_ms.abs_diff(millis) > tolerance.as_millis() as u64 {
        return Err(SignatureError::Stale);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SignatureError::Malformed)?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&expected).map_err(|_| SignatureError::Mismatch)
}

/// A header value signing `body` at `at` (for tests and fakes).
pub fn sign(secret: &[u8], body: &[u8], at: SystemTime) -> String {
    let millis = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(millis.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={millis}, v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_fresh_signature_and_refuses_tampering_and_staleness() {
        let now = SystemTime::now();
        let header = sign(b"secret", b"{\"id\":1}", now);
        let tolerance = Duration::from_secs(300);
        assert_eq!(verify(b"secret", &header, b"{\"id\":1}", tolerance, now), Ok(()));
        assert_eq!(
            verify(b"secret", &header, b"{\"id\":2}", tolerance, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", &header, b"{\"id\":1}", tolerance, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                b"secret",
                &header,
                b"{\"id\":1}",
                tolerance,
                now + Duration::from_secs(301)
            ),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(b"secret", "v1=abc", b"", tolerance, now),
            Err(SignatureError::Malformed)
        );
    }
}
