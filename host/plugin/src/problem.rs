//! RFC 9457 problem details: the only error shape the API ever sends.
//!
//! Every kind of problem is a [`ProblemType`] declared once with [`problem_types!`] by the crate
//! that emits it (the host's own are in [`types`]). The declarations are collected at link time,
//! so `docs/problems.md` is generated from exactly the types this binary can send
//! ([`catalogue_markdown`]), and a problem cannot be built from an undeclared type: the only
//! constructor is [`Problem::new`], which takes a declared type.
//!
//! Handlers return `Result<_, Problem>`; the problem's `type` is a stable URI the client switches
//! on. Internal detail (SQL, vendor messages) never goes into a problem: convert such errors with
//! [`Problem::internal`], which logs them and answers a bare 500.

use std::fmt;

use poem::{error::ResponseError, http::StatusCode, Response};
use poem_openapi::{
    registry::{MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::Type,
    ApiResponse, Object,
};
use serde::Serialize;

/// The media type of every error body.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// Prefix of every problem `type` URI.
pub const TYPE_PREFIX: &str = "https://qubital.app/errors/";

/// One kind of problem: its stable slug (the last segment of the `type` URI), its status, a
/// title for humans and when it is sent. Declare them with [`problem_types!`].
#[derive(Debug, PartialEq, Eq)]
pub struct ProblemType {
    /// Last segment of the type URI, e.g. `not-found`. Stable: clients switch on it.
    pub slug: &'static str,
    pub status: u16,
    pub title: &'static str,
    /// When it is sent (the declaration's doc comment), for the catalogue.
    pub description: &'static str,
    /// The crate that declared it.
    pub owner: &'static str,
}

impl ProblemType {
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).expect("declared statuses are valid HTTP statuses")
    }

    pub fn type_uri(&self) -> String {
        format!("{TYPE_PREFIX}{}", self.slug)
    }
}

