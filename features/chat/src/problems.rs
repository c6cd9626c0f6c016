//! The problem types of the chat operations (catalogued in `docs/problems.md`).

qubital_plugin::problem_types! {
    /// `/chat/conversations/{id}/members/add|remove`: a direct conversation keeps its two
    /// members.
    pub CHAT_NOT_A_GROUP = (409, "chat-not-a-group", "A direct conversation keeps its two members");
    /// `/chat/messages/{id}/update`, reactions: the message was deleted.
    pub CHAT_MESSAGE_DELETED = (409, "chat-message-deleted", "The message was deleted");
}
