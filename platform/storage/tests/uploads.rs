//! Direct uploads and the server-side object operations, against a real S3 implementation
//! (`LocalS3`: `s3s` verifies every signature, `s3s-fs` stores the objects): presigned `PUT`s
//! sent by a plain HTTP client, then what a finalize step and a cleanup job do with them.

use std::time::Duration;

use chrono::Utc;
use platform_storage::{
    fake::LocalS3, BucketConfig, CopyOptions, ObjectHeaders, ObjectStorage, StorageError, Timeouts,
};

const ACCESS_KEY: &str = "local-access-key";
const SECRET: &str = "local-secret-key";
const BUCKET: &str = "avatars";
const TMP_KEY: &str = "tmp/01J9ZK3Q6W/upload";
const FINAL_KEY: &str = "users/42/avatar-01J9ZK3Q6W.png";
const TICKET_TTL: Duration = Duration::from_secs(120);

/// A PNG signature and some bytes that are not valid UTF-8.
fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..=255u8).cycle().take(3000));
    bytes
}

async fn local_s3() -> (LocalS3, ObjectStorage) {
    let s3 = LocalS3::start(ACCESS_KEY, SECRET).await;
    s3.create_bucket(BUCKET);
    let storage = ObjectStorage::new(&s3.bucket_config(BUCKET)).unwrap();
    (s3, storage)
}

