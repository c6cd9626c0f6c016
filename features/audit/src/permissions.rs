//! The audit feature's permission (published in `docs/rbac.md`).

qubital_plugin::permissions! {
    /// Read the organization's audit log: who changed what, when, from where.
    pub VIEW_AUDIT_LOGS = ("ViewAuditLogs", Admin);
}
