//! What LiveKit says about an egress, written onto its recording: the one path of stop, the
//! webhook and the reconcile job, so the status mapping and the never-backwards rule
//! (`store::apply_egress`) are the same for all three, and a failure is counted once.

use platform_livekit::egress::Egress;
use sqlx::PgConnection;

use crate::{metrics, store};

/// A recording that changed.
#[derive(Clone, Debug)]
pub(crate) struct Changed {
    /// The recording's status now.
    pub status: String,
    /// The `org_id` label to count a failure under, when the change is one.
    failed_in: Option<String>,
}

impl Changed {
    async fn of(conn: &mut PgConnection, row: store::ChangedRow) -> Result<Self, sqlx::Error> {
        let failed_in = match row.status.as_str() {
            "failed" => Some(metrics::org_label(conn, row.org_id).await?),
            _ => None,
        };
        Ok(Self {
            status: row.status,
            failed_in,
        })
    }

    /// Counts the change if it made the recording fail (call after it is committed).
    pub fn count(&self) {
        if let Some(org_id) = &self.failed_in {
            metrics::recording_failed(org_id);
        }
    }
}

/// Writes LiveKit's word about `egress` onto its recording. Returns the change, if any.
pub(crate) async fn apply(conn: &mut PgConnection, egress: &Egress) -> Result<Option<Changed>, sqlx::Error> {
    match store::apply_egress(conn, egress).await? {
        Some(row) => Changed::of(conn, row).await.map(Some),
        None => Ok(None),
    }
}

/// Marks the unfinished recording of `egress_id` failed: LiveKit does not know it (`error` is
/// kept for operators). Returns the change, if any.
pub(crate) async fn fail_unknown(
    conn: &mut PgConnection,
    egress_id: &str,
    error: &str,
) -> Result<Option<Changed>, sqlx::Error> {
    match store::fail_unknown(conn, egress_id, error).await? {
        Some(row) => Changed::of(conn, row).await.map(Some),
        None => Ok(None),
    }
}
