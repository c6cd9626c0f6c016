//! The problem types of sign-in and sessions (catalogued in `docs/problems.md`).

qubital_plugin::problem_types! {
    /// The sign-in's `state` is unknown or was used already (there is no such sign-in to finish).
    pub OAUTH_STATE_INVALID = (404, "oauth-state-invalid", "Unknown or already used sign-in state");
    /// The sign-in's `state` expired before it was finished.
    pub OAUTH_STATE_EXPIRED = (400, "oauth-state-expired", "The sign-in took too long");
    /// The desktop client's PKCE code verifier does not match the challenge it started with.
    pub PKCE_MISMATCH = (400, "pkce-mismatch", "The code verifier does not match the challenge");
    /// WorkOS refused the code or token of a sign-in step (the credential is wrong).
    pub SIGN_IN_REJECTED = (401, "sign-in-rejected", "The sign-in could not be completed");
    /// A pending sign-in step (organization selection, sign-up) is unknown, used or expired
    /// (there is no such step to finish).
    pub SIGN_IN_STEP_INVALID = (404, "sign-in-step-invalid", "This sign-in step is unknown, used or expired");
    /// A development-only organization cannot hold a WorkOS session.
    pub ORGANIZATION_NOT_IN_WORKOS = (409, "organization-not-in-workos", "This organization exists only on this server");
    /// A development session tried to use a WorkOS invitation.
    pub WORKOS_ACCOUNT_REQUIRED = (409, "workos-account-required", "This needs a WorkOS sign-in");
    /// The invitation was already used, revoked or has expired.
    pub INVITATION_NOT_PENDING = (409, "invitation-not-pending", "This invitation was already used, revoked or has expired");
}
