//! The problem types of the guest operations (catalogued in `docs/problems.md`).

qubital_plugin::problem_types! {
    /// `/guests/join`: the invite token does not open (mistyped, forged, or from another
    /// server), or its invitation no longer exists (its space was deleted).
    pub GUEST_INVITE_INVALID = (404, "guest-invite-invalid", "The invitation link is not valid");
    /// `/guests/join`: the invite token is for another space than the one being joined.
    pub GUEST_INVITE_WRONG_SPACE = (403, "guest-invite-wrong-space", "The invitation is for another space");
    /// `/guests/join`, `/guests/{guestId}/status`, `/guests/{guestId}/admit` and `/deny`: the
    /// invitation has expired.
    pub GUEST_INVITE_EXPIRED = (410, "guest-invite-expired", "The invitation has expired");
    /// `/guests/join`, `/guests/{guestId}/status`, `/guests/{guestId}/admit` and `/deny`: the
    /// invitation was revoked.
    pub GUEST_INVITE_REVOKED = (410, "guest-invite-revoked", "The invitation was revoked");
    /// `/guests/{guestId}/admit` and `/deny`: the invitation names who may admit its guests, and the
    /// caller is not one of them.
    pub GUEST_ADMITTER_NOT_ALLOWED = (403, "guest-admitter-not-allowed", "This invitation's guests are admitted by the people it names");
    /// `/guests/{guestId}/admit` and `/deny`: the guest was admitted or denied already.
    pub GUEST_NOT_WAITING = (409, "guest-not-waiting", "The guest was admitted or denied already");
}
