//! The problem types the spaces operations send (catalogued in `docs/problems.md`).

qubital_plugin::problem_types! {
    /// `/space-tags/create`: the organization has a tag of this name already (ignoring case).
    pub SPACE_TAG_EXISTS = (409, "space-tag-exists", "A tag of this name already exists");
}
