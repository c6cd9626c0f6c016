//! WorkOS's JSON, as its API reference documents it: the objects the fake serves (and records
//! in its events), the list envelope with its `after` cursor, and the error body.
//!
//! Public so that a test can build an object or an event the fake does not hold, for example a
//! webhook delivery arriving out of order.

use poem::{http::StatusCode, web::Json, IntoResponse, Response};
use serde_json::{json, Value};

/// An `organization`.
pub fn organization(id: &str, name: &str, created_at: &str, updated_at: &str) -> Value {
    json!({
        "object": "organization",
        "id": id,
        "name": name,
        "domains": [],
        "metadata": {},
        "created_at": created_at,
        "updated_at": updated_at,
    })
}

/// A `user` (User Management).
pub fn user(
    id: &str,
    email: &str,
    first_name: Option<&str>,
    last_name: Option<&str>,
    created_at: &str,
    updated_at: &str,
) -> Value {
    json!({
        "object": "user",
        "id": id,
        "email": email,
        "email_verified": true,
        "first_name": first_name,
        "last_name": last_name,
        "profile_picture_url": null,
        "created_at": created_at,
        "updated_at": updated_at,
    })
}

/// An `organization_membership`, without the embedded `user` and `organization_name` the
/// fake adds when it knows them. `status` is `active`, `inactive` or `pending`.
pub fn membership(
    id: &str,
    user_id: &str,
    organization_id: &str,
    role_slug: &str,
    status: &str,
    created_at: &str,
    updated_at: &str,
) -> Value {
    json!({
        "object": "organization_membership",
        "id": id,
        "user_id": user_id,
        "organization_id": organization_id,
        "status": status,
        "directory_managed": false,
        "role": { "slug": role_slug },
        "roles": [{ "slug": role_slug }],
        "created_at": created_at,
        "updated_at": updated_at,
    })
}

/// An `event` of the Events API (and the body of a webhook delivery): `data` is the object as
/// it was after the change.
pub fn event(id: &str, event_type: &str, data: Value, created_at: &str) -> Value {
    json!({
        "object": "event",
        "id": id,
        "event": event_type,
        "data": data,
        "created_at": created_at,
    })
}

/// A `list`: one page of `data`; `after` is the cursor of the next page (`null` on the last).
pub(crate) fn list(data: Vec<Value>, after: Option<String>) -> Response {
    Json(json!({
        "object": "list",
        "data": data,
        "list_metadata": { "before": null, "after": after },
    }))
    .into_response()
}

/// An error body as WorkOS sends it (both its API and its OAuth spellings).
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "code": code, "message": message, "error": code, "error_description": message })),
    )
        .into_response()
}
