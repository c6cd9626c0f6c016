//! What protects a browser session from other sites, as a browser (or an attacker's page) sees
//! it: the cross-site check of cookie requests, CORS for the listed web app origins, the
//! `__Host-` session cookie. `docs/security.md` lists the threats these tests show controlled.

use poem::{web::cookie::Cookie, Request};
use poem_openapi::{payload::PlainText, OpenApi};
use qubital_plugin::{Api, Feature};
use qubital_testkit::{problem, TestApp};

const WEB_APP: &str = "https://app.example.com";

#[derive(Default)]
struct TestApi;

#[OpenApi]
impl TestApi {
    /// A state-changing operation; answers the session cookie it received (by its code name).
    #[oai(path = "/test/change", method = "post")]
    async fn change(&self, req: &Request) -> PlainText<String> {
        let seen = req
            .cookie()
            .get(qubital_plugin::auth::ACCESS_TOKEN_COOKIE)
            .map(|c| c.value_str().to_owned())
            .unwrap_or_default();
        let mut cookie = Cookie::new_with_str(qubital_plugin::auth::ACCESS_TOKEN_COOKIE, "issued");
        cookie.set_path("/");
        req.cookie().add(cookie);
        PlainText(seen)
    }
}

qubital_plugin::inventory::submit! {
    Feature::new("web-security-test").apis(&[Api::of::<TestApi>()])
}

async fn app() -> TestApp {
    TestApp::builder()
        .arg("--cors-allowed-origins")
        .arg(format!("{WEB_APP}, http://localhost:3000"))
        .spawn()
        .await
}

