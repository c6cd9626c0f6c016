//! The identity permission every member has (published in `docs/rbac.md`).

qubital_plugin::permissions! {
    /// See the organization and its members; open the messaging connection.
    pub VIEW_ORGANIZATION = ("ViewOrganization", Guest);
}