/// A declared [`ProblemType`], as collected by `inventory`.
pub struct RegisteredProblemType(pub &'static ProblemType);

inventory::collect!(RegisteredProblemType);

/// Declares problem types (statics) and registers them for the catalogue:
///
/// ```ignore
/// qubital_plugin::problem_types! {
///     /// The zone is being recorded already.
///     pub RECORDING_ACTIVE = (409, "recording-active", "This zone is already being recorded");
/// }
/// // in a handler:
/// return Err(Problem::new(&RECORDING_ACTIVE));
/// ```
#[macro_export]
macro_rules! problem_types {
    ($($(#[doc = $doc:literal])+ $vis:vis $name:ident = ($status:literal, $slug:literal, $title:literal);)+) => {
        $(
            $(#[doc = $doc])+
            $vis static $name: $crate::problem::ProblemType = $crate::problem::ProblemType {
                slug: $slug,
                status: $status,
                title: $title,
                description: concat!($($doc, "\n"),+),
                owner: env!("CARGO_PKG_NAME"),
            };
            $crate::inventory::submit! { $crate::problem::RegisteredProblemType(&$name) }
        )+
    };
}

/// The problem types of the host itself: the request surface's and the generic ones every
/// feature may use.
pub mod types {
    crate::problem_types! {
        /// The body is not valid JSON.
        pub MALFORMED_JSON = (400, "malformed-json", "The request body is not valid JSON");
        /// The body could not be read (the connection broke, or it is not what its headers say).
        pub UNREADABLE_BODY = (400, "unreadable-body", "The request body could not be read");
        /// `X-Qubital-Contract` is not a semantic version.
        pub INVALID_CONTRACT_VERSION = (400, "invalid-contract-version", "X-Qubital-Contract is not a semantic version");
        /// A webhook whose signature verifies but whose body is not an event of that vendor.
        pub MALFORMED_EVENT = (400, "malformed-event", "The webhook body is not an event");
        /// Any other malformed request the HTTP layer refuses.
        pub BAD_REQUEST = (400, "bad-request", "Bad request");
        /// No session, or an invalid one.
        pub UNAUTHORIZED = (401, "unauthorized", "Authentication is required");
        /// The session was signed out, revoked or expired: sign in again.
        pub SESSION_ENDED = (401, "session-ended", "The session has ended; sign in again");
        /// Another request of this session is spending its WorkOS refresh token (a token
        /// refresh, entering an organization) and did not finish in time; retry after
        /// `Retry-After`.
        pub SESSION_BUSY = (409, "session-busy", "Another request of this session is renewing it; retry shortly");
        /// A webhook delivery whose signature does not verify (wrong secret, tampered body, too
        /// old a timestamp).
        pub INVALID_SIGNATURE = (401, "invalid-signature", "The webhook signature is not valid");
        /// An internal endpoint's bearer token is missing or wrong.
        pub INVALID_TOKEN = (401, "invalid-token", "The bearer token is not valid");
        /// A state-changing request carrying the session cookie came from a site that is not
        /// allowed (`Origin` / `Sec-Fetch-Site`): a cross-site request forgery is refused.
        pub CROSS_SITE_REQUEST = (403, "cross-site-request", "Cross-site requests are not allowed");
        /// The caller's role lacks the operation's permission (named in `detail`).
        pub FORBIDDEN = (403, "forbidden", "You are not allowed to do this");
        /// No such operation, or no such object in the caller's organization.
        pub NOT_FOUND = (404, "not-found", "Not found");
        /// Operations are POST, ops endpoints GET.
        pub METHOD_NOT_ALLOWED = (405, "method-not-allowed", "Method not allowed");
        /// The body is over `MAX_BODY_BYTES`.
        pub PAYLOAD_TOO_LARGE = (413, "payload-too-large", "The request body is too large");
        /// A body that is not `application/json`.
        pub UNSUPPORTED_MEDIA_TYPE = (415, "unsupported-media-type", "Unsupported media type");
        /// The body or a parameter breaks the schema; `errors[]` lists `{location, message}`.
        pub VALIDATION = (422, "validation", "The request is not valid");
        /// The client's contract is older than `MIN_CLIENT_CONTRACT`: update it.
        pub CLIENT_OUTDATED = (426, "client-outdated", "This client is too old; update it");
        /// Too many attempts from this client in a short time; `Retry-After` says when to retry.
        pub RATE_LIMITED = (429, "rate-limited", "Too many requests; try again later");
        /// A bug or an outage on our side; nothing more is said (the logs have it, under the
        /// request id).
        pub INTERNAL = (500, "internal", "Something went wrong on our side");
        /// The database is unreachable, too slow, or every pooled connection is busy; retry after
        /// `Retry-After` seconds.
        pub DATABASE_UNAVAILABLE = (503, "database-unavailable", "The service is busy or degraded; retry shortly");
        /// `/readyz`: the database is unreachable or migrations are pending.
        pub NOT_READY = (503, "not-ready", "The service is not ready");
        /// A vendor integration is not configured on this server (development only).
        pub INTEGRATION_DISABLED = (503, "integration-disabled", "This integration is not configured");
        /// A vendor the operation depends on refused the request in a way the client cannot fix.
        pub INTEGRATION_ERROR = (502, "integration-error", "A service we depend on refused the request");
        /// A vendor the operation depends on failed or did not answer; retry later.
        pub INTEGRATION_UNAVAILABLE = (503, "integration-unavailable", "A service we depend on is unavailable");
    }
}

/// One invalid input, for `422` validation problems.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Object)]
pub struct FieldError {
    /// Where the bad value is: `body`, `body.name`, `path.id`, `query.limit`, `header.x`.
    pub location: String,
    /// What is wrong with it, for a human.
    pub message: String,
}

impl FieldError {
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            message: message.into(),
        }
    }
}

/// An error answer. See the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub ty: &'static ProblemType,
    pub detail: Option<String>,
    pub errors: Vec<FieldError>,
    /// Seconds, sent as `Retry-After` (with `429` and `503`).
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(ty: &'static ProblemType) -> Self {
        Self {
            ty,
            detail: None,
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// A human-readable explanation specific to this occurrence. Never put internal detail here.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Tells the client when to try again (`Retry-After`, seconds).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn status(&self) -> StatusCode {
        self.ty.status_code()
    }

    /// The slug of the type (`not-found`).
    pub fn kind(&self) -> &'static str {
        self.ty.slug
    }

    pub fn type_uri(&self) -> String {
        self.ty.type_uri()
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut problem = Self::new(&types::VALIDATION);
        problem.errors = errors;
        problem
    }

    pub fn invalid_field(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(location, message)])
    }

    pub fn unauthorized() -> Self {
        Self::new(&types::UNAUTHORIZED)
    }

    pub fn forbidden(permission: &str) -> Self {
        Self::new(&types::FORBIDDEN)
            .with_detail(format!("This operation requires the {permission} permission."))
    }

    pub fn not_found() -> Self {
        Self::new(&types::NOT_FOUND)
    }

    /// `404 not-found` for a request that names something the caller cannot see (a user or a
    /// tag of another organization, one that does not exist): `errors` says where each such
    /// reference is, so the client knows which one, and nothing tells whether it exists
    /// elsewhere.
    pub fn not_found_at(errors: Vec<FieldError>) -> Self {
        let mut problem = Self::not_found().with_detail("The request names something that is not here.");
        problem.errors = errors;
        problem
    }

    /// A vendor integration that is not configured in this deployment (development only).
    pub fn integration_disabled(integration: &str) -> Self {
        Self::new(&types::INTEGRATION_DISABLED)
            .with_detail(format!("{integration} is not configured on this server."))
    }

    /// A vendor that failed or did not answer: logs `error` (never sent) and answers `503`
    /// naming the integration.
    pub fn integration_unavailable(integration: &str, error: impl fmt::Display) -> Self {
        tracing::warn!(integration, error = %error, "a vendor call failed");
        Self::new(&types::INTEGRATION_UNAVAILABLE)
            .with_detail(format!(
                "{integration} did not answer as expected; try again shortly."
            ))
            .with_retry_after(5)
    }

    /// Logs `error` (with its whole chain) and returns an opaque 500.
    pub fn internal(error: impl fmt::Display) -> Self {
        tracing::error!(error = %error, "request failed");
        Self::internal_silent()
    }

    /// An opaque 500 for a failure that was already logged.
    pub fn internal_silent() -> Self {
        Self::new(&types::INTERNAL)
    }

    /// The JSON body, with `instance` and `requestId` from the current request.
    pub fn body(&self) -> serde_json::Value {
        let request = crate::request::current();
        let mut body = serde_json::json!({
            "type": self.type_uri(),
            "title": self.ty.title,
            "status": self.ty.status,
        });
        // Every property of the schema is present, `null` when it has no value (the rule of
        // every response object, docs/api-conventions.md).
        let map = body.as_object_mut().expect("an object literal");
        let (instance, request_id) = match request {
            Some(request) => (request.path.into(), request.request_id.into()),
            None => (serde_json::Value::Null, serde_json::Value::Null),
        };
        map.insert("instance".into(), instance);
        map.insert("requestId".into(), request_id);
        map.insert("detail".into(), self.detail.clone().into());
        let errors = if self.errors.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::to_value(&self.errors).expect("plain strings")
        };
        map.insert("errors".into(), errors);
        body
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.ty.status, self.ty.slug)
    }
}

