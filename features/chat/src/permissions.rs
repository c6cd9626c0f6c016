//! The permissions of the chat operations (published in `docs/rbac.md`). Membership of a
//! conversation is checked on top: a conversation the caller is not in is `404`.

qubital_plugin::permissions! {
    /// Take part in conversations: create direct and group conversations, send and read
    /// messages where one is a member.
    pub USE_CHAT = ("UseChat", Member);
    /// Delete anyone's message in the organization's conversations.
    pub MODERATE_CHAT = ("ModerateChat", Admin);
}
