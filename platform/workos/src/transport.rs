//! The `workos` SDK's HTTP transport, on the workspace's `reqwest`.
//!
//! The SDK's bundled transport (its `rustls-tls` feature) is `reqwest` 0.12 on `ring`: a second
//! HTTP client and a second TLS/crypto stack beside the workspace's `reqwest` 0.13 on rustls with
//! `aws-lc-rs`. The SDK takes any [`HttpTransport`] instead, so the workspace builds it without
//! features and hands it this one (docs/deploying.md, "Build cost").

use std::time::Duration;

use async_trait::async_trait;
use workos::transport::{HttpRequest, HttpResponse, HttpTransport, TransportError};

/// Sends the SDK's requests through a `reqwest` client of the workspace's version.
pub(crate) struct ReqwestTransport {
    http: reqwest::Client,
}

impl ReqwestTransport {
    /// A client whose requests (connection included) fail after `timeout`.
    pub(crate) fn new(timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // The WorkOS API never redirects; a redirect is answered to the SDK as the status it
            // is (an error there) rather than followed with the API key to another address.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| anyhow::anyhow!("cannot build the WorkOS HTTP client: {error}"))?;
        Ok(Self { http })
    }
}

#[async_trait]
impl HttpTransport for ReqwestTransport {
    async fn execute(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let mut builder = self
            .http
            .request(request.method, &request.url)
            .headers(request.headers);
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let response = builder.send().await.map_err(classify)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(classify)?;
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

/// The SDK retries connection failures and timeouts (on idempotent requests), nothing else.
fn classify(error: reqwest::Error) -> TransportError {
    if error.is_timeout() {
        TransportError::timeout(error)
    } else if error.is_connect() {
        TransportError::connect(error)
    } else {
        TransportError::other(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use workos::transport::TransportErrorKind;

    fn get(url: String) -> HttpRequest {
        HttpRequest {
            method: reqwest::Method::GET,
            url,
            headers: reqwest::header::HeaderMap::new(),
            body: None,
        }
    }

    // The SDK retries only these two kinds: a silent server must read as a timeout and a closed
    // port as a connection failure, not as "other" (which it never retries).
    #[tokio::test]
    async fn a_silent_server_is_a_timeout_and_a_closed_port_a_connection_failure() {
        let transport = ReqwestTransport::new(Duration::from_millis(300)).unwrap();

        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/organizations", silent.local_addr().unwrap());
        let hold = tokio::spawn(async move {
            let (socket, _) = silent.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(socket);
        });
        let error = transport.execute(get(url)).await.unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::Timeout, "{error}");
        hold.abort();

        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/organizations", closed.local_addr().unwrap());
        drop(closed);
        let error = transport.execute(get(url)).await.unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::Connect, "{error}");
    }
}
