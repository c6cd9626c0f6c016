//! [`LocalS3`]: a real S3-compatible server on 127.0.0.1 for tests, so that URLs signed by
//! [`ObjectStorage`](crate::ObjectStorage) are checked by an independent SigV4 implementation
//! (`s3s`, which verifies header and presigned query-string auth, expiry included) and served by
//! a real object store (`s3s-fs`, objects as files under a temporary directory).
//!
//! Everything [`ObjectStorage`](crate::ObjectStorage) does is served as S3 would: presigned `GET`
//! and `PUT` (signed headers such as `Content-Type` and `Content-Length` included, so a request
//! that changes them is refused with `403 SignatureDoesNotMatch`), `HeadObject`, `GetObject`
//! (ranges too), `PutObject`, `CopyObject` (with `x-amz-copy-source-if-match` and
//! `x-amz-metadata-directive`), `DeleteObject`, `DeleteObjects` and `ListObjectsV2` with
//! pagination. Unsigned requests are refused, except reads of buckets opened with
//! [`LocalS3::allow_public_read`], which stand for a public bucket or CDN.
//!
//! Test helpers read and shape the objects directly on disk: [`LocalS3::put_object`],
//! [`LocalS3::object_bytes`], [`LocalS3::object_exists`] and [`LocalS3::set_last_modified`]
//! (the `LastModified` of an object is its file's modification time, so a cleanup can be
//! tested without waiting).
//!
//! One known difference from S3: a `GET` of an object in a bucket that does not exist is
//! answered `404 NoSuchKey` rather than `NoSuchBucket` (`s3s-fs` does not look for the bucket).
//!
//! ```no_run
//! # async fn demo() {
//! use platform_storage::{fake::LocalS3, ObjectStorage};
//! let s3 = LocalS3::start("test-access-key", "test-secret").await;
//! s3.create_bucket("recordings");
//! s3.put_object("recordings", "a/b.mp4", b"bytes");
//! let storage = ObjectStorage::new(&s3.bucket_config("recordings")).unwrap();
//! let url = storage.presigned_get("a/b.mp4", std::time::Duration::from_secs(60)).unwrap();
//! # }
//! ```

use std::{
    collections::HashSet,
    fs,
    net::SocketAddr,
    path::{Component, Path, PathBuf},
    sync::{Arc, Mutex},
    time::SystemTime,
};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hyper_util::rt::TokioIo;
use s3s::{
    access::{S3Access, S3AccessContext},
    auth::SimpleAuth,
    path::S3Path,
    service::S3ServiceBuilder,
    S3Result,
};
use tempfile::TempDir;
use tokio::{net::TcpListener, task::JoinHandle};

use crate::BucketConfig;

/// The region [`LocalS3::bucket_config`] signs for. The server accepts any region, as long as
/// the signature was computed with the one the URL names.
pub const REGION: &str = "us-east-1";

/// A running local S3. Dropping it stops the server and deletes its directory.
///
/// It only knows the one access key it was started with; requests signed with another key, or
/// with this key and another secret, are refused with `403`, as S3 does.
pub struct LocalS3 {
    endpoint: String,
    access_key_id: String,
    secret_access_key: String,
    public_buckets: PublicBuckets,
    server: JoinHandle<()>,
    // Dropped after `server` is aborted (fields drop in order), which removes the directory.
    root: TempDir,
}