/// What a browser does with an upload ticket: `PUT` the file with the given headers.
async fn put(url: &str, content_type: Option<&str>, body: Vec<u8>) -> (u16, String) {
    let mut request = reqwest::Client::new().put(url).body(body);
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    let response = request.send().await.expect("the local S3 answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

// --- presigned PUT ---------------------------------------------------------------------------

#[tokio::test]
async fn a_presigned_put_with_its_content_type_stores_the_object() {
    let (s3, storage) = local_s3().await;

    let ticket = storage.presigned_put(TMP_KEY, TICKET_TTL, "image/png").unwrap();
    assert!(ticket.url.starts_with(&s3.endpoint()), "{}", ticket.url);
    assert!(
        ticket.url.contains("&X-Amz-SignedHeaders=content-type%3Bhost&"),
        "{}",
        ticket.url
    );
    assert!(ticket.url.contains("&X-Amz-Expires=120&"), "{}", ticket.url);
    assert_eq!(
        ticket.headers,
        [("Content-Type".to_owned(), "image/png".to_owned())]
    );
    let left = ticket.expires_at - Utc::now();
    assert!(left <= chrono::Duration::seconds(120) && left > chrono::Duration::seconds(110));

    let (status, body) = put(&ticket.url, Some("image/png"), png()).await;
    assert_eq!(status, 200, "{body}");

    assert_eq!(s3.object_bytes(BUCKET, TMP_KEY), Some(png()));
    let meta = storage.head(TMP_KEY).await.unwrap().expect("the upload exists");
    assert_eq!(meta.size, png().len() as u64);
    assert_eq!(meta.content_type.as_deref(), Some("image/png"));
    assert!(meta.etag.is_some());
    let modified = meta.last_modified.expect("a Last-Modified");
    assert!((Utc::now() - modified).num_seconds().abs() < 60, "{modified}");
}

#[tokio::test]
async fn a_put_with_another_or_no_content_type_is_refused() {
    let (s3, storage) = local_s3().await;
    let ticket = storage.presigned_put(TMP_KEY, TICKET_TTL, "image/png").unwrap();

    for content_type in [
        Some("image/jpeg"),
        Some("image/png; charset=utf-8"),
        Some("IMAGE/PNG"),
        None,
    ] {
        let (status, body) = put(&ticket.url, content_type, png()).await;
        assert_eq!(status, 403, "{content_type:?}: {body}");
        assert!(body.contains("SignatureDoesNotMatch"), "{content_type:?}: {body}");
    }
    assert!(!s3.object_exists(BUCKET, TMP_KEY));

    // The same URL with the signed type still works: only the header made the difference.
    let (status, body) = put(&ticket.url, Some("image/png"), png()).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_sized_presigned_put_accepts_that_size_only() {
    let (s3, storage) = local_s3().await;
    let size = png().len() as u64;
    let ticket = storage
        .presigned_put_sized(TMP_KEY, TICKET_TTL, "image/webp", size)
        .unwrap();
    assert!(
        ticket
            .url
            .contains("&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost&"),
        "{}",
        ticket.url
    );
    assert_eq!(
        ticket.headers,
        [
            ("Content-Type".to_owned(), "image/webp".to_owned()),
            ("Content-Length".to_owned(), size.to_string()),
        ]
    );

    let mut larger = png();
    larger.push(0);
    let mut smaller = png();
    smaller.pop();
    for body in [larger, smaller, Vec::new()] {
        let len = body.len();
        let (status, text) = put(&ticket.url, Some("image/webp"), body).await;
        assert_eq!(status, 403, "{len} bytes: {text}");
    }
    assert!(!s3.object_exists(BUCKET, TMP_KEY));

    let (status, text) = put(&ticket.url, Some("image/webp"), png()).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(s3.object_bytes(BUCKET, TMP_KEY), Some(png()));
}

#[tokio::test]
async fn an_expired_presigned_put_is_refused() {
    let (s3, storage) = local_s3().await;
    let signed_at = Utc::now() - chrono::Duration::minutes(5);
    let expired = storage
        .presigned_put_at(TMP_KEY, TICKET_TTL, "image/png", None, signed_at)
        .unwrap();
    assert!(expired.expires_at < Utc::now());

    let (status, body) = put(&expired.url, Some("image/png"), png()).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("AccessDenied"), "{body}");
    assert!(!s3.object_exists(BUCKET, TMP_KEY));

    // Signed at the same time for longer, it is still valid.
    let valid = storage
        .presigned_put_at(TMP_KEY, Duration::from_secs(600), "image/png", None, signed_at)
        .unwrap();
    let (status, body) = put(&valid.url, Some("image/png"), png()).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_tampered_presigned_put_is_refused() {
    let (s3, storage) = local_s3().await;
    let url = storage
        .presigned_put(TMP_KEY, TICKET_TTL, "image/png")
        .unwrap()
        .url;

    let last = url.chars().last().unwrap();
    let flipped = if last == '0' { '1' } else { '0' };
    let tampered = [
        // another signature
        format!("{}{flipped}", &url[..url.len() - 1]),
        // another key: a client choosing where its upload lands
        url.replace(TMP_KEY, FINAL_KEY),
        // a longer validity
        url.replace("X-Amz-Expires=120", "X-Amz-Expires=604800"),
        // the content type dropped from the signed headers
        url.replace(
            "X-Amz-SignedHeaders=content-type%3Bhost",
            "X-Amz-SignedHeaders=host",
        ),
        // no signature at all
        url.split('?').next().unwrap().to_owned(),
    ];
    for url in tampered {
        let (status, body) = put(&url, Some("image/png"), png()).await;
        assert_eq!(status, 403, "{url}: {body}");
    }
    assert!(!s3.object_exists(BUCKET, TMP_KEY));
    assert!(!s3.object_exists(BUCKET, FINAL_KEY));
}

#[tokio::test]
async fn a_presigned_put_signed_with_the_wrong_secret_is_refused() {
    let (s3, _) = local_s3().await;
    let config = BucketConfig {
        secret_access_key: "not-the-secret".into(),
        ..s3.bucket_config(BUCKET)
    };
    let storage = ObjectStorage::new(&config).unwrap();
    let ticket = storage.presigned_put(TMP_KEY, TICKET_TTL, "image/png").unwrap();

    let (status, body) = put(&ticket.url, Some("image/png"), png()).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");
    assert!(!s3.object_exists(BUCKET, TMP_KEY));
}

#[test]
fn content_types_that_cannot_be_signed_as_sent_are_refused() {
    let config = BucketConfig {
        endpoint: Some("http://127.0.0.1:9000".into()),
        region: "us-east-1".into(),
        bucket: BUCKET.into(),
        access_key_id: "key".into(),
        secret_access_key: "secret".into(),
        public_base_url: None,
    };
    let storage = ObjectStorage::new(&config).unwrap();
    for content_type in [
        "",
        " image/png",
        "image/png ",
        "image/png\r\nx-amz-acl: public-read",
        "imäge/png",
    ] {
        assert!(
            matches!(
                storage.presigned_put(TMP_KEY, TICKET_TTL, content_type),
                Err(StorageError::InvalidHeaderValue {
                    name: "content-type",
                    ..
                })
            ),
            "{content_type:?} was accepted"
        );
    }
    assert!(matches!(
        storage.presigned_put("tmp/../users/1", TICKET_TTL, "image/png"),
        Err(StorageError::InvalidKey { .. })
    ));
}

// --- finalize: head, get, copy, delete -------------------------------------------------------

#[tokio::test]
async fn head_get_copy_delete_round_trip() {
    let (s3, storage) = local_s3().await;
    let ticket = storage.presigned_put(TMP_KEY, TICKET_TTL, "image/png").unwrap();
    let (status, body) = put(&ticket.url, Some("image/png"), png()).await;
    assert_eq!(status, 200, "{body}");

    let head = storage.head(TMP_KEY).await.unwrap().unwrap();
    let object = storage.get(TMP_KEY, 5 * 1024 * 1024).await.unwrap();
    assert_eq!(object.bytes, png());
    assert_eq!(object.meta, head);

    storage
        .copy_with(
            TMP_KEY,
            FINAL_KEY,
            &CopyOptions {
                if_match: head.etag.clone(),
                ..CopyOptions::default()
            },
        )
        .await
        .unwrap();
    storage.delete(TMP_KEY).await.unwrap();

    assert!(!s3.object_exists(BUCKET, TMP_KEY));
    assert_eq!(storage.head(TMP_KEY).await.unwrap(), None);
    assert!(matches!(
        storage.get(TMP_KEY, 1024).await,
        Err(StorageError::NotFound { key }) if key == TMP_KEY
    ));
    let copied = storage.head(FINAL_KEY).await.unwrap().unwrap();
    assert_eq!(copied.size, head.size);
    assert_eq!(copied.content_type.as_deref(), Some("image/png"));
    assert_eq!(copied.etag, head.etag);
    assert_eq!(s3.object_bytes(BUCKET, FINAL_KEY), Some(png()));

    // Deleting is idempotent, as in S3.
    storage.delete(TMP_KEY).await.unwrap();
    storage.delete("tmp/never-existed").await.unwrap();
}

#[tokio::test]
async fn put_stores_the_bytes_with_their_headers() {
    let (s3, storage) = local_s3().await;
    let headers = ObjectHeaders::new("image/jpeg").with_cache_control("public, max-age=31536000, immutable");
    storage.put(FINAL_KEY, png(), &headers).await.unwrap();
    assert_eq!(s3.object_bytes(BUCKET, FINAL_KEY), Some(png()));
    let meta = storage.head(FINAL_KEY).await.unwrap().unwrap();
    assert_eq!(meta.content_type.as_deref(), Some("image/jpeg"));

    // An empty object, which S3 wants sent with `Content-Length: 0`.
    storage.put("empty", Vec::new(), &headers).await.unwrap();
    assert_eq!(storage.head("empty").await.unwrap().unwrap().size, 0);
    assert!(storage.get("empty", 0).await.unwrap().bytes.is_empty());
}

#[tokio::test]
async fn get_refuses_an_object_over_max_bytes() {
    let (s3, storage) = local_s3().await;
    s3.put_object(BUCKET, TMP_KEY, png());
    let size = png().len() as u64;

    match storage.get(TMP_KEY, size - 1).await {
        Err(StorageError::TooLarge {
            key,
            max_bytes,
            size: announced,
        }) => {
            assert_eq!(
                (key.as_str(), max_bytes, announced),
                (TMP_KEY, size - 1, Some(size))
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        storage.get(TMP_KEY, 0).await,
        Err(StorageError::TooLarge { .. })
    ));

    let exact = storage.get(TMP_KEY, size).await.unwrap();
    assert_eq!(exact.bytes, png());
    assert_eq!(exact.meta.size, size);
}

#[tokio::test]
async fn a_copy_conditional_on_the_etag_refuses_a_replaced_source() {
    let (s3, storage) = local_s3().await;
    let ticket = storage.presigned_put(TMP_KEY, TICKET_TTL, "image/png").unwrap();
    assert_eq!(put(&ticket.url, Some("image/png"), png()).await.0, 200);
    let validated = storage.get(TMP_KEY, 1 << 20).await.unwrap();

    // The ticket is still valid: the client replaces the file after it was validated.
    let replacement = b"\x89PNG\r\n\x1a\n<svg onload=alert(1)>".to_vec();
    assert_eq!(
        put(&ticket.url, Some("image/png"), replacement.clone()).await.0,
        200
    );

    let options = CopyOptions {
        if_match: validated.meta.etag.clone(),
        ..CopyOptions::default()
    };
    match storage.copy_with(TMP_KEY, FINAL_KEY, &options).await {
        Err(StorageError::PreconditionFailed { key, .. }) => assert_eq!(key, TMP_KEY),
        other => panic!("{other:?}"),
    }
    assert!(!s3.object_exists(BUCKET, FINAL_KEY));

    // With the current ETag the copy goes through, with new headers when asked.
    let current = storage.head(TMP_KEY).await.unwrap().unwrap();
    let options = CopyOptions {
        if_match: current.etag,
        replace_headers: Some(ObjectHeaders::new("image/webp")),
    };
    storage.copy_with(TMP_KEY, FINAL_KEY, &options).await.unwrap();
    assert_eq!(s3.object_bytes(BUCKET, FINAL_KEY), Some(replacement));
    let copied = storage.head(FINAL_KEY).await.unwrap().unwrap();
    assert_eq!(copied.content_type.as_deref(), Some("image/webp"));
}

#[tokio::test]
async fn copying_a_missing_object_is_not_found() {
    let (s3, storage) = local_s3().await;
    match storage.copy(TMP_KEY, FINAL_KEY).await {
        Err(StorageError::NotFound { key }) => assert_eq!(key, TMP_KEY),
        other => panic!("{other:?}"),
    }
    assert!(!s3.object_exists(BUCKET, FINAL_KEY));
}

#[tokio::test]
async fn keys_with_spaces_plus_and_unicode_are_copied_and_listed() {
    let (s3, storage) = local_s3().await;
    let odd = "tmp/space one/a+b=c,d;ü~!'()*&<x>.png";
    s3.put_object(BUCKET, odd, png());

    assert_eq!(storage.head(odd).await.unwrap().unwrap().size, png().len() as u64);
    storage.copy(odd, "users/ü b+c.png").await.unwrap();
    assert_eq!(s3.object_bytes(BUCKET, "users/ü b+c.png"), Some(png()));

    let listed = storage.list_prefix("tmp/space one/", None).await.unwrap();
    assert_eq!(listed.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), [odd]);
    storage.delete_many(&[odd]).await.unwrap();
    assert!(!s3.object_exists(BUCKET, odd));
}

#[tokio::test]
async fn a_missing_bucket_is_not_taken_for_a_missing_object() {
    let (s3, _) = local_s3().await;
    let storage = ObjectStorage::new(&s3.bucket_config("no-such-bucket")).unwrap();
    // (`s3s-fs` answers a `GET` in a missing bucket with `NoSuchKey`, where S3 says
    // `NoSuchBucket`, so `get` is not part of this test.)
    for result in [
        storage.delete(TMP_KEY).await,
        storage.list_prefix("tmp/", None).await.map(drop),
    ] {
        match result {
            Err(StorageError::UnexpectedStatus {
                status: 404, code, ..
            }) => {
                assert_eq!(code.as_deref(), Some("NoSuchBucket"));
            }
            other => panic!("{other:?}"),
        }
    }
}

// --- credentials, reachability ---------------------------------------------------------------

#[tokio::test]
async fn server_side_operations_with_the_wrong_secret_are_denied() {
    let (s3, _) = local_s3().await;
    s3.put_object(BUCKET, TMP_KEY, png());
    let config = BucketConfig {
        secret_access_key: "not-the-secret".into(),
        ..s3.bucket_config(BUCKET)
    };
    let storage = ObjectStorage::new(&config).unwrap();

    let denied = |result: Result<(), StorageError>, operation_name: &str, with_body: bool| match result {
        Err(StorageError::AccessDenied { operation, code, .. }) => {
            assert_eq!(operation, operation_name);
            if with_body {
                assert_eq!(code.as_deref(), Some("SignatureDoesNotMatch"));
            }
        }
        other => panic!("{operation_name}: {other:?}"),
    };
    denied(storage.head(TMP_KEY).await.map(drop), "HeadObject", false);
    denied(storage.get(TMP_KEY, 1 << 20).await.map(drop), "GetObject", true);
    denied(
        storage
            .put(FINAL_KEY, png(), &ObjectHeaders::new("image/png"))
            .await,
        "PutObject",
        true,
    );
    denied(storage.copy(TMP_KEY, FINAL_KEY).await, "CopyObject", true);
    denied(storage.delete(TMP_KEY).await, "DeleteObject", true);
    denied(storage.delete_many(&[TMP_KEY]).await, "DeleteObjects", true);
    denied(
        storage.list_prefix("tmp/", None).await.map(drop),
        "ListObjectsV2",
        true,
    );

    // Nothing was changed.
    assert_eq!(s3.object_bytes(BUCKET, TMP_KEY), Some(png()));
    assert!(!s3.object_exists(BUCKET, FINAL_KEY));
}

#[tokio::test]
async fn an_unreachable_store_is_reported_as_such() {
    // A port nothing listens on any more.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = BucketConfig {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        region: "us-east-1".into(),
        bucket: BUCKET.into(),
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET.into(),
        public_base_url: None,
    };
    let storage = ObjectStorage::new(&config).unwrap();
    match storage.head(TMP_KEY).await {
        Err(
            error @ StorageError::Unreachable {
                operation: "HeadObject",
                ..
            },
        ) => {
            // The signed URL stays out of the error (and so out of logs).
            let chain = format!("{error} {:?}", std::error::Error::source(&error));
            assert!(!chain.contains("X-Amz-Signature"), "{chain}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_store_that_does_not_answer_times_out() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let config = BucketConfig {
        endpoint: Some(format!("http://{addr}")),
        region: "us-east-1".into(),
        bucket: BUCKET.into(),
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET.into(),
        public_base_url: None,
    };
    let timeouts = Timeouts {
        connect: Duration::from_secs(2),
        request: Duration::from_millis(300),
    };
    let storage = ObjectStorage::with_timeouts(&config, timeouts).unwrap();

    let started = std::time::Instant::now();
    let result = storage.get(TMP_KEY, 1024).await;
    assert!(
        matches!(
            result,
            Err(StorageError::Timeout {
                operation: "GetObject"
            })
        ),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    silent.abort();
}

// --- cleanup: listing and deleting a prefix --------------------------------------------------

#[tokio::test]
async fn a_prefix_is_listed_across_pages_and_filtered_by_age() {
    let (s3, storage) = local_s3().await;
    let storage = storage.with_list_page_size(2);
    let day_ago = Utc::now() - chrono::Duration::days(1);
    for i in 0..5 {
        s3.put_object(BUCKET, &format!("tmp/{i}"), vec![b'x'; i]);
    }
    s3.put_object(BUCKET, "users/1/avatar.png", png());
    s3.put_object(BUCKET, "tmpfile", b"not under tmp/");
    s3.set_last_modified(BUCKET, "tmp/1", day_ago - chrono::Duration::hours(1));
    s3.set_last_modified(BUCKET, "tmp/3", day_ago - chrono::Duration::days(30));

    let all = storage.list_prefix("tmp/", None).await.unwrap();
    let keys: Vec<_> = all.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["tmp/0", "tmp/1", "tmp/2", "tmp/3", "tmp/4"]);
    assert_eq!(all.iter().map(|o| o.size).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    assert!(all.iter().all(|o| o.last_modified.is_some()));

    let stale = storage.list_prefix("tmp/", Some(day_ago)).await.unwrap();
    let keys: Vec<_> = stale.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["tmp/1", "tmp/3"]);

    let everything = storage.list_prefix("", None).await.unwrap();
    assert_eq!(everything.len(), 7);
    assert!(storage.list_prefix("nothing/", None).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_cleanup_deletes_only_the_stale_objects_of_its_prefix() {
    let (s3, storage) = local_s3().await;
    let storage = storage.with_list_page_size(3);
    let cutoff = Utc::now() - chrono::Duration::days(1);
    let keys: Vec<String> = (0..8).map(|i| format!("tmp/upload-{i}")).collect();
    for (i, key) in keys.iter().enumerate() {
        s3.put_object(BUCKET, key, png());
        if i % 2 == 0 {
            s3.set_last_modified(BUCKET, key, cutoff - chrono::Duration::minutes(1));
        }
    }
    s3.put_object(BUCKET, "users/1/old-avatar.png", png());
    s3.set_last_modified(
        BUCKET,
        "users/1/old-avatar.png",
        cutoff - chrono::Duration::days(365),
    );

    let deleted = storage.delete_prefix_older_than("tmp/", cutoff).await.unwrap();
    assert_eq!(deleted, 4);
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(s3.object_exists(BUCKET, key), i % 2 == 1, "{key}");
    }
    assert!(s3.object_exists(BUCKET, "users/1/old-avatar.png"));

    // Nothing stale is left: a second run deletes nothing.
    assert_eq!(storage.delete_prefix_older_than("tmp/", cutoff).await.unwrap(), 0);
    // The whole bucket is never a cleanup's prefix.
    assert!(matches!(
        storage.delete_prefix_older_than("", Utc::now()).await,
        Err(StorageError::InvalidKey { .. })
    ));
}

#[tokio::test]
async fn delete_many_deletes_in_batches_of_a_thousand_and_ignores_missing_keys() {
    let (s3, storage) = local_s3().await;
    let keys: Vec<String> = (0..1001).map(|i| format!("tmp/{i:04}")).collect();
    for key in &keys {
        s3.put_object(BUCKET, key, b"x");
    }
    s3.put_object(BUCKET, "keep", b"x");
    let mut to_delete = keys.clone();
    to_delete.push("tmp/missing".into());

    storage.delete_many(&to_delete).await.unwrap();
    assert!(keys.iter().all(|key| !s3.object_exists(BUCKET, key)));
    assert!(s3.object_exists(BUCKET, "keep"));
    assert!(storage.list_prefix("tmp/", None).await.unwrap().is_empty());

    storage.delete_many::<&str>(&[]).await.unwrap();
    assert!(matches!(
        storage.delete_many(&["ok", "a/../b"]).await,
        Err(StorageError::InvalidKey { .. })
    ));
}

// --- public URLs -----------------------------------------------------------------------------

#[tokio::test]
async fn public_urls_read_a_public_bucket_without_a_signature() {
    let (s3, _) = local_s3().await;
    s3.allow_public_read(BUCKET);
    let config = BucketConfig {
        public_base_url: Some(s3.public_base_url(BUCKET)),
        ..s3.bucket_config(BUCKET)
    };
    let storage = ObjectStorage::new(&config).unwrap();
    let headers = ObjectHeaders::new("image/png").with_cache_control("public, max-age=31536000, immutable");
    storage.put(FINAL_KEY, png(), &headers).await.unwrap();

    let url = storage.public_url(FINAL_KEY).unwrap().unwrap();
    assert_eq!(url, format!("{}/{BUCKET}/{FINAL_KEY}", s3.endpoint()));
    assert_eq!(storage.read_url(FINAL_KEY, Duration::from_secs(60)).unwrap(), url);

    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(response.bytes().await.unwrap(), png());

    // Anonymous writes are still refused.
    let (status, _) = put(&url, Some("image/png"), b"defaced".to_vec()).await;
    assert_eq!(status, 403);
    assert_eq!(s3.object_bytes(BUCKET, FINAL_KEY), Some(png()));
}

#[tokio::test]
async fn without_a_public_base_url_objects_are_read_through_presigned_urls() {
    let (s3, storage) = local_s3().await;
    s3.put_object(BUCKET, FINAL_KEY, png());

    assert_eq!(storage.public_url(FINAL_KEY).unwrap(), None);
    let url = storage.read_url(FINAL_KEY, Duration::from_secs(60)).unwrap();
    assert!(url.contains("X-Amz-Signature="), "{url}");
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), png());

    // The bucket is private: the unsigned URL is refused.
    let unsigned = url.split('?').next().unwrap();
    assert_eq!(reqwest::get(unsigned).await.unwrap().status(), 403);
}

#[test]
fn public_urls_encode_the_key_under_the_base_path() {
    let config = BucketConfig {
        endpoint: Some("https://account.r2.cloudflarestorage.com".into()),
        region: "auto".into(),
        bucket: BUCKET.into(),
        access_key_id: "key".into(),
        secret_access_key: "secret".into(),
        public_base_url: Some("https://cdn.example.com/avatars".into()),
    };
    let storage = ObjectStorage::new(&config).unwrap();
    assert_eq!(
        storage.public_url("users/42/a b+c?d#e%f.png").unwrap().unwrap(),
        "https://cdn.example.com/avatars/users/42/a%20b%2Bc%3Fd%23e%25f.png"
    );
    let with_slash = BucketConfig {
        public_base_url: Some("https://pub-1234.r2.dev/".into()),
        ..config.clone()
    };
    assert_eq!(
        ObjectStorage::new(&with_slash)
            .unwrap()
            .public_url("ü.png")
            .unwrap()
            .unwrap(),
        "https://pub-1234.r2.dev/%C3%BC.png"
    );
    assert!(matches!(
        storage.public_url("a/../b"),
        Err(StorageError::InvalidKey { .. })
    ));

    for invalid in [
        "cdn.example.com",
        "ftp://cdn.example.com",
        "https://cdn.example.com/?v=1",
        "https://u:p@cdn.example.com",
    ] {
        let config = BucketConfig {
            public_base_url: Some(invalid.into()),
            ..config.clone()
        };
        assert!(
            matches!(
                ObjectStorage::new(&config),
                Err(StorageError::InvalidPublicBaseUrl { .. })
            ),
            "{invalid} was accepted"
        );
    }
}

// --- the fake's own helpers ------------------------------------------------------------------

#[tokio::test]
async fn local_s3_put_object_replaces_an_uploaded_object_and_its_metadata() {
    let (s3, storage) = local_s3().await;
    let ticket = storage.presigned_put(TMP_KEY, TICKET_TTL, "image/png").unwrap();
    assert_eq!(put(&ticket.url, Some("image/png"), png()).await.0, 200);
    let uploaded = storage.head(TMP_KEY).await.unwrap().unwrap();
    storage.delete(TMP_KEY).await.unwrap();

    s3.put_object(BUCKET, TMP_KEY, b"plain");
    let replaced = storage.head(TMP_KEY).await.unwrap().unwrap();
    assert_eq!(replaced.size, 5);
    assert_eq!(replaced.content_type, None);
    assert_ne!(replaced.etag, uploaded.etag);
    assert_eq!(storage.get(TMP_KEY, 5).await.unwrap().bytes, b"plain");
    assert_eq!(s3.object_bytes(BUCKET, "tmp/other"), None);
}
