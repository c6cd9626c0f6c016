//! Compression of large text answers (JSON, problems, metrics) when the client accepts it: list
//! answers shrink several times over, which matters on the desktop client's slow links. Brotli
//! (`br`) when the client prefers it or weighs it as much as gzip, else gzip.
//!
//! Done here, over the `brotli` and `flate2` crates, rather than with poem's `Compression`
//! middleware: that needs poem's `compression` Cargo feature, which rebuilds poem and every
//! crate above it.

use std::{io::Write, sync::Arc};

use poem::{
    http::{header, HeaderValue},
    Body, Endpoint, IntoResponse, Request, Response,
};

/// Bodies smaller than this are sent as they are: the encoding's framing and the CPU are not
/// worth it.
pub const MIN_COMPRESSED_BYTES: usize = 1024;

/// Brotli quality for answers made on the fly: 4 compresses JSON better than gzip's fast level
/// at a similar cost (11, the maximum, is for static assets).
const BROTLI_QUALITY: u32 = 4;
/// Brotli window (log2 of its size): 4 MiB, the format's usual default.
const BROTLI_WINDOW: u32 = 22;

/// A content coding this server sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::Brotli => "br",
            Encoding::Gzip => "gzip",
        }
    }

    fn encode(self, body: &[u8]) -> std::io::Result<Vec<u8>> {
        let out = Vec::with_capacity(body.len() / 4);
        match self {
            Encoding::Brotli => {
                let mut encoder = brotli::CompressorWriter::new(out, 4096, BROTLI_QUALITY, BROTLI_WINDOW);
                encoder.write_all(body)?;
                encoder.flush()?;
                Ok(encoder.into_inner())
            }
            Encoding::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
                encoder.write_all(body)?;
                encoder.finish()
            }
        }
    }
}

/// Compresses the answer with the coding [`negotiate`] picks from the request's
/// `Accept-Encoding`, when the answer is text (`application/json`, `+json`, `text/*`), not
/// encoded already, and at least [`MIN_COMPRESSED_BYTES`] long. Adds `Vary: Accept-Encoding` to
/// every text answer.
pub async fn compress<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    let encoding = negotiate(req.headers().get(header::ACCEPT_ENCODING));
    let mut response = next.call(req).await?.into_response();
    if !is_text(&response) || response.headers().contains_key(header::CONTENT_ENCODING) {
        return Ok(response);
    }
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    let Some(encoding) = encoding else {
        return Ok(response);
    };
    let body = response.take_body().into_bytes().await?;
    if body.len() < MIN_COMPRESSED_BYTES {
        response.set_body(body);
        return Ok(response);
    }
    match encoding.encode(&body) {
        Ok(compressed) => {
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(encoding.name()),
            );
            headers.remove(header::CONTENT_LENGTH);
            response.set_body(Body::from_vec(compressed));
        }
        Err(_) => response.set_body(body),
    }
    Ok(response)
}

/// The coding to send for an `Accept-Encoding` header (RFC 9110 §12.5.3): each coding's weight
/// is its own entry's `q`, else the `*` entry's, else 0. Brotli when its weight is positive and
/// at least gzip's; else gzip when its weight is positive; else none.
pub fn negotiate(value: Option<&HeaderValue>) -> Option<Encoding> {
    let value = value?.to_str().ok()?;
    let (mut br, mut gzip, mut any) = (None, None, None);
    for coding in value.split(',') {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or("").to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
            .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())
            .unwrap_or(0.0);
        match name.as_str() {
            "br" => br = Some(q),
            "gzip" | "x-gzip" => gzip = Some(q),
            "*" => any = Some(q),
            _ => {}
        }
    }
    let br = br.or(any).unwrap_or(0.0);
    let gzip = gzip.or(any).unwrap_or(0.0);
    if br > 0.0 && br >= gzip {
        Some(Encoding::Brotli)
    } else if gzip > 0.0 {
        Some(Encoding::Gzip)
    } else {
        None
    }
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
    use super::{negotiate, Encoding};
    use poem::http::HeaderValue;

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        let pick = |v: &'static str| negotiate(Some(&HeaderValue::from_static(v)));
        assert_eq!(pick("gzip, deflate, br"), Some(Encoding::Brotli));
        assert_eq!(pick("br;q=1.0, gzip;q=0.8"), Some(Encoding::Brotli));
        assert_eq!(pick("br;q=0.5, gzip"), Some(Encoding::Gzip));
        assert_eq!(pick("gzip, deflate"), Some(Encoding::Gzip));
        assert_eq!(pick("br"), Some(Encoding::Brotli));
        assert_eq!(pick("*"), Some(Encoding::Brotli));
        assert_eq!(pick("br;q=0, *"), Some(Encoding::Gzip));
        assert_eq!(pick("gzip;q=0"), None);
        assert_eq!(pick("br;q=0, gzip;q=0"), None);
        assert_eq!(pick("identity, deflate"), None);
        assert_eq!(pick("gzip;q=bogus"), None);
        assert_eq!(negotiate(None), None);
    }
}