impl std::fmt::Debug for LocalS3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalS3")
            .field("endpoint", &self.endpoint)
            .field("root", &self.root.path())
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Drop for LocalS3 {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl LocalS3 {
    /// Starts a server on `127.0.0.1:<random port>` in a task of the current Tokio runtime,
    /// accepting requests signed with `access_key_id`/`secret_access_key`.
    ///
    /// Panics if the temporary directory or the socket cannot be had (it is a test helper).
    pub async fn start(access_key_id: &str, secret_access_key: &str) -> Self {
        let root = tempfile::Builder::new()
            .prefix("platform-storage-s3-")
            .tempdir()
            .expect("the local S3 creates its temporary directory");
        let fs = s3s_fs::FileSystem::new(root.path()).expect("the local S3 opens its directory");
        let public_buckets = PublicBuckets::default();
        let service = {
            let mut builder = S3ServiceBuilder::new(fs);
            builder.set_auth(SimpleAuth::from_single(access_key_id, secret_access_key));
            builder.set_access(public_buckets.clone());
            builder.build()
        };
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the local S3 binds 127.0.0.1");
        let addr: SocketAddr = listener.local_addr().expect("a bound socket's address");
        let server = tokio::spawn(async move {
            loop {
                // An accept error (e.g. too many open files) is transient: try again shortly.
                let Ok((socket, _)) = listener.accept().await else {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let service = service.clone();
                tokio::spawn(async move {
                    // HTTP/1.1 only: the backend's reqwest has no HTTP/2, and neither do
                    // browsers over plain http.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        Self {
            endpoint: format!("http://{addr}"),
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            public_buckets,
            server,
            root,
        }
    }

    /// `http://127.0.0.1:<port>`, to use as [`BucketConfig::endpoint`] (path-style).
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// The directory the objects live in (`<root>/<bucket>/<key>`, as `s3s-fs` lays them out).
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// A configuration that signs for `bucket` on this server with its credentials.
    pub fn bucket_config(&self, bucket: &str) -> BucketConfig {
        BucketConfig {
            endpoint: Some(self.endpoint()),
            region: REGION.to_owned(),
            bucket: bucket.to_owned(),
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            public_base_url: None,
        }
    }

    /// Lets anyone `GET`/`HEAD` the objects of `bucket` without a signature, as a public R2
    /// bucket or a CDN would; everything else still needs one. Objects are then at
    /// [`public_base_url`](Self::public_base_url)`/<key>`.
    pub fn allow_public_read(&self, bucket: &str) {
        self.public_buckets
            .0
            .lock()
            .expect("the public bucket set is never poisoned")
            .insert(bucket.to_owned());
    }

    /// `http://127.0.0.1:<port>/<bucket>`, where the objects of a bucket opened with
    /// [`allow_public_read`](Self::allow_public_read) can be read anonymously: the value for
    /// [`BucketConfig::public_base_url`].
    pub fn public_base_url(&self, bucket: &str) -> String {
        format!("{}/{bucket}", self.endpoint)
    }

    /// Creates `bucket` (an `s3s-fs` bucket is a directory under the root). Idempotent.
    pub fn create_bucket(&self, bucket: &str) {
        fs::create_dir_all(self.path_of(bucket, None)).expect("the local S3 creates the bucket directory");
    }

    /// Stores `bytes` as `bucket`/`key`, replacing any previous object, creating the bucket if
    /// needed. Written as a file directly: `s3s-fs` serves whatever file is at `<bucket>/<key>`,
    /// computing its ETag from the content when it has no stored metadata. The object has no
    /// content type; store one with [`ObjectStorage::put`](crate::ObjectStorage::put).
    pub fn put_object(&self, bucket: &str, key: &str, bytes: impl AsRef<[u8]>) {
        let path = self.path_of(bucket, Some(key));
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("the local S3 creates the key's directories");
        }
        fs::write(&path, bytes).expect("the local S3 writes the object");
        // `s3s-fs` keeps an object's content type and ETag in files beside the bucket, left
        // behind by a delete: a previous object's would otherwise be served with these bytes.
        for sidecar in self.sidecars_of(bucket, key) {
            match fs::remove_file(&sidecar) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("the local S3 removes {}: {e}", sidecar.display()),
            }
        }
    }

    /// The content of `bucket`/`key`, read from disk, or `None` if there is no such object.
    pub fn object_bytes(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let path = self.path_of(bucket, Some(key));
        match fs::read(&path) {
            Ok(bytes) => Some(bytes),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::IsADirectory
                ) =>
            {
                None
            }
            Err(e) => panic!("the local S3 reads {}: {e}", path.display()),
        }
    }

    /// Whether `bucket`/`key` holds an object.
    pub fn object_exists(&self, bucket: &str, key: &str) -> bool {
        self.path_of(bucket, Some(key)).is_file()
    }

    /// Sets the `LastModified` of `bucket`/`key` (its file's modification time), e.g. to make
    /// an upload look abandoned a day ago. Panics if there is no such object.
    pub fn set_last_modified(&self, bucket: &str, key: &str, at: DateTime<Utc>) {
        let path = self.path_of(bucket, Some(key));
        let file = fs::File::options()
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("LocalS3: no object {bucket}/{key} to age: {e}"));
        file.set_modified(SystemTime::from(at))
            .expect("the local S3 sets the modification time");
    }

    /// The metadata files `s3s-fs` keeps for `bucket`/`key` at the root (base64url names).
    fn sidecars_of(&self, bucket: &str, key: &str) -> [PathBuf; 2] {
        let encode = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let stem = format!(".bucket-{}.object-{}", encode(bucket), encode(key));
        [
            self.root.path().join(format!("{stem}.metadata.json")),
            self.root.path().join(format!("{stem}.internal.json")),
        ]
    }

    /// `<root>/<bucket>[/<key>]`, refusing names that would leave the root (a test bug).
    fn path_of(&self, bucket: &str, key: Option<&str>) -> PathBuf {
        let relative = Path::new(bucket).join(key.unwrap_or_default());
        assert!(
            !bucket.is_empty()
                && !bucket.contains('/')
                && relative.components().all(|c| matches!(c, Component::Normal(_))),
            "LocalS3: bucket {bucket:?} / key {key:?} must be plain relative names"
        );
        self.root.path().join(relative)
    }
}

/// The access policy of the local S3: signed requests may do anything (the signature was
/// verified before); unsigned ones may only read objects of the buckets made public.
#[derive(Clone, Default)]
struct PublicBuckets(Arc<Mutex<HashSet<String>>>);

#[async_trait::async_trait]
impl S3Access for PublicBuckets {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_some() {
            return Ok(());
        }
        let public = match cx.s3_path() {
            S3Path::Object { bucket, .. } => {
                matches!(cx.s3_op().name(), "GetObject" | "HeadObject")
                    && self
                        .0
                        .lock()
                        .expect("the public bucket set is never poisoned")
                        .contains(bucket.as_ref())
            }
            _ => false,
        };
        if public {
            Ok(())
        } else {
            Err(s3s::s3_error!(AccessDenied, "Signature is required"))
        }
    }
}
