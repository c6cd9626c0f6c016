//! Turns every error the host or poem produces into an RFC 9457 problem.

use std::any::Any;

use poem::{
    error::{MethodNotAllowedError, NotFoundError, ParseJsonError, ReadBodyError},
    http::StatusCode,
    middleware::PanicHandler,
    Error, IntoResponse, Response,
};
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};
use qubital_plugin::{problem::types, FieldError, Problem};

/// The problem that answers `error`. Internal detail is logged, never returned.
pub fn from_error(error: &Error) -> Problem {
    if let Some(problem) = error.downcast_ref::<Problem>() {
        return problem.clone();
    }
    if error.is::<NotFoundError>() {
        return Problem::not_found().with_detail("No such operation.");
    }
    if error.is::<MethodNotAllowedError>() {
        return Problem::new(&types::METHOD_NOT_ALLOWED)
            .with_detail("Operations are POST; ops endpoints are GET.");
    }
    if let Some(e) = error.downcast_ref::<ParseRequestPayloadError>() {
        // JSON syntax was checked before routing, so this is a schema or validation failure.
        return Problem::validation(vec![FieldError::new("body", e.reason.clone())]);
    }
    if let Some(e) = error.downcast_ref::<ParseParamError>() {
        return Problem::validation(vec![FieldError::new(e.name, e.reason.clone())]);
    }
    if let Some(e) = error.downcast_ref::<ParsePathError>() {
        return Problem::validation(vec![FieldError::new(
            format!("path.{}", e.name),
            e.reason.clone(),
        )]);
    }
    if error.is::<AuthorizationError>() {
        return Problem::unauthorized();
    }
    if error.is::<ContentTypeError>() {
        return Problem::new(&types::UNSUPPORTED_MEDIA_TYPE)
            .with_detail("Send the request body as application/json.");
    }
    if error.is::<ParseJsonError>() {
        return malformed_json();
    }
    if let Some(ReadBodyError::PayloadTooLarge) = error.downcast_ref::<ReadBodyError>() {
        return payload_too_large();
    }
    let status = error.status();
    if status.is_client_error() {
        tracing::debug!(%status, %error, "refused by the HTTP layer");
        return Problem::new(&types::BAD_REQUEST)
            .with_detail(status.canonical_reason().unwrap_or("Bad request").to_owned());
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        return Problem::integration_unavailable("a service", error);
    }
    Problem::internal(error)
}

pub fn malformed_json() -> Problem {
    Problem::new(&types::MALFORMED_JSON)
}

pub fn payload_too_large() -> Problem {
    Problem::new(&types::PAYLOAD_TOO_LARGE)
}

/// Answers a panicking handler with an opaque 500 problem.
#[derive(Clone)]
pub struct PanicToProblem;

impl PanicHandler for PanicToProblem {
    type Response = Response;

    fn get_response(&self, panic: Box<dyn Any + Send + 'static>) -> Response {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(non-string panic payload)".into());
        tracing::error!(panic = %message, "handler panicked");
        poem::error::ResponseError::as_response(&Problem::internal_silent()).into_response()
    }
}
