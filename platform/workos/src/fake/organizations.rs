//! Organizations: create, get, update, list.

use poem::{
    handler,
    http::StatusCode,
    web::{Data, Json, Path, Query},
    IntoResponse, Response, Route,
};
use serde_json::Value;

use super::{events::PageQuery, wire::error, Shared};

pub(super) fn routes(route: Route) -> Route {
    route
        .at(
            "/organizations",
            poem::get(list_organizations).post(create_organization),
        )
        .at(
            "/organizations/:id",
            poem::get(get_organization).put(update_organization),
        )
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "entity_not_found",
        "Organization not found",
    )
}

#[handler]
fn create_organization(Json(body): Json<Value>, Data(state): Data<&Shared>) -> Response {
    let mut state = state.lock().unwrap();
    let Some(name) = body.get("name").and_then(Value::as_str) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "name is required",
        );
    };
    let id = state.create_organization(name);
    (StatusCode::CREATED, Json(state.organization_json(&id, name))).into_response()
}

#[handler]
fn get_organization(Path(id): Path<String>, Data(state): Data<&Shared>) -> Response {
    let state = state.lock().unwrap();
    match state.organizations.get(&id) {
        Some(name) => Json(state.organization_json(&id, name)).into_response(),
        None => not_found(),
    }
}

#[handler]
fn update_organization(
    Path(id): Path<String>,
    Json(body): Json<Value>,
    Data(state): Data<&Shared>,
) -> Response {
    let mut state = state.lock().unwrap();
    if let Some(new) = body.get("name").and_then(Value::as_str) {
        state.rename_organization(&id, new);
    }
    match state.organizations.get(&id) {
        Some(name) => Json(state.organization_json(&id, name)).into_response(),
        None => not_found(),
    }
}

/// `GET /organizations`: every organization, a page at a time.
#[handler]
fn list_organizations(Query(page): Query<PageQuery>, Data(state): Data<&Shared>) -> Response {
    let state = state.lock().unwrap();
    let mut organizations: Vec<(&String, &String)> = state.organizations.iter().collect();
    organizations.sort();
    let data = organizations
        .into_iter()
        .map(|(id, name)| state.organization_json(id, name))
        .collect();
    page.of(data)
}
