//! What a browser needs from the API, and what protects the browser's session from other sites:
//! the cross-site request check ([`cross_site`]), CORS for the allow-listed web app origins
//! ([`cors`]), and the session cookie's name on the wire ([`session_cookie`]).
//! `docs/security.md` lists the threats and the tests.

use std::sync::Arc;

use poem::{
    http::{header, HeaderValue, Method, StatusCode},
    Endpoint, IntoResponse, Request, Response,
};
use qubital_plugin::{problem::types, AppContext, Problem};

use super::HttpSettings;

const HOST_PREFIX: &str = "__Host-";

/// A web origin (`https://app.example.com`, `http://localhost:3000`): scheme, host and port,
/// nothing else. Used as the `value_parser` of `CORS_ALLOWED_ORIGINS`.
pub fn parse_origin(value: &str) -> Result<String, String> {
    let origin = value.trim().trim_end_matches('/').to_ascii_lowercase();
    let Some((scheme, authority)) = origin.split_once("://") else {
        return Err(format!("`{value}` is not an origin (https://host[:port])"));
    };
    let valid_authority = !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !matches!(scheme, "http" | "https") || !valid_authority {
        return Err(format!(
            "`{value}` is not an origin (https://host[:port], no path, no wildcard)"
        ));
    }
    Ok(origin)
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The request's `Origin` when it is one of `CORS_ALLOWED_ORIGINS`.
fn allowed_origin<'a>(req: &'a Request, settings: &HttpSettings) -> Option<&'a str> {
    header(req, "origin").filter(|origin| {
        settings
            .allowed_origins
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(origin))
    })
}

/// Whether `origin` is the API's own (its authority is the `Host` the request was sent to).
fn is_same_origin(req: &Request, origin: &str) -> bool {
    let authority = origin.split_once("://").map(|(_, a)| a);
    let host = header(req, "host");
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

/// Refuses a state-changing request that carries cookies (so the browser's session) unless it
/// comes from the API's own origin or an allow-listed one, and unless its body is declared
/// JSON — even an empty one — which no HTML form can send and no cross-origin script can send
/// without a CORS preflight.
///
/// - a `POST` (or `PUT`/`PATCH`/`DELETE`) with a `Cookie` header is checked; requests
///   without cookies (webhooks, server-to-server calls) carry no ambient authority;
/// - `Origin` (sent by browsers on every such request) must be the API's own or listed in
///   `CORS_ALLOWED_ORIGINS`; `Origin: null` is refused;
/// - without `Origin`, `Sec-Fetch-Site` must not be `cross-site` or `same-site`;
/// - `Content-Type` must be `application/json` (or `+json`): otherwise `415` (except for the
///   operations whose body is not JSON: webhooks, which read no cookie).
pub async fn cross_site<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    // Methods no operation has (TRACE...) go on to the router's `405`.
    let changes = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if changes && req.headers().contains_key(header::COOKIE) {
        let settings = req
            .data::<HttpSettings>()
            .expect("HttpSettings is provided by the app");
        let allowed = match header(&req, "origin") {
            Some(origin) => is_same_origin(&req, origin) || allowed_origin(&req, settings).is_some(),
            None => !matches!(header(&req, "sec-fetch-site"), Some("cross-site" | "same-site")),
        };
        if !allowed {
            return Err(Problem::new(&types::CROSS_SITE_REQUEST)
                .with_detail("This origin may not change anything with the session cookie.")
                .into());
        }
        // An operation that takes other bytes (a webhook's signed body) ignores the cookie.
        let other_body = req
            .data::<Arc<super::contract::RequestGuard>>()
            .is_some_and(|guard| guard.takes_other_than_json(req.method().as_str(), req.uri().path()));
        if !other_body && !super::guards::is_json(&req) {
            return Err(Problem::new(&types::UNSUPPORTED_MEDIA_TYPE)
                .with_detail("Send `Content-Type: application/json`, even with an empty body.")
                .into());
        }
    }
    Ok(next.call(req).await?.into_response())
}

