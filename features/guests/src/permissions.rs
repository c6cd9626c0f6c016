//! The permissions of the guest operations (published in `docs/rbac.md`).

qubital_plugin::permissions! {
    /// Admit or deny a waiting guest, and see who waits (an invitation may further name who
    /// admits its guests).
    pub ADMIT_GUESTS = ("AdmitGuests", Member);
    /// Invite guests into a space; list and revoke the organization's guest invitations.
    pub INVITE_GUESTS = ("InviteGuests", Moderator);
}
