//! `uploads.tmp_cleanup` (singleton, hourly): deletes the objects under `tmp/` last modified
//! more than a day ago: uploads that were never finalized (a finalized one is deleted by
//! finalize). Idempotent: a second pass, or two overlapping ones, find nothing more to delete.
//! A bucket lifecycle rule on `tmp/` does the same on the store's side (`docs/uploads.md`).
//!
//! The pass is public so that tests run one directly.

use std::time::Duration;

use chrono::Utc;
use qubital_plugin::{AppContext, Job, JobContext, ProcessRole};

use crate::settings::UploadState;

pub const TMP_CLEANUP: Job = qubital_plugin::job!(
    "uploads.tmp_cleanup",
    ProcessRole::SERVE,
    Duration::from_secs(3600),
    tmp_cleanup
)
.singleton();

/// How old a temporary object must be to go: far past the 120 s of its upload URL and the
/// 12 minutes of its ticket, so nothing being finalized is deleted.
pub const TMP_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// Where every temporary upload is.
pub const TMP_PREFIX: &str = "tmp/";

async fn tmp_cleanup(job: JobContext) -> anyhow::Result<()> {
    if job.stopping() {
        return Ok(());
    }
    let deleted = tmp_cleanup_once(&job.app).await?;
    if deleted > 0 {
        tracing::info!(deleted, "abandoned uploads deleted");
    }
    Ok(())
}

/// One pass: the number of temporary objects deleted (0 when uploads are not configured).
pub async fn tmp_cleanup_once(app: &AppContext) -> anyhow::Result<usize> {
    let Some(bucket) = app.try_get::<UploadState>().and_then(|s| s.storage.as_ref()) else {
        return Ok(0);
    };
    let cutoff = Utc::now() - chrono::Duration::from_std(TMP_MAX_AGE).expect("a day fits chrono");
    Ok(bucket
        .storage
        .delete_prefix_older_than(TMP_PREFIX, cutoff)
        .await?)
}
