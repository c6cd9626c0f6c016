//! Presigned GET URLs: AWS's published SigV4 example, the addressing and validation rules, and
//! round trips through a real S3 implementation (`LocalS3`, which verifies signatures itself).

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use platform_storage::{fake::LocalS3, BucketConfig, ObjectStorage, StorageError};

const AWS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn aws_example_config() -> BucketConfig {
    BucketConfig {
        endpoint: None,
        region: "us-east-1".into(),
        bucket: "examplebucket".into(),
        access_key_id: AWS_KEY_ID.into(),
        secret_access_key: AWS_SECRET.into(),
        public_base_url: None,
    }
}

/// Fri, 24 May 2013 00:00:00 GMT, the signing time of AWS's example.
fn aws_example_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2013, 5, 24, 0, 0, 0).unwrap()
}

/// The example of "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)"
/// in the S3 API reference. Its host is the legacy global `examplebucket.s3.amazonaws.com`,
/// which `ObjectStorage::new` never yields (it uses the regional endpoint), so the test builds
/// the client with the hidden `virtual_hosted` constructor: same signing path, other host.
#[test]
fn aws_documented_presigned_get_example() {
    let storage = ObjectStorage::virtual_hosted(&aws_example_config(), "https://s3.amazonaws.com").unwrap();

    let presigned = storage
        .presigned_get_at("test.txt", Duration::from_secs(86400), aws_example_time())
        .unwrap();

    assert_eq!(
        presigned.url,
        "https://examplebucket.s3.amazonaws.com/test.txt\
         ?X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20130524T000000Z\
         &X-Amz-Expires=86400\
         &X-Amz-SignedHeaders=host\
         &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    );
    assert_eq!(
        presigned.expires_at,
        Utc.with_ymd_and_hms(2013, 5, 25, 0, 0, 0).unwrap()
    );
}

#[test]
fn without_endpoint_aws_is_addressed_virtual_hosted_on_the_regional_host() {
    let storage = ObjectStorage::new(&aws_example_config()).unwrap();

    let url = storage
        .presigned_get_at("test.txt", Duration::from_secs(86400), aws_example_time())
        .unwrap()
        .url;

    let unsigned = url.split("&X-Amz-Signature=").next().unwrap();
    assert_eq!(
        unsigned,
        "https://examplebucket.s3.us-east-1.amazonaws.com/test.txt\
         ?X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20130524T000000Z\
         &X-Amz-Expires=86400\
         &X-Amz-SignedHeaders=host"
    );
    // The host is signed, so the regional host has its own signature.
    assert!(!url.ends_with("aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"));
}

#[test]
fn an_endpoint_is_addressed_path_style_under_its_path() {
    let config = BucketConfig {
        endpoint: Some("https://account.r2.cloudflarestorage.com/prefix".into()),
        region: "auto".into(),
        bucket: "recordings".into(),
        access_key_id: "key".into(),
        secret_access_key: "secret".into(),
        public_base_url: None,
    };
    let storage = ObjectStorage::new(&config).unwrap();

    let url = storage
        .presigned_get("recordings/room/file.mp4", Duration::from_secs(60))
        .unwrap()
        .url;

    assert!(
        url.starts_with(
            "https://account.r2.cloudflarestorage.com/prefix/recordings/recordings/room/file.mp4\
             ?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=key%2F"
        ),
        "{url}"
    );
    assert!(url.contains("%2Fauto%2Fs3%2Faws4_request"), "{url}");
}

#[test]
fn invalid_configurations_are_refused() {
    let valid = BucketConfig {
        endpoint: Some("http://127.0.0.1:9000".into()),
        region: "us-east-1".into(),
        bucket: "b".into(),
        access_key_id: "key".into(),
        secret_access_key: "secret".into(),
        public_base_url: None,
    };
    assert!(ObjectStorage::new(&valid).is_ok());

    for endpoint in [
        "ftp://example.com",
        "not a url",
        "/relative/path",
        "https://user:pass@example.com",
        "https://example.com/?a=b",
        "https://example.com/#frag",
        "file:///tmp/bucket",
    ] {
        let config = BucketConfig {
            endpoint: Some(endpoint.into()),
            ..valid.clone()
        };
        assert!(
            matches!(
                ObjectStorage::new(&config),
                Err(StorageError::InvalidEndpoint { .. })
            ),
            "{endpoint} was accepted"
        );
    }

    let empty_bucket = BucketConfig {
        bucket: String::new(),
        ..valid.clone()
    };
    assert!(matches!(
        ObjectStorage::new(&empty_bucket),
        Err(StorageError::InvalidBucket { .. })
    ));
    // Virtual-hosted style puts the bucket in the host name, where `/` cannot go.
    let unhostable_bucket = BucketConfig {
        endpoint: None,
        bucket: "a/b".into(),
        ..valid.clone()
    };
    assert!(matches!(
        ObjectStorage::new(&unhostable_bucket),
        Err(StorageError::InvalidBucket { .. })
    ));
    let no_region = BucketConfig {
        region: " ".into(),
        ..valid.clone()
    };
    assert!(matches!(
        ObjectStorage::new(&no_region),
        Err(StorageError::MissingRegion)
    ));
    let no_secret = BucketConfig {
        secret_access_key: String::new(),
        ..valid.clone()
    };
    assert!(matches!(
        ObjectStorage::new(&no_secret),
        Err(StorageError::MissingCredentials)
    ));
}

#[test]
fn keys_that_would_address_something_else_are_refused() {
    let storage = ObjectStorage::new(&aws_example_config()).unwrap();
    for key in ["", ".", "..", "a/../b", "./a", "a/.", "../otherbucket/x", "a\nb"] {
        assert!(
            matches!(
                storage.presigned_get(key, Duration::from_secs(60)),
                Err(StorageError::InvalidKey { .. })
            ),
            "{key:?} was accepted"
        );
    }
    assert!(matches!(
        storage.presigned_get(&"k".repeat(1025), Duration::from_secs(60)),
        Err(StorageError::InvalidKey { .. })
    ));
    // Dots inside a segment are ordinary.
    assert!(storage
        .presigned_get("a/..b/c.d.mp4", Duration::from_secs(60))
        .is_ok());
}

#[test]
fn expiry_is_clamped_to_what_sigv4_accepts() {
    let storage = ObjectStorage::new(&aws_example_config()).unwrap();
    let at = aws_example_time();
    let cases = [
        (Duration::ZERO, 1),
        (Duration::from_millis(1900), 1),
        (Duration::from_secs(3600), 3600),
        (Duration::from_secs(7 * 24 * 3600), 604_800),
        (Duration::from_secs(30 * 24 * 3600), 604_800),
    ];
    for (asked, granted) in cases {
        let presigned = storage.presigned_get_at("k", asked, at).unwrap();
        assert!(
            presigned.url.contains(&format!("&X-Amz-Expires={granted}&")),
            "{asked:?}: {}",
            presigned.url
        );
        assert_eq!(presigned.expires_at, at + chrono::Duration::seconds(granted));
    }
}

#[test]
fn signing_time_is_truncated_to_seconds_and_defaults_to_now() {
    let storage = ObjectStorage::new(&aws_example_config()).unwrap();
    let at = aws_example_time() + chrono::Duration::milliseconds(999);
    let presigned = storage
        .presigned_get_at("k", Duration::from_secs(10), at)
        .unwrap();
    assert!(presigned.url.contains("&X-Amz-Date=20130524T000000Z&"));
    assert_eq!(
        presigned.expires_at,
        aws_example_time() + chrono::Duration::seconds(10)
    );

    let before = Utc::now();
    let presigned = storage.presigned_get("k", Duration::from_secs(600)).unwrap();
    let after = Utc::now();
    assert!(presigned.expires_at > before + chrono::Duration::seconds(598));
    assert!(presigned.expires_at <= after + chrono::Duration::seconds(600));
}

#[test]
fn debug_output_never_shows_the_secret() {
    let config = aws_example_config();
    let storage = ObjectStorage::new(&config).unwrap();
    for debug in [format!("{config:?}"), format!("{storage:?}")] {
        assert!(!debug.contains(AWS_SECRET), "{debug}");
        assert!(debug.contains(AWS_KEY_ID), "{debug}");
    }
}

// --- against a real S3 implementation -------------------------------------------------------

const ACCESS_KEY: &str = "local-access-key";
const SECRET: &str = "local-secret-key";
const BUCKET: &str = "recordings";
const KEY: &str = "recordings/room-1/0190c2f0.mp4";

/// Not valid UTF-8, so a lossy round trip would show.
fn recording_bytes() -> Vec<u8> {
    (0..=255u8).cycle().take(10_000).collect()
}

async fn local_s3_with_recording() -> LocalS3 {
    let s3 = LocalS3::start(ACCESS_KEY, SECRET).await;
    s3.create_bucket(BUCKET);
    s3.put_object(BUCKET, KEY, recording_bytes());
    s3
}

async fn get(url: &str) -> (u16, Vec<u8>) {
    let response = reqwest::get(url).await.expect("the local S3 answers");
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

#[tokio::test]
async fn a_presigned_get_downloads_the_exact_bytes() {
    let s3 = local_s3_with_recording().await;
    let storage = ObjectStorage::new(&s3.bucket_config(BUCKET)).unwrap();

    let presigned = storage.presigned_get(KEY, Duration::from_secs(300)).unwrap();
    assert!(presigned.url.starts_with(&s3.endpoint()), "{}", presigned.url);

    let (status, body) = get(&presigned.url).await;
    assert_eq!(status, 200, "{}", text(&body));
    assert_eq!(body, recording_bytes());
}

#[tokio::test]
async fn keys_with_spaces_plus_and_unicode_round_trip() {
    let s3 = LocalS3::start(ACCESS_KEY, SECRET).await;
    let key = "exports/space one/a+b=c,d;ü~!'()*.mp4";
    s3.put_object(BUCKET, key, b"odd key");
    let storage = ObjectStorage::new(&s3.bucket_config(BUCKET)).unwrap();

    let url = storage.presigned_get(key, Duration::from_secs(60)).unwrap().url;

    let (status, body) = get(&url).await;
    assert_eq!(status, 200, "{url}: {}", text(&body));
    assert_eq!(body, b"odd key");
}

#[tokio::test]
async fn a_tampered_signature_is_forbidden() {
    let s3 = local_s3_with_recording().await;
    let storage = ObjectStorage::new(&s3.bucket_config(BUCKET)).unwrap();
    let url = storage.presigned_get(KEY, Duration::from_secs(300)).unwrap().url;

    let last = url.chars().last().unwrap();
    let flipped = if last == '0' { '1' } else { '0' };
    let tampered = format!("{}{flipped}", &url[..url.len() - 1]);

    let (status, body) = get(&tampered).await;
    assert_eq!(status, 403, "{}", text(&body));
    assert!(text(&body).contains("SignatureDoesNotMatch"), "{}", text(&body));
}

#[tokio::test]
async fn a_url_signed_with_the_wrong_secret_is_forbidden() {
    let s3 = local_s3_with_recording().await;
    let config = BucketConfig {
        secret_access_key: "not-the-secret".into(),
        ..s3.bucket_config(BUCKET)
    };
    let storage = ObjectStorage::new(&config).unwrap();
    let url = storage.presigned_get(KEY, Duration::from_secs(300)).unwrap().url;

    let (status, body) = get(&url).await;
    assert_eq!(status, 403, "{}", text(&body));
    assert!(text(&body).contains("SignatureDoesNotMatch"), "{}", text(&body));
}

#[tokio::test]
async fn a_url_signed_with_an_unknown_access_key_is_forbidden() {
    let s3 = local_s3_with_recording().await;
    let config = BucketConfig {
        access_key_id: "someone-else".into(),
        ..s3.bucket_config(BUCKET)
    };
    let storage = ObjectStorage::new(&config).unwrap();
    let url = storage.presigned_get(KEY, Duration::from_secs(300)).unwrap().url;

    let (status, body) = get(&url).await;
    assert_eq!(status, 403, "{}", text(&body));
    assert_ne!(body, recording_bytes());
}

#[tokio::test]
async fn an_expired_url_is_forbidden() {
    let s3 = local_s3_with_recording().await;
    let storage = ObjectStorage::new(&s3.bucket_config(BUCKET)).unwrap();
    let signed_at = Utc::now() - chrono::Duration::hours(2);
    let presigned = storage
        .presigned_get_at(KEY, Duration::from_secs(3600), signed_at)
        .unwrap();
    assert!(presigned.expires_at < Utc::now());

    let (status, body) = get(&presigned.url).await;
    assert_eq!(status, 403, "{}", text(&body));
    assert!(text(&body).contains("AccessDenied"), "{}", text(&body));

    // The same time and key, still valid: only the expiry made the difference.
    let fresh = storage
        .presigned_get_at(KEY, Duration::from_secs(3 * 3600), signed_at)
        .unwrap();
    let (status, body) = get(&fresh.url).await;
    assert_eq!(status, 200, "{}", text(&body));
}

#[tokio::test]
async fn a_url_for_another_key_does_not_read_this_object() {
    let s3 = local_s3_with_recording().await;
    s3.put_object(BUCKET, "recordings/room-2/other.mp4", b"someone else's");
    let storage = ObjectStorage::new(&s3.bucket_config(BUCKET)).unwrap();

    // A URL for a key that holds nothing finds nothing.
    let missing = storage
        .presigned_get("recordings/room-1/missing.mp4", Duration::from_secs(300))
        .unwrap()
        .url;
    let (status, body) = get(&missing).await;
    assert_eq!(status, 404, "{}", text(&body));
    assert_ne!(body, recording_bytes());

    // A URL for another object, its path pointed at this one, fails the signature.
    let other = storage
        .presigned_get("recordings/room-2/other.mp4", Duration::from_secs(300))
        .unwrap()
        .url;
    let (status, body) = get(&other).await;
    assert_eq!((status, body.as_slice()), (200, &b"someone else's"[..]));
    let redirected = other.replace("recordings/room-2/other.mp4", KEY);
    assert_ne!(redirected, other);
    let (status, body) = get(&redirected).await;
    assert_eq!(status, 403, "{}", text(&body));
    assert_ne!(body, recording_bytes());
}

#[tokio::test]
async fn a_url_for_another_bucket_does_not_read_this_object() {
    let s3 = local_s3_with_recording().await;
    s3.create_bucket("other-bucket");
    let storage = ObjectStorage::new(&s3.bucket_config("other-bucket")).unwrap();
    let url = storage.presigned_get(KEY, Duration::from_secs(300)).unwrap().url;

    let (status, _) = get(&url).await;
    assert_eq!(status, 404);
    let redirected = url.replace("/other-bucket/", &format!("/{BUCKET}/"));
    let (status, body) = get(&redirected).await;
    assert_eq!(status, 403, "{}", text(&body));
}

#[tokio::test]
async fn dropping_the_local_s3_removes_its_directory() {
    let s3 = local_s3_with_recording().await;
    let root = s3.root().to_path_buf();
    assert!(root.join(BUCKET).join(KEY).is_file());
    drop(s3);
    assert!(!root.exists());
}
