//! The invite token: the invitation's id sealed with the identity feature's key (AES-256-GCM,
//! `qubital_auth::crypto::Sealer`), URL-safe base64. Opaque and tamper-proof: it says nothing
//! to whoever holds it, and only this server opens it. Everything else about the invitation
//! (space, expiry, revocation) is read from its row, so revoking takes effect at once.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use qubital_auth::crypto::Sealer;
use uuid::Uuid;

/// The associated data of every invite token: a value sealed for another purpose does not open
/// as one.
const CONTEXT: &str = "guest_invites.token";

pub fn seal(sealer: &Sealer, invite_id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(sealer.seal(&invite_id.to_string(), CONTEXT))
}

/// The invitation id inside `token`, or `None` when it does not open.
pub fn open(sealer: &Sealer, token: &str) -> Option<Uuid> {
    let sealed = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    sealer.open(&sealed, CONTEXT).ok()?.parse().ok()
}
