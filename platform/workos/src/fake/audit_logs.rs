//! Audit Logs: `POST /audit_logs/events`. Like WorkOS, it keeps one event per
//! `Idempotency-Key` (a request repeating a key gets the first answer and records nothing), and
//! refuses an event without `organization_id`, `action`, `occurred_at`, an actor, targets or a
//! `context.location`.
//!
//! What goes wrong can be scripted: the next requests answered 500 before anything is kept
//! ([`super::FakeWorkos::fail_audit_events`]), or kept and then answered 500, as when the
//! answer is lost on the way back ([`super::FakeWorkos::lose_audit_answers`]).

use poem::{
    handler,
    http::StatusCode,
    web::{Data, Json},
    IntoResponse, Request, Response, Route,
};
use serde_json::{json, Value};

use super::{wire::error, Shared};

/// One event WorkOS kept.
#[derive(Clone, Debug)]
pub struct ReceivedAuditEvent {
    pub idempotency_key: Option<String>,
    /// The request body: `{organization_id, event: {...}}`.
    pub body: Value,
}

pub(super) fn routes(route: Route) -> Route {
    route.at("/audit_logs/events", poem::post(create_event))
}

fn missing(body: &Value) -> Option<&'static str> {
    let event = &body["event"];
    let text = |v: &Value| v.as_str().is_some_and(|s| !s.is_empty());
    if !text(&body["organization_id"]) {
        Some("organization_id")
    } else if !text(&event["action"]) {
        Some("event.action")
    } else if !text(&event["occurred_at"]) {
        Some("event.occurred_at")
    } else if !text(&event["actor"]["id"]) || !text(&event["actor"]["type"]) {
        Some("event.actor")
    } else if !event["targets"].is_array() {
        Some("event.targets")
    } else if !text(&event["context"]["location"]) {
        Some("event.context.location")
    } else {
        None
    }
}

#[handler]
fn create_event(req: &Request, Json(body): Json<Value>, Data(state): Data<&Shared>) -> Response {
    let mut state = state.lock().unwrap();
    state.audit_requests += 1;
    if state.audit_failures > 0 {
        state.audit_failures -= 1;
        return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "Try again");
    }
    if let Some(field) = missing(&body) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_audit_log",
            &format!("{field} is required"),
        );
    }
    if !state
        .organizations
        .contains_key(body["organization_id"].as_str().unwrap_or_default())
    {
        return error(
            StatusCode::NOT_FOUND,
            "entity_not_found",
            "Organization not found",
        );
    }
    let key = req
        .header("idempotency-key")
        .map(str::to_owned)
        .filter(|k| !k.is_empty());
    let seen = key.is_some() && state.audit_events.iter().any(|e| e.idempotency_key == key);
    if !seen {
        state.audit_events.push(ReceivedAuditEvent {
            idempotency_key: key,
            body,
        });
    }
    if state.audit_lost_answers > 0 {
        state.audit_lost_answers -= 1;
        return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "Try again");
    }
    (StatusCode::CREATED, Json(json!({ "success": true }))).into_response()
}