impl std::error::Error for Problem {}

impl ResponseError for Problem {
    fn status(&self) -> StatusCode {
        self.ty.status_code()
    }

    fn as_response(&self) -> Response {
        let mut response = Response::builder()
            .status(self.ty.status_code())
            .content_type(CONTENT_TYPE);
        if let Some(seconds) = self.retry_after {
            response = response.header(poem::http::header::RETRY_AFTER, seconds.to_string());
        }
        response.body(self.body().to_string())
    }
}

/// Seconds a client is told to wait after `database-unavailable`.
const DATABASE_RETRY_AFTER_SECS: u64 = 2;

impl From<sqlx::Error> for Problem {
    /// An outage or overload of the database (no connection within the acquire timeout, a
    /// broken connection, a statement cancelled by `statement_timeout`) is `503
    /// database-unavailable` with `Retry-After`: the request may succeed if retried. Anything
    /// else is a bug: `500`.
    fn from(error: sqlx::Error) -> Self {
        if is_unavailability(&error) {
            tracing::warn!(error = %error, "the database is unavailable");
            return Self::new(&types::DATABASE_UNAVAILABLE).with_retry_after(DATABASE_RETRY_AFTER_SECS);
        }
        Self::internal(error)
    }
}

/// Whether `error` says the database is out of reach or overloaded rather than that the
/// statement is wrong.
pub fn is_unavailability(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            true
        }
        sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 57014 query_canceled (statement_timeout), 57P01..57P03 admin shutdown / cannot
            // connect now, 53300 too many connections, 08xxx connection exceptions.
            matches!(code.as_ref(), "57014" | "57P01" | "57P02" | "57P03" | "53300") || code.starts_with("08")
        }),
        _ => false,
    }
}

