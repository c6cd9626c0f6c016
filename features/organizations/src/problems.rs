//! The problem types of the organization, member and invitation operations (catalogued in
//! `docs/problems.md`).

qubital_plugin::problem_types! {
    /// Demoting or removing the organization's last admin.
    pub LAST_ADMIN = (409, "last-admin", "An organization keeps at least one admin");
    /// Inviting an address that has a pending invitation already.
    pub INVITATION_PENDING = (409, "invitation-pending", "This address already has a pending invitation");
    /// Inviting an address that is a member already.
    pub ALREADY_MEMBER = (409, "already-member", "This address is already a member");
}
