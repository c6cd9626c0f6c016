//! The permissions of the spaces operations (published in `docs/rbac.md`).

qubital_plugin::permissions! {
    /// See spaces, their layouts and tags; join a space's conference.
    pub LIST_ROOMS = ("ListRooms", Guest);
    /// Create spaces and tags.
    pub CREATE_ROOM = ("CreateRoom", Member);
    /// Change a space's name, layout and tags; delete tags.
    pub UPDATE_ROOM = ("UpdateRoom", Moderator);
    /// Delete a space.
    pub DELETE_ROOM = ("DeleteRoom", Admin);
}