impl From<anyhow::Error> for Problem {
    fn from(error: anyhow::Error) -> Self {
        Self::internal(format!("{error:#}"))
    }
}

/// Every problem type declared in this binary, ordered by owner then status then slug.
pub fn registered_types() -> Vec<&'static ProblemType> {
    let mut types: Vec<&'static ProblemType> = inventory::iter::<RegisteredProblemType>
        .into_iter()
        .map(|r| r.0)
        .collect();
    types.sort_by_key(|t| (t.owner != env!("CARGO_PKG_NAME"), t.owner, t.status, t.slug));
    types
}

/// The catalogue of [`registered_types`] as the Markdown table of `docs/problems.md`.
pub fn catalogue_markdown() -> String {
    let mut table = String::from(
        "| type (after `https://qubital.app/errors/`) | status | title | when | declared by |\n|---|---|---|---|---|\n",
    );
    for ty in registered_types() {
        let when = ty
            .description
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        table.push_str(&format!(
            "| `{}` | {} | {} | {} | `{}` |\n",
            ty.slug, ty.status, ty.title, when, ty.owner
        ));
    }
    table
}

/// Problem types any operation may answer, documented by the host on every operation (request
/// surface, authentication, outages): an operation's own list names only the rest.
pub const HOST_TYPES: &[&ProblemType] = &[
    &types::MALFORMED_JSON,
    &types::UNREADABLE_BODY,
    &types::INVALID_CONTRACT_VERSION,
    &types::BAD_REQUEST,
    &types::UNAUTHORIZED,
    &types::SESSION_ENDED,
    &types::SESSION_BUSY,
    &types::CROSS_SITE_REQUEST,
    &types::PAYLOAD_TOO_LARGE,
    &types::UNSUPPORTED_MEDIA_TYPE,
    &types::VALIDATION,
    &types::CLIENT_OUTDATED,
    &types::INTERNAL,
    &types::DATABASE_UNAVAILABLE,
];

/// Declares the problem types an operation answers besides [`HOST_TYPES`], as a type to use in
/// its signature: `Result<Json<Space>, SpaceUpdateErrors>`. The spec then lists each status with
/// the types behind it, and a problem of an undeclared type is a bug: logged as an error (and
/// a panic in debug builds, so a test that provokes it fails).
///
/// ```ignore
/// qubital_plugin::operation_errors! {
///     /// What `/notes/{id}/update` answers.
///     pub NoteUpdateErrors = [types::FORBIDDEN, types::NOT_FOUND, NOTE_LOCKED];
/// }
/// ```
#[macro_export]
macro_rules! operation_errors {
    ($($(#[doc = $doc:literal])* $vis:vis $name:ident = [$($ty:expr),* $(,)?];)+) => {
        $(
            $(#[doc = $doc])*
            #[derive(Debug)]
            $vis struct $name(pub $crate::Problem);

            impl $name {
                /// The problem types this operation declares.
                pub const TYPES: &'static [&'static $crate::ProblemType] = &[$(&$ty),*];
            }

            impl ::std::convert::From<$crate::Problem> for $name {
                fn from(problem: $crate::Problem) -> Self {
                    $crate::problem::check_declared(&problem, Self::TYPES, stringify!($name));
                    Self(problem)
                }
            }

            impl ::std::convert::From<$crate::sqlx::Error> for $name {
                fn from(error: $crate::sqlx::Error) -> Self {
                    Self($crate::Problem::from(error))
                }
            }

            impl ::std::convert::From<$name> for $crate::poem::Error {
                fn from(errors: $name) -> Self {
                    errors.0.into()
                }
            }

            impl $crate::poem_openapi::ApiResponse for $name {
                fn meta() -> $crate::poem_openapi::registry::MetaResponses {
                    $crate::problem::responses_for(Self::TYPES)
                }

                fn register(registry: &mut $crate::poem_openapi::registry::Registry) {
                    <$crate::Problem as $crate::poem_openapi::ApiResponse>::register(registry);
                }
            }
        )+
    };
}

/// For [`operation_errors!`]: a problem of a type the operation did not declare is a bug.
pub fn check_declared(problem: &Problem, declared: &[&ProblemType], operation: &str) {
    if declared.contains(&problem.ty) || HOST_TYPES.contains(&problem.ty) {
        return;
    }
    tracing::error!(
        problem = problem.ty.slug,
        errors = operation,
        "an operation answered a problem type it does not declare"
    );
    debug_assert!(
        false,
        "{operation} answered `{}`, which it does not declare",
        problem.ty.slug
    );
}

/// One documented response per status of `types`, each naming the types behind it.
pub fn responses_for(types: &[&'static ProblemType]) -> MetaResponses {
    let mut statuses: Vec<u16> = types.iter().map(|t| t.status).collect();
    statuses.sort_unstable();
    statuses.dedup();
    let responses = statuses
        .into_iter()
        .map(|status| {
            let kinds: Vec<String> = types
                .iter()
                .filter(|t| t.status == status)
                .map(|t| format!("`{}`: {}", t.slug, t.title))
                .collect();
            MetaResponse {
                description: leak_description(kinds.join("; ")),
                status: Some(status),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: CONTENT_TYPE,
                    schema: ProblemSchema::schema_ref(),
                }],
                headers: vec![],
            }
        })
        .collect();
    MetaResponses { responses }
}

/// poem-openapi wants `&'static str` descriptions; each distinct text is leaked once.
fn leak_description(text: String) -> &'static str {
    use std::{collections::HashSet, sync::Mutex};
    static TEXTS: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut texts = TEXTS.lock().expect("descriptions lock");
    let texts = texts.get_or_insert_with(HashSet::new);
    if let Some(&known) = texts.get(text.as_str()) {
        return known;
    }
    let leaked: &'static str = Box::leak(text.into_boxed_str());
    texts.insert(leaked);
    leaked
}

