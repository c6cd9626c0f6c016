//! Checks every request passes before it reaches a route.

use std::sync::Arc;

use poem::{http::header, Endpoint, IntoResponse, Request, Response};
use std::net::IpAddr;

use qubital_plugin::{auth::ACCESS_TOKEN_COOKIE, problem::types, request::ClientIp, Problem};

use super::{contract::RequestGuard, problems, HttpSettings};

/// Header in which clients send the API contract version they were built against.
pub const CONTRACT_HEADER: &str = "x-qubital-contract";

/// Answers 426 to a client older than `MIN_CLIENT_CONTRACT`, so it can update itself.
pub async fn client_contract<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    let settings = req
        .data::<HttpSettings>()
        .expect("HttpSettings is provided by the app");
    if let (Some(minimum), Some(sent)) = (&settings.min_client_contract, req.headers().get(CONTRACT_HEADER)) {
        let sent = sent
            .to_str()
            .ok()
            .and_then(|s| semver::Version::parse(s.trim()).ok())
            .ok_or_else(|| Problem::new(&types::INVALID_CONTRACT_VERSION))?;
        if &sent < minimum {
            return Err(Problem::new(&types::CLIENT_OUTDATED)
                .with_detail(format!(
                    "The oldest supported contract is {minimum}; this client sent {sent}."
                ))
                .into());
        }
    }
    Ok(next.call(req).await?.into_response())
}

/// Puts the client's [`ClientIp`] into the request: the entry of `X-Forwarded-For` that
/// `TRUSTED_PROXY_HOPS` proxies from the right added (each trusted proxy appends the address it
/// received the request from, so the rightmost entries are the only ones a client cannot
/// forge), or the socket peer when no proxy is trusted or the header is shorter than that.
pub async fn client_ip<E: Endpoint>(next: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let hops = req
        .data::<HttpSettings>()
        .expect("HttpSettings is provided by the app")
        .trusted_proxy_hops;
    let peer = req.remote_addr().as_socket_addr().map(|addr| addr.ip());
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    if let Some(ip) = choose_client_ip(peer, &forwarded, hops) {
        req.set_data(ClientIp(ip));
    }
    Ok(next.call(req).await?.into_response())
}

fn choose_client_ip(peer: Option<IpAddr>, forwarded: &str, hops: u8) -> Option<IpAddr> {
    if hops == 0 {
        return peer;
    }
    let entries: Vec<&str> = forwarded
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    entries
        .len()
        .checked_sub(usize::from(hops))
        .and_then(|index| entries[index].parse().ok())
        .or(peer)
}

/// Bounds the body size (413) and rejects JSON bodies that do not parse (400) before any
/// handler sees them, so that a schema error further in can be reported as 422.
pub async fn body<E: Endpoint>(next: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let limit = req
        .data::<HttpSettings>()
        .expect("HttpSettings is provided by the app")
        .max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(problems::payload_too_large().into());
    }
    let bytes = req
        .take_body()
        .into_bytes_limit(limit)
        .await
        .map_err(|error| match error {
            poem::error::ReadBodyError::PayloadTooLarge => problems::payload_too_large(),
            _ => Problem::new(&types::UNREADABLE_BODY),
        })?;
    if !bytes.is_empty() && is_json(&req) {
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|_| problems::malformed_json())?;
        let guard = req
            .data::<Arc<RequestGuard>>()
            .expect("the request guard is provided by the app");
        // With the session cookie the body is checked here, before the handler authenticates;
        // without it, an operation that needs it answers 401 whatever the body says.
        let session_cookie = req.cookie().get(ACCESS_TOKEN_COOKIE).is_some();
        let errors = guard.check(req.method().as_str(), req.uri().path(), &value, session_cookie);
        if !errors.is_empty() {
            return Err(Problem::validation(errors).into());
        }
    }
    req.set_body(bytes);
    Ok(next.call(req).await?.into_response())
}

/// A `405` names the methods the path has (`Allow`, RFC 9110): `POST` for operations, `GET`
/// for the ops endpoints.
pub async fn allow<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    let path = req.uri().path().to_owned();
    let guard = req
        .data::<Arc<RequestGuard>>()
        .expect("the request guard is provided by the app")
        .clone();
    match next.call(req).await {
        Ok(response) => Ok(response.into_response()),
        Err(error) if error.is::<poem::error::MethodNotAllowedError>() => {
            let mut response = poem::error::ResponseError::as_response(&problems::from_error(&error));
            if let Some(methods) = guard.allowed_methods(&path) {
                if let Ok(value) = poem::http::HeaderValue::from_str(&methods) {
                    response.headers_mut().insert(header::ALLOW, value);
                }
            }
            Ok(response)
        }
        Err(error) => Err(error),
    }
}

pub(crate) fn is_json(req: &Request) -> bool {
    req.content_type().is_some_and(|ct| {
        let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        essence == "application/json" || essence.ends_with("+json")
    })
}

#[cfg(test)]
mod tests {
    use super::choose_client_ip;

    #[test]
    fn the_client_ip_is_counted_from_the_right_never_chosen_by_the_client() {
        let peer = Some("10.0.0.9".parse().unwrap());
        // No proxy trusted: the socket peer, whatever the header says.
        assert_eq!(choose_client_ip(peer, "1.1.1.1", 0), peer);
        // One trusted proxy (a load balancer): the entry it appended, not the forged first one.
        assert_eq!(
            choose_client_ip(peer, "6.6.6.6, 203.0.113.7", 1),
            Some("203.0.113.7".parse().unwrap())
        );
        assert_eq!(
            choose_client_ip(peer, "6.6.6.6, 203.0.113.7, 10.0.0.2", 2),
            Some("203.0.113.7".parse().unwrap())
        );
        // Fewer entries than trusted hops, or garbage: the socket peer.
        assert_eq!(choose_client_ip(peer, "", 1), peer);
        assert_eq!(choose_client_ip(peer, "not-an-ip", 1), peer);
    }
}
