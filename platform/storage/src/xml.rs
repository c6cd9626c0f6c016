//! The few S3 XML documents this crate reads and writes: error bodies, `ListObjectsV2` pages,
//! `DeleteObjects` requests and results, and the result of `CopyObject` (which can be an error
//! with status 200).

use quick_xml::{events::Event, Reader};
use serde::Deserialize;

/// S3's `<Error>` body (`Code`, `Message`; the rest, `RequestId`, `Resource`…, is ignored).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(rename = "Code")]
    pub code: Option<String>,
    #[serde(rename = "Message")]
    pub message: Option<String>,
}

/// The `<Error>` document in `body`, if that is what it is.
pub(crate) fn parse_error(body: &[u8]) -> Option<ErrorBody> {
    let text = std::str::from_utf8(body).ok()?;
    if root_element(text)?.as_str() != "Error" {
        return None;
    }
    quick_xml::de::from_str(text).ok()
}

/// The local name of the document's root element.
pub(crate) fn root_element(text: &str) -> Option<String> {
    let mut reader = Reader::from_str(text);
    loop {
        match reader.read_event().ok()? {
            Event::Start(element) | Event::Empty(element) => {
                return String::from_utf8(element.local_name().as_ref().to_vec()).ok();
            }
            Event::Eof => return None,
            // The declaration, comments, whitespace.
            _ => {}
        }
    }
}

/// One `ListObjectsV2` page (`<ListBucketResult>`).
#[derive(Debug, Deserialize)]
pub(crate) struct ListBucketResult {
    #[serde(rename = "Contents", default)]
    pub contents: Vec<ListedObject>,
    #[serde(rename = "IsTruncated", default)]
    pub is_truncated: bool,
    #[serde(rename = "NextContinuationToken")]
    pub next_continuation_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListedObject {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Size", default)]
    pub size: u64,
    #[serde(rename = "ETag")]
    pub etag: Option<String>,
    /// ISO 8601, e.g. `2009-10-12T17:50:30.000Z`.
    #[serde(rename = "LastModified")]
    pub last_modified: Option<String>,
}

pub(crate) fn parse_list(body: &[u8]) -> Result<ListBucketResult, String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    match root_element(text).as_deref() {
        Some("ListBucketResult") => quick_xml::de::from_str(text).map_err(|e| e.to_string()),
        other => Err(format!("expected <ListBucketResult>, got {other:?}")),
    }
}

/// The body of a quiet `DeleteObjects` request: only failures are reported back.
pub(crate) fn delete_objects_body<K: AsRef<str>>(keys: &[K]) -> String {
    let mut body = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>"#,
    );
    for key in keys {
        body.push_str("<Object><Key>");
        body.push_str(&quick_xml::escape::escape(key.as_ref()));
        body.push_str("</Key></Object>");
    }
    body.push_str("</Delete>");
    body
}

/// `<DeleteResult>`: in quiet mode, only the `<Error>` entries.
#[derive(Debug, Deserialize)]
pub(crate) struct DeleteResult {
    #[serde(rename = "Error", default)]
    pub errors: Vec<DeleteError>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct DeleteError {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Code")]
    pub code: Option<String>,
    #[serde(rename = "Message")]
    pub message: Option<String>,
}

pub(crate) fn parse_delete_result(body: &[u8]) -> Result<DeleteResult, String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    match root_element(text).as_deref() {
        Some("DeleteResult") => quick_xml::de::from_str(text).map_err(|e| e.to_string()),
        other => Err(format!("expected <DeleteResult>, got {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aws_error_body_is_parsed() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>NoSuchKey</Code>
  <Message>The resource you requested does not exist</Message>
  <Resource>/mybucket/myfoto.jpg</Resource>
  <RequestId>4442587FB7D0A2F9</RequestId>
</Error>"#;
        let error = parse_error(body).unwrap();
        assert_eq!(error.code.as_deref(), Some("NoSuchKey"));
        assert_eq!(
            error.message.as_deref(),
            Some("The resource you requested does not exist")
        );
        assert!(parse_error(b"<CopyObjectResult><ETag>x</ETag></CopyObjectResult>").is_none());
        assert!(parse_error(b"not xml at all").is_none());
        assert!(parse_error(b"").is_none());
    }

    #[test]
    fn an_aws_listing_is_parsed() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
    <Name>bucket</Name>
    <Prefix>tmp/</Prefix>
    <KeyCount>2</KeyCount>
    <MaxKeys>2</MaxKeys>
    <IsTruncated>true</IsTruncated>
    <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
    <Contents>
        <Key>tmp/a &amp; b.png</Key>
        <LastModified>2009-10-12T17:50:30.000Z</LastModified>
        <ETag>"fba9dede5f27731c9771645a39863328"</ETag>
        <Size>434234</Size>
        <StorageClass>STANDARD</StorageClass>
    </Contents>
    <Contents>
        <Key>tmp/c.webp</Key>
        <LastModified>2009-10-12T17:50:31.000Z</LastModified>
        <ETag>"599bab3ed2c697f1d26842727561fd94"</ETag>
        <Size>0</Size>
        <StorageClass>STANDARD</StorageClass>
    </Contents>
</ListBucketResult>"#;
        let page = parse_list(body).unwrap();
        assert!(page.is_truncated);
        assert_eq!(
            page.next_continuation_token.as_deref(),
            Some("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
        );
        let keys: Vec<_> = page.contents.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["tmp/a & b.png", "tmp/c.webp"]);
        assert_eq!(page.contents[0].size, 434_234);
        assert_eq!(
            page.contents[0].etag.as_deref(),
            Some("\"fba9dede5f27731c9771645a39863328\"")
        );
        assert_eq!(
            page.contents[1].last_modified.as_deref(),
            Some("2009-10-12T17:50:31.000Z")
        );

        let empty = parse_list(
            br#"<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>"#,
        )
        .unwrap();
        assert!(empty.contents.is_empty() && !empty.is_truncated);
        assert!(parse_list(b"<Error><Code>NoSuchBucket</Code></Error>").is_err());
    }

    #[test]
    fn a_delete_body_escapes_keys_and_a_result_lists_failures() {
        let body = delete_objects_body(&["tmp/a<b>&\"c'.png", "tmp/d"]);
        assert!(body.contains("<Quiet>true</Quiet>"), "{body}");
        assert!(
            body.contains("<Key>tmp/a&lt;b&gt;&amp;&quot;c&apos;.png</Key>"),
            "{body}"
        );
        assert!(
            body.ends_with("<Object><Key>tmp/d</Key></Object></Delete>"),
            "{body}"
        );

        let result = parse_delete_result(
            br#"<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Error><Key>tmp/x</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>
  <Error><Key>tmp/y</Key><Code>InternalError</Code><Message>Try again</Message></Error>
</DeleteResult>"#,
        )
        .unwrap();
        let failed: Vec<_> = result
            .errors
            .iter()
            .map(|e| (e.key.as_str(), e.code.as_deref()))
            .collect();
        assert_eq!(
            failed,
            [("tmp/x", Some("AccessDenied")), ("tmp/y", Some("InternalError"))]
        );
        let none = parse_delete_result(
            br#"<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>"#,
        )
        .unwrap();
        assert!(none.errors.is_empty());
    }
}