/// Request headers a listed origin's scripts may send.
const ALLOWED_HEADERS: &str = "content-type, x-qubital-contract, x-request-id, x-trace-id";
/// Response headers a listed origin's scripts may read.
const EXPOSED_HEADERS: &str = "x-request-id, retry-after";

/// CORS for the web app: a listed origin gets its preflight answered (`204`) and its responses
/// marked readable with credentials; any other origin gets nothing (no CORS header at all, so
/// the browser keeps the response from its script, and its preflight falls through to `405`).
pub async fn cors<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    let settings = req
        .data::<HttpSettings>()
        .expect("HttpSettings is provided by the app");
    let Some(origin) = allowed_origin(&req, settings).map(str::to_owned) else {
        let mut response = next.call(req).await?.into_response();
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("origin"));
        return Ok(response);
    };
    let origin = HeaderValue::from_str(&origin).expect("checked by parse_origin");
    let preflight =
        req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        response
    } else {
        let mut response = next.call(req).await?.into_response();
        response.headers_mut().insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    Ok(response)
}

/// The session cookie is `__Host-access_token` ([`qubital_plugin::auth::ACCESS_TOKEN_COOKIE`]), and every other
/// cookie the API sets is `__Host-` too: the browser then only accepts it `Secure`, for `/`,
/// from this very host (no sibling subdomain can set or shadow it). A development server speaks
/// plain HTTP, where a browser refuses `__Host-` cookies, so there the wire names drop the
/// prefix (`access_token`, [`qubital_plugin::auth::DEVELOPMENT_ACCESS_TOKEN_COOKIE`]): this middleware renames them
/// on the way in and out, and the code behind it only knows one name.
pub async fn session_cookie<E: Endpoint>(next: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let development = req
        .data::<AppContext>()
        .is_some_and(|ctx| ctx.environment().is_development());
    if !development {
        return Ok(next.call(req).await?.into_response());
    }
    let renamed: Vec<HeaderValue> = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| HeaderValue::from_str(&rename_cookies(v)).ok())
        .collect();
    if !renamed.is_empty() {
        req.headers_mut().remove(header::COOKIE);
        for value in renamed {
            req.headers_mut().append(header::COOKIE, value);
        }
    }
    let mut response = next.call(req).await?.into_response();
    let set: Vec<HeaderValue> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(
            |v| match v.to_str().ok().and_then(|text| text.strip_prefix(HOST_PREFIX)) {
                Some(plain) => HeaderValue::from_str(plain).unwrap_or_else(|_| v.clone()),
                None => v.clone(),
            },
        )
        .collect();
    if !set.is_empty() {
        response.headers_mut().remove(header::SET_COOKIE);
        for value in set {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

/// Development: every cookie is also seen under its `__Host-` name (`a=1` → `a=1;
/// __Host-a=1`), since the browser would refuse a `__Host-` cookie over plain HTTP.
fn rename_cookies(header: &str) -> String {
    header
        .split(';')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .flat_map(|pair| {
            let alias = (!pair.starts_with(HOST_PREFIX)).then(|| format!("{HOST_PREFIX}{pair}"));
            std::iter::once(pair.to_owned()).chain(alias)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use qubital_plugin::auth::{ACCESS_TOKEN_COOKIE, DEVELOPMENT_ACCESS_TOKEN_COOKIE};

    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert_eq!(
            parse_origin("https://App.Example.com/").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(
            parse_origin("http://localhost:3000").unwrap(),
            "http://localhost:3000"
        );
        for bad in [
            "*",
            "app.example.com",
            "https://app.example.com/path",
            "ftp://x",
            "https://*.example.com",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn development_renames_the_session_cookie_on_the_wire() {
        assert_eq!(
            rename_cookies("theme=dark; access_token=abc"),
            "theme=dark; __Host-theme=dark; access_token=abc; __Host-access_token=abc"
        );
        assert_eq!(rename_cookies("__Host-a=1"), "__Host-a=1");
        assert_eq!(
            format!("{HOST_PREFIX}{DEVELOPMENT_ACCESS_TOKEN_COOKIE}"),
            ACCESS_TOKEN_COOKIE
        );
    }
}
