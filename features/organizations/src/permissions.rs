//! The permissions of the organization, member and invitation operations (published in
//! `docs/rbac.md`). Seeing the organization is `qubital_auth::permissions::VIEW_ORGANIZATION`.

qubital_plugin::permissions! {
    /// Invite people, see and revoke invitations, read the invite link.
    pub INVITE_MEMBER = ("InviteMember", Admin);
    /// Change a member's role.
    pub EDIT_USER = ("EditUser", Admin);
    /// Remove a member from the organization.
    pub BAN_USER = ("BanUser", Admin);
    /// Rename the organization, change its logo, rotate its invite link.
    pub MANAGE_ORGANIZATION = ("ManageOrganization", Admin);
}
