//! What `qubital check` asks object storage: HeadBucket on the uploads bucket, which shows the
//! bucket exists and the access key may use it.

use qubital_plugin::{AppContext, Probe, Probed};

use crate::settings::UploadState;

pub const STORAGE: Probe = qubital_plugin::probe!("uploads-storage", head_bucket);

async fn head_bucket(ctx: &AppContext) -> Probed {
    let Some(bucket) = ctx.try_get::<UploadState>().and_then(|s| s.storage.as_ref()) else {
        return Probed::Disabled("UPLOADS_S3_BUCKET is unset: avatar and logo uploads are off".into());
    };
    match bucket.storage.bucket_exists().await {
        Ok(true) => Probed::Ok("the uploads bucket answers".into()),
        Ok(false) => Probed::Failed("the uploads bucket does not exist".into()),
        Err(error) => Probed::Failed(error.to_string()),
    }
}
