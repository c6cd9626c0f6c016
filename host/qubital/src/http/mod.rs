//! The HTTP surface: every feature's API, the ops endpoints, and the middleware that gives every
//! response the same shape (problem+json errors, request ids, metrics).
//!
//! Request flow, outermost first: [`surface`] (request id, log span, error → problem, metrics)
//! → panic catcher → [`guards`] (client contract version, body size, JSON syntax) → routes.

mod api;
pub mod compression;
pub mod contract;
pub mod guards;
pub mod ops;
pub mod problems;
pub mod server;
pub mod surface;
pub mod web;

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use poem::{
    endpoint::{make_sync, BoxEndpoint},
    middleware::{CatchPanic, CookieJarManager},
    EndpointExt, Route,
};
use poem_openapi::OpenApiService;
use qubital_plugin::{AppContext, Environment, Problem};

pub use api::FeatureApis;

/// Settings of the HTTP surface that the middleware needs.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub max_body_bytes: usize,
    pub min_client_contract: Option<semver::Version>,
    /// Proxies trusted to append to `X-Forwarded-For` (see [`surface::client_ip`]).
    pub trusted_proxy_hops: u8,
    /// `CORS_ALLOWED_ORIGINS`, normalised by [`web::parse_origin`].
    pub allowed_origins: Vec<String>,
}

/// Title of the API in the spec.
pub const API_TITLE: &str = "Qubital API";

/// The OpenAPI document of this binary as served in `environment` (development adds the
/// development-only operations), completed with the wire rules of [`contract`].
pub fn openapi_spec(environment: Environment) -> String {
    match environment {
        Environment::Production => completed_spec(&service::<false>()),
        Environment::Development => completed_spec(&service::<true>()),
    }
}

/// The docs UI, embedding the document it shows: `completed`, as `/openapi.json` serves it, in
/// place of the one poem-openapi generates.
fn docs_page<T: poem_openapi::OpenApi>(service: &OpenApiService<T, ()>, completed: &str) -> Bytes {
    Bytes::from(service.scalar_html().replacen(&service.spec(), completed, 1))
}

/// The document poem-openapi generates, completed: the pretty JSON the server serves.
fn completed_spec<T: poem_openapi::OpenApi>(service: &OpenApiService<T, ()>) -> String {
    let value = serde_json::from_str(&service.spec()).expect("poem-openapi writes JSON");
    serde_json::to_string_pretty(&contract::complete(value)).expect("a JSON value")
}

fn service<const DEV: bool>() -> OpenApiService<(ops::ProbesApi, FeatureApis<DEV>), ()> {
    OpenApiService::new(
        (ops::ProbesApi, FeatureApis::<DEV>),
        API_TITLE,
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "The Qubital backend. Every operation is a POST on an explicit verb path; errors are RFC 9457 \
         problems (`application/problem+json`) whose `type` is stable. Authentication is the \
         `__Host-access_token` cookie (`access_token` on a development server).",
    )
}

/// The whole HTTP application.
pub fn app(ctx: AppContext, settings: HttpSettings) -> BoxEndpoint<'static> {
    if ctx.environment().is_development() {
        routes(service::<true>, ctx, settings)
    } else {
        routes(service::<false>, ctx, settings)
    }
}

/// The ops endpoints alone (probes and `/metrics`): what a worker role listens with, and
/// `serve`'s ops listener (`OPS_PORT`).
pub fn ops_app(ctx: AppContext, settings: HttpSettings) -> BoxEndpoint<'static> {
    routes(ops_service, ctx, settings)
}

fn ops_service() -> OpenApiService<(ops::ProbesApi, ops::MetricsApi), ()> {
    OpenApiService::new(
        (ops::ProbesApi, ops::MetricsApi),
        API_TITLE,
        env!("CARGO_PKG_VERSION"),
    )
}

/// `make_service` builds the API's [`OpenApiService`]; it is called again, once, when `/docs` is
/// first asked for.
fn routes<T: poem_openapi::OpenApi + 'static>(
    make_service: fn() -> OpenApiService<T, ()>,
    ctx: AppContext,
    settings: HttpSettings,
) -> BoxEndpoint<'static> {
    let service = make_service();
    let spec = completed_spec(&service);
    let guard = Arc::new(contract::RequestGuard::new(
        &serde_json::from_str(&spec).expect("the completed spec is JSON"),
    ));
    let spec = Bytes::from(spec);
    let served = spec.clone();
    let spec_endpoint = make_sync(move |_| {
        poem::Response::builder()
            .content_type("application/json")
            .body(spec.clone())
    });
    // The docs page carries the Scalar UI's script (3 MB): built when it is first asked for,
    // not at boot, so a server whose docs nobody opens keeps neither the page on its heap nor
    // the script's pages of the binary resident (docs/performance.md, "Latest run").
    let docs = Arc::new(OnceLock::<Bytes>::new());
    let docs_endpoint = make_sync(move |_| {
        let page = docs.get_or_init(|| {
            let completed = std::str::from_utf8(&served).expect("the spec was a String");
            docs_page(&make_service(), completed)
        });
        poem::Response::builder()
            .content_type("text/html; charset=utf-8")
            .body(page.clone())
    });
    Route::new()
        .nest("/", service)
        .at("/openapi.json", spec_endpoint)
        .at("/docs", docs_endpoint)
        .around(guards::body)
        .around(guards::allow)
        .around(guards::client_contract)
        .around(guards::client_ip)
        // Boxed in stages: the nested middleware types otherwise overflow the compiler's
        // query depth.
        .boxed()
        .around(web::cross_site)
        .data(guard)
        .around(web::cors)
        .with(CookieJarManager::new())
        .around(web::session_cookie)
        .boxed()
        .with(CatchPanic::new().with_handler(problems::PanicToProblem))
        .data(settings)
        .around(compression::compress)
        .boxed()
        .around(surface::surface)
        .data(ctx)
        .boxed()
}

/// Shorthand used by handlers: `Err(Problem)` converts into `poem::Error` implicitly.
pub type ApiResult<T> = Result<T, Problem>;