/// `POST /test/change` with the session cookie and these headers.
async fn change(app: &TestApp, headers: &[(&str, &str)], json: bool) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(app.url("/test/change"))
        .header("cookie", "access_token=session");
    if json {
        request = request.header("content-type", "application/json");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn cookie_requests_from_other_sites_are_refused() {
    let app = app().await;
    let own = app.address.clone();
    // Refused: another site's page, by Origin or by Sec-Fetch-Site, and an opaque origin.
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![
            ("origin", "https://app.example.com.evil.example"),
            ("sec-fetch-site", "cross-site"),
        ],
    ] {
        let response = change(&app, &headers, true).await;
        assert_eq!(response.status().as_u16(), 403, "{headers:?}");
        assert_eq!(
            problem(response).await["type"],
            "https://qubital.app/errors/cross-site-request",
            "{headers:?}"
        );
    }
    // Allowed: the API's own origin, a listed web app, a client that is not a browser.
    for headers in [
        vec![("origin", own.as_str()), ("sec-fetch-site", "same-origin")],
        vec![("origin", WEB_APP), ("sec-fetch-site", "cross-site")],
        vec![("origin", "http://localhost:3000")],
        vec![],
    ] {
        let response = change(&app, &headers, true).await;
        assert_eq!(response.status().as_u16(), 200, "{headers:?}");
    }
    // Even from an allowed origin, a cookie request must declare JSON (an HTML form cannot),
    // also with an empty body.
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = reqwest::Client::new()
            .post(app.url("/test/change"))
            .header("cookie", "access_token=session")
            .header("origin", WEB_APP);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 415, "{content_type:?}");
        assert_eq!(
            problem(response).await["type"],
            "https://qubital.app/errors/unsupported-media-type"
        );
    }
    // Without cookies there is no session to forge with (webhooks, sign-in starts).
    let response = reqwest::Client::new()
        .post(app.url("/test/change"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    // Reading is not changing.
    let response = reqwest::Client::new()
        .get(app.url("/healthz"))
        .header("cookie", "access_token=session")
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn cors_answers_listed_origins_only() {
    let app = app().await;
    let preflight = |origin: &'static str| {
        reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, app.url("/test/change"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let listed = preflight(WEB_APP).await.unwrap();
    assert_eq!(listed.status().as_u16(), 204);
    let headers = listed.headers();
    assert_eq!(headers["access-control-allow-origin"], WEB_APP);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert!(headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert!(headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("content-type"));

    let unlisted = preflight("https://evil.example").await.unwrap();
    assert_ne!(unlisted.status().as_u16(), 204);
    assert!(
        unlisted
            .headers()
            .keys()
            .all(|h| !h.as_str().starts_with("access-control-")),
        "{:?}",
        unlisted.headers()
    );

    // The actual request: readable with credentials by the listed origin only.
    let response = change(&app, &[("origin", WEB_APP)], true).await;
    assert_eq!(response.headers()["access-control-allow-origin"], WEB_APP);
    assert_eq!(response.headers()["access-control-allow-credentials"], "true");
    assert!(response.headers()["vary"].to_str().unwrap().contains("origin"));
    let response = reqwest::Client::new()
        .post(app.url("/test/change"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("access-control-allow-origin").is_none());
    assert!(response
        .headers()
        .get("access-control-allow-credentials")
        .is_none());
}

#[tokio::test]
async fn the_session_cookie_is_host_prefixed_in_production() {
    // The spec names the production cookie.
    let spec: serde_json::Value = serde_json::from_str(&qubital::http::openapi_spec(
        qubital_plugin::Environment::Production,
    ))
    .unwrap();
    assert_eq!(
        spec["components"]["securitySchemes"]["cookieAuth"]["name"],
        "__Host-access_token"
    );

    // Development (plain HTTP): `access_token` on the wire, the code's name behind it.
    let dev = app().await;
    let response = change(&dev, &[], true).await;
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.starts_with("access_token=issued"), "{set_cookie}");
    assert_eq!(response.text().await.unwrap(), "session");

    // Production: `__Host-access_token` both ways; a plain `access_token` is not a session.
    let ctx = qubital_plugin::AppContext::new(
        dev.db().clone(),
        qubital_plugin::Environment::Production,
        Default::default(),
    );
    let settings = qubital::http::HttpSettings {
        max_body_bytes: 1 << 20,
        min_client_contract: None,
        trusted_proxy_hops: 0,
        allowed_origins: vec![],
    };
    let bound = qubital::http::server::bind(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let base = format!("http://{}", bound.local_addr);
    let stop = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(qubital::http::server::run(
        bound,
        qubital::http::app(ctx, settings),
        stop.clone().cancelled_owned(),
        std::time::Duration::from_secs(1),
    ));
    let post = |cookie: &'static str| {
        reqwest::Client::new()
            .post(format!("{base}/test/change"))
            .header("cookie", cookie)
            .header("content-type", "application/json")
            .send()
    };
    let response = post("__Host-access_token=session").await.unwrap();
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set_cookie.starts_with("__Host-access_token=issued"),
        "{set_cookie}"
    );
    assert_eq!(response.text().await.unwrap(), "session");
    let response = post("access_token=session").await.unwrap();
    assert_eq!(response.text().await.unwrap(), "");
    stop.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn large_json_answers_are_gzipped_for_clients_that_accept_it() {
    let app = app().await;
    // The OpenAPI document is a large JSON answer.
    // reqwest is built without its gzip feature here: it shows the bytes as sent.
    let plain = reqwest::Client::new();
    let raw = plain
        .get(app.url("/openapi.json"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.headers()["content-encoding"], "gzip");
    let vary: Vec<&str> = raw
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(vary.contains(&"accept-encoding"), "{vary:?}");
    let compressed = raw.bytes().await.unwrap();
    let mut decoded = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&compressed[..]), &mut decoded).unwrap();
    let spec: serde_json::Value = serde_json::from_str(&decoded).unwrap();
    assert_eq!(spec["info"]["title"], "Qubital API");
    assert!(
        compressed.len() * 3 < decoded.len(),
        "{} vs {}",
        compressed.len(),
        decoded.len()
    );

    // Not asked for: not compressed. Small: not compressed.
    let raw = plain.get(app.url("/openapi.json")).send().await.unwrap();
    assert!(raw.headers().get("content-encoding").is_none());
    let small = plain
        .get(app.url("/healthz"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert!(small.headers().get("content-encoding").is_none());
    assert!(small.text().await.unwrap().contains("ok"));
}

#[tokio::test]
async fn large_json_answers_are_brotli_compressed_for_clients_that_prefer_it() {
    let app = app().await;
    let plain = reqwest::Client::new();
    let fetch = |accept: &'static str| {
        plain
            .get(app.url("/openapi.json"))
            .header("accept-encoding", accept)
            .send()
    };
    // What browsers send: brotli is chosen over gzip.
    let raw = fetch("gzip, deflate, br, zstd").await.unwrap();
    assert_eq!(raw.headers()["content-encoding"], "br");
    let vary: Vec<&str> = raw
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(vary.contains(&"accept-encoding"), "{vary:?}");
    let brotli = raw.bytes().await.unwrap();
    let mut decoded = String::new();
    std::io::Read::read_to_string(&mut brotli::Decompressor::new(&brotli[..], 4096), &mut decoded).unwrap();
    let spec: serde_json::Value = serde_json::from_str(&decoded).unwrap();
    assert_eq!(spec["info"]["title"], "Qubital API");
    let gzip = fetch("gzip").await.unwrap().bytes().await.unwrap();
    assert!(
        brotli.len() < gzip.len(),
        "brotli {} vs gzip {}",
        brotli.len(),
        gzip.len()
    );

    // The client's weights decide: gzip preferred, or brotli refused.
    for accept in ["br;q=0.5, gzip", "br;q=0, *"] {
        let raw = fetch(accept).await.unwrap();
        assert_eq!(raw.headers()["content-encoding"], "gzip", "{accept}");
    }
    let raw = fetch("br;q=0, gzip;q=0").await.unwrap();
    assert!(raw.headers().get("content-encoding").is_none());
}
