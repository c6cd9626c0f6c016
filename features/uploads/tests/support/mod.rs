//! This crate's test steps: an app wired to a local S3 bucket of uploads (publicly readable,
//! as an R2 bucket behind a custom domain is), the client's side of an upload (asking for a
//! ticket, the `PUT` with a plain HTTP client, finalize), and images made here.
#![allow(dead_code)]

use platform_storage::fake::LocalS3;
pub use qubital_auth::test_support::{problem_type, sign_in};
pub use qubital_testkit::Client;
use qubital_testkit::{TestApp, TestAppBuilder};
use serde_json::{json, Value};

/// The bucket of these tests.
pub const BUCKET: &str = "uploads";

/// An app and the local S3 it uploads to. Dropping it stops both.
pub struct World {
    pub app: TestApp,
    pub s3: LocalS3,
}

impl World {
    /// The public base URL objects are read from (what `avatarUrl` starts with).
    pub fn public_base(&self) -> String {
        format!("{}/", self.s3.public_base_url(BUCKET))
    }

    /// Whether the bucket holds `key`.
    pub fn has(&self, key: &str) -> bool {
        self.s3.object_exists(BUCKET, key)
    }

    /// The key of one of the bucket's public URLs.
    pub fn key_of<'u>(&self, url: &'u str) -> &'u str {
        url.strip_prefix(self.public_base().as_str())
            .unwrap_or_else(|| panic!("{url} is not under the bucket's public URL"))
    }
}

/// `builder` pointed at a public `uploads` bucket of `s3`.
pub fn with_uploads(builder: TestAppBuilder, s3: &LocalS3) -> TestAppBuilder {
    s3.create_bucket(BUCKET);
    s3.allow_public_read(BUCKET);
    let config = s3.bucket_config(BUCKET);
    builder
        .arg("--uploads-s3-bucket")
        .arg(config.bucket)
        .arg("--uploads-s3-endpoint")
        .arg(s3.endpoint())
        .arg("--uploads-s3-region")
        .arg(config.region)
        .arg("--uploads-s3-access-key-id")
        .arg(config.access_key_id)
        .arg("--uploads-s3-secret-access-key")
        .arg(config.secret_access_key)
        .arg("--uploads-public-base-url")
        .arg(s3.public_base_url(BUCKET))
}

pub async fn world() -> World {
    let s3 = LocalS3::start("AKIDLOCALUPLOADS", "local-uploads-secret").await;
    let app = with_uploads(TestApp::builder(), &s3).spawn().await;
    World { app, s3 }
}

/// A ticket for `bytes` as `content_type` from `path` (an upload-ticket operation).
pub async fn ticket(client: &Client, path: &str, content_type: &str, bytes: &[u8]) -> Value {
    client
        .ok(path, json!({ "contentType": content_type, "size": bytes.len() }))
        .await
}

/// The client's upload: `PUT` of `bytes` to the ticket's URL with its headers, by a plain HTTP
/// client (no cookie, no signing of its own). The store's status.
pub async fn put(ticket: &Value, bytes: Vec<u8>) -> u16 {
    let mut request = reqwest::Client::new().put(ticket["uploadUrl"].as_str().unwrap());
    for header in ticket["headers"].as_array().unwrap() {
        request = request.header(
            header["name"].as_str().unwrap(),
            header["value"].as_str().unwrap(),
        );
    }
    request.body(bytes).send().await.unwrap().status().as_u16()
}

/// Ticket, `PUT`, finalize: the finalize answer (a `User` or an `Organization`).
pub async fn upload(client: &Client, base: &str, content_type: &str, bytes: Vec<u8>) -> Value {
    let ticket = ticket(client, &format!("{base}/upload-ticket"), content_type, &bytes).await;
    assert_eq!(put(&ticket, bytes).await, 200, "{ticket}");
    client
        .ok(&format!("{base}/finalize"), json!({ "key": ticket["key"] }))
        .await
}

/// A plain `GET` of a public URL: status, content type, body.
pub async fn fetch(url: &str) -> (u16, Option<String>, Vec<u8>) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, content_type, response.bytes().await.unwrap().to_vec())
}

/// A real (decodable) `width` × `height` RGB PNG: IDAT is zlib with stored (uncompressed)
/// blocks, so no compressor is needed.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            raw.extend([
                (x * 255 / width.max(1)) as u8,
                (y * 255 / height.max(1)) as u8,
                0x80,
            ]);
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in chunks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == chunks.len()));
        let len = block.len() as u16;
        zlib.extend(len.to_le_bytes());
        zlib.extend((!len).to_le_bytes());
        zlib.extend(*block);
    }
    zlib.extend(adler32(&raw).to_be_bytes());

    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", ihdr), (b"IDAT", zlib), (b"IEND", Vec::new())] {
        png.extend((data.len() as u32).to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend(&data);
        png.extend(kind);
        png.extend(&data);
        png.extend(crc32(&crc_input).to_be_bytes());
    }
    png
}

/// The start of a baseline JPEG of `width` × `height` (SOI, then a SOF0 segment): what the
/// type and the dimensions are read from.
pub fn jpeg_header(width: u16, height: u16) -> Vec<u8> {
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08];
    jpeg.extend(height.to_be_bytes());
    jpeg.extend(width.to_be_bytes());
    jpeg.extend([0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
    jpeg.extend([0xFF, 0xD9]);
    jpeg
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in bytes {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}
