//! gzip for large text answers (JSON, problems, metrics) when the client accepts it: list
//! answers shrink several times over, which matters on the desktop client's slow links.

use std::{io::Write, sync::Arc};

use poem::{
    http::{header, HeaderValue},
    Body, Endpoint, IntoResponse, Request, Response,
};

/// Bodies smaller than this are sent as they are: gzip's header and the CPU are not worth it.
pub const MIN_COMPRESSED_BYTES: usize = 1024;

/// Compresses the answer with gzip when the request's `Accept-Encoding` allows it, the answer
/// is text (`application/json`, `+json`, `text/*`), not encoded already, and at least
/// [`MIN_COMPRESSED_BYTES`] long. Adds `Vary: Accept-Encoding` to every text answer.
pub async fn gzip<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    let accepts = accepts_gzip(req.headers().get(header::ACCEPT_ENCODING));
    let mut response = next.call(req).await?.into_response();
    if !is_text(&response) || response.headers().contains_key(header::CONTENT_ENCODING) {
        return Ok(response);
    }
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    if !accepts {
        return Ok(response);
    }
    let body = response.take_body().into_bytes().await?;
    if body.len() < MIN_COMPRESSED_BYTES {
        response.set_body(body);
        return Ok(response);
    }
    let mut encoder =
        flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::fast());
    let compressed = encoder.write_all(&body).and_then(|()| encoder.finish());
    match compressed {
        Ok(compressed) => {
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            headers.remove(header::CONTENT_LENGTH);
            response.set_body(Body::from_vec(compressed));
        }
        Err(_) => response.set_body(body),
    }
    Ok(response)
}

/// Whether `Accept-Encoding` lists `gzip` (or `*`) without `q=0`.
fn accepts_gzip(value: Option<&HeaderValue>) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    value.split(',').any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or("").to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        (name == "gzip" || name == "*") && !refused
    })
}

fn is_text(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            essence == "application/json" || essence.ends_with("+json") || essence.starts_with("text/")
        })
}

#[cfg(test)]
mod tests {
    use super::accepts_gzip;
    use poem::http::HeaderValue;

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        let accepts = |v: &'static str| accepts_gzip(Some(&HeaderValue::from_static(v)));
        assert!(accepts("gzip, deflate, br"));
        assert!(accepts("br;q=1.0, gzip;q=0.8"));
        assert!(accepts("*"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("br"));
        assert!(!accepts_gzip(None));
    }
}
