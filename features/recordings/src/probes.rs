//! What `qubital check` asks object storage: HeadBucket on the recordings bucket, which shows
//! the bucket exists and the access key may use it.

use qubital_plugin::{AppContext, Probe, Probed};

use crate::settings::RecordingsState;

pub const STORAGE: Probe = qubital_plugin::probe!("storage", head_bucket);

async fn head_bucket(ctx: &AppContext) -> Probed {
    let state = ctx.try_get::<RecordingsState>();
    let Some((storage, destination)) = state.and_then(|s| s.storage.as_ref().zip(s.destination.as_ref()))
    else {
        return Probed::Disabled("RECORDINGS_S3_BUCKET is unset: recording is off".into());
    };
    match storage.bucket_exists().await {
        Ok(true) => Probed::Ok(format!("bucket {} answers", destination.bucket)),
        Ok(false) => Probed::Failed(format!("bucket {} does not exist", destination.bucket)),
        Err(error) => Probed::Failed(error.to_string()),
    }
}
