//! RFC 9457 problem details: the only error shape the API ever sends.
//!
//! Handlers return `Result<_, Problem>`; the problem's `type` is a stable URI the client switches
//! on. Internal detail (SQL, vendor messages) never goes into a problem: convert such errors with
//! [`Problem::internal`], which logs them and answers a bare 500.

use std::{borrow::Cow, fmt};

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
    /// Last segment of the type URI, e.g. `not-found`.
    pub kind: Cow<'static, str>,
    pub title: Cow<'static, str>,
    pub status: StatusCode,
    pub detail: Option<String>,
    pub errors: Vec<FieldError>,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        kind: impl Into<Cow<'static, str>>,
        title: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            kind: kind.into(),
            title: title.into(),
            status,
            detail: None,
            errors: Vec::new(),
        }
    }

    /// A human-readable explanation specific to this occurrence. Never put internal detail here.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn type_uri(&self) -> String {
        format!("{TYPE_PREFIX}{}", self.kind)
    }

    pub fn bad_request(kind: impl Into<Cow<'static, str>>, title: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, kind, title)
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut problem = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "The request is not valid",
        );
        problem.errors = errors;
        problem
    }

    pub fn invalid_field(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(location, message)])
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication is required",
        )
    }

    pub fn forbidden(permission: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "You are not allowed to do this",
        )
        .with_detail(format!("This operation requires the {permission} permission."))
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found")
    }

    pub fn conflict(kind: impl Into<Cow<'static, str>>, title: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, kind, title)
    }

    /// A vendor integration that is not configured in this deployment (development only).
    pub fn integration_disabled(integration: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "integration-disabled",
            "This integration is not configured",
        )
        .with_detail(format!("{integration} is not configured on this server."))
    }

    /// Logs `error` (with its whole chain) and returns an opaque 500.
    pub fn internal(error: impl fmt::Display) -> Self {
        tracing::error!(error = %error, "request failed");
        Self::internal_silent()
    }

    /// An opaque 500 for a failure that was already logged.
    pub fn internal_silent() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side",
        )
    }

    /// The JSON body, with `instance` and `requestId` from the current request.
    pub fn body(&self) -> serde_json::Value {
        let request = crate::request::current();
        let mut body = serde_json::json!({
            "type": self.type_uri(),
            "title": self.title,
            "status": self.status.as_u16(),
        });
        let map = body.as_object_mut().expect("an object literal");
        if let Some(request) = request {
            map.insert("instance".into(), request.path.into());
            map.insert("requestId".into(), request.request_id.into());
        }
        if let Some(detail) = &self.detail {
            map.insert("detail".into(), detail.clone().into());
        }
        if !self.errors.is_empty() {
            map.insert(
                "errors".into(),
                serde_json::to_value(&self.errors).expect("plain strings"),
            );
        }
        body
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.kind)
    }
}

impl std::error::Error for Problem {}

impl ResponseError for Problem {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        Response::builder()
            .status(self.status)
            .content_type(CONTENT_TYPE)
            .body(self.body().to_string())
    }
}

impl From<sqlx::Error> for Problem {
    fn from(error: sqlx::Error) -> Self {
        Self::internal(error)
    }
}

impl From<anyhow::Error> for Problem {
    fn from(error: anyhow::Error) -> Self {
        Self::internal(format!("{error:#}"))
    }
}

/// The documented shape of a problem body (for the OpenAPI spec).
#[derive(Object)]
#[oai(rename = "Problem")]
struct ProblemSchema {
    /// Stable URI identifying the kind of problem; clients switch on it.
    #[oai(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    /// The request path the problem occurred on.
    instance: Option<String>,
    /// The `X-Request-Id` of the request, for support.
    request_id: Option<String>,
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