/// The documented shape of a problem body (for the OpenAPI spec).
#[derive(Object)]
#[oai(rename = "Problem", rename_all = "camelCase")]
pub struct ProblemSchema {
    /// Stable URI identifying the kind of problem; clients switch on it. The catalogue is
    /// `docs/problems.md`.
    #[oai(rename = "type")]
    kind: String,
    /// A short summary of the kind, for humans (may change; do not switch on it).
    title: String,
    /// The HTTP status, repeated.
    status: u16,
    /// The request path the problem occurred on.
    instance: Option<String>,
    /// The `X-Request-Id` of the request, for support.
    request_id: Option<String>,
    /// An explanation of this occurrence, for humans.
    detail: Option<String>,
    /// Present on `422` validation problems.
    errors: Option<Vec<FieldError>>,
}

impl ApiResponse for Problem {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "A problem (RFC 9457). `type` identifies the kind.",
                status: None,
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: CONTENT_TYPE,
                    schema: ProblemSchema::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        ProblemSchema::register(registry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_unique_and_statuses_are_errors() {
        let types = registered_types();
        let mut slugs: Vec<_> = types.iter().map(|t| t.slug).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), types.len(), "a problem slug is declared twice");
        for ty in types {
            assert!((400..600).contains(&ty.status), "{}", ty.slug);
            assert!(
                ty.slug.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{}",
                ty.slug
            );
        }
    }

    #[test]
    fn a_problem_carries_its_type_and_retry_after() {
        let problem = Problem::new(&types::RATE_LIMITED).with_retry_after(7);
        let response = problem.as_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "7");
        assert_eq!(problem.body()["type"], "https://qubital.app/errors/rate-limited");
    }

    /// The Problem schema lists every property as present (`null` without a value), as for
    /// every response object; a body that omits one breaks every generated client's type.
    #[test]
    fn a_problem_body_has_every_property_of_its_schema() {
        let body = Problem::new(&types::NOT_FOUND).body();
        for property in [
            "type",
            "title",
            "status",
            "instance",
            "requestId",
            "detail",
            "errors",
        ] {
            assert!(body.get(property).is_some(), "{property} is missing from {body}");
        }
        assert!(body["errors"].is_null() && body["detail"].is_null());
        let validation = Problem::invalid_field("body.name", "is empty").body();
        assert_eq!(validation["errors"][0]["location"], "body.name");
    }
}
