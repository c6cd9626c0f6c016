//! User Management: the authorization page, `authenticate` (code, Magic Auth, organization
//! selection, refresh token), Magic Auth codes, sessions, users, organization memberships and
//! invitations.

use base64::Engine;
use chrono::Utc;
use poem::{
    handler,
    http::StatusCode,
    web::{Data, Json, Path, Query},
    IntoResponse, Response, Route,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{
    events::PageQuery, timestamp, wire::error, FakeInvitation, Grant, IssuedCode, Shared, State, API_KEY,
    CLIENT_ID,
};

pub(super) fn routes(route: Route) -> Route {
    route
        .at("/user_management/authorize", poem::get(authorize))
        .at("/user_management/authenticate", poem::post(authenticate))
        .at("/user_management/magic_auth", poem::post(magic_auth))
        .at("/user_management/sessions/revoke", poem::post(revoke_session))
        .at("/user_management/users", poem::get(list_users))
        .at("/user_management/users/:id", poem::put(update_user))
        .at(
            "/user_management/organization_memberships",
            poem::get(list_memberships).post(create_membership),
        )
        .at(
            "/user_management/organization_memberships/:id",
            poem::put(update_membership).delete(delete_membership),
        )
        .at("/user_management/invitations", poem::post(send_invitation))
        .at(
            "/user_management/invitations/by_token/:token",
            poem::get(invitation_by_token),
        )
        .at(
            "/user_management/invitations/:id/revoke",
            poem::post(revoke_invitation),
        )
        .at(
            "/user_management/invitations/:id/accept",
            poem::post(accept_invitation),
        )
}

#[derive(serde::Deserialize)]
struct AuthorizeQuery {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// The authorization page: signs in the scripted user and redirects back with a code.
#[handler]
fn authorize(Query(q): Query<AuthorizeQuery>, Data(state): Data<&Shared>) -> Response {
    let mut state = state.lock().unwrap();
    if q.client_id != CLIENT_ID {
        return error(StatusCode::BAD_REQUEST, "invalid_client", "Unknown client");
    }
    if q.code_challenge.is_some() && q.code_challenge_method.as_deref() != Some("S256") {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Only S256 is supported",
        );
    }
    let Some(email) = state.next_sign_in.take() else {
        return error(
            StatusCode::BAD_REQUEST,
            "no_user",
            "The test did not say who signs in",
        );
    };
    let user = state.user_by_email(&email);
    let code = state.id("code");
    state.codes.insert(
        code.clone(),
        IssuedCode {
            user_id: user.id,
            code_challenge: q.code_challenge,
        },
    );
    let mut location = format!("{}?code={code}", q.redirect_uri);
    if let Some(s) = q.state {
        location.push_str(&format!("&state={s}"));
    }
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", location)
        .finish()
}

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn access_token(sid: &str, user_id: &str, org: Option<&str>) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = engine.encode(json!({ "sid": sid, "sub": user_id, "org_id": org }).to_string());
    format!("{header}.{claims}.fake")
}

/// Decides the organization of a fresh authentication, as WorkOS does: none, the only one, or
/// a selection when there are several.
fn complete(state: &mut State, user_id: &str, organization_id: Option<String>) -> Response {
    let organization_id = match organization_id {
        Some(org) => Some(org),
        None => {
            let memberships = state.active_memberships(user_id);
            match memberships.len() {
                0 => None,
                1 => Some(memberships[0].organization_id.clone()),
                _ => {
                    let token = state.id("pending");
                    state.pending_tokens.insert(token.clone(), user_id.to_owned());
                    let user = state.user(user_id).cloned().expect("a known user");
                    let organizations: Vec<Value> = memberships
                        .iter()
                        .map(|m| {
                            json!({
                                "id": m.organization_id,
                                "name": state.organizations.get(&m.organization_id),
                            })
                        })
                        .collect();
                    return (
                        StatusCode::FORBIDDEN,
                        Json(json!({
                            "code": "organization_selection_required",
                            "message": "The user must choose an organization.",
                            "pending_authentication_token": token,
                            "user": state.user_json(&user),
                            "organizations": organizations,
                        })),
                    )
                        .into_response();
                }
            }
        }
    };
    issue(state, user_id, organization_id, None)
}

fn issue(state: &mut State, user_id: &str, organization_id: Option<String>, sid: Option<String>) -> Response {
    let sid = sid.unwrap_or_else(|| state.id("session"));
    let refresh = state.id("refresh");
    state.refresh_tokens.insert(
        refresh.clone(),
        Grant {
            user_id: user_id.to_owned(),
            organization_id: organization_id.clone(),
            session_id: sid.clone(),
        },
    );
    let user = state.user(user_id).cloned().expect("a known user");
    Json(json!({
        "user": state.user_json(&user),
        "organization_id": organization_id,
        "access_token": access_token(&sid, user_id, organization_id.as_deref()),
        "refresh_token": refresh,
        "authentication_method": "GoogleOAuth",
    }))
    .into_response()
}

fn accept_by_token(state: &mut State, token: &str, user_id: &str) -> Result<String, Box<Response>> {
    let email = state.user(user_id).map(|u| u.email.clone()).unwrap_or_default();
    let Some(invite) = state
        .invitations
        .iter_mut()
        .find(|i| i.token == token && i.state == "pending")
    else {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "invitation_invalid",
            "Invalid invitation",
        )));
    };
    if !invite.email.eq_ignore_ascii_case(&email) {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "invitation_email_mismatch",
            "The invitation is for another email",
        )));
    }
    invite.state = "accepted".into();
    let (org, role) = (invite.organization_id.clone(), invite.role_slug.clone());
    state.add_membership(user_id, &org, &role);
    Ok(org)
}

#[handler]
fn authenticate(Json(body): Json<Value>, Data(state): Data<&Shared>) -> Response {
    let mut state = state.lock().unwrap();
    let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    if field("client_id").as_deref() != Some(CLIENT_ID) || field("client_secret").as_deref() != Some(API_KEY)
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client credentials",
        );
    }
    let invitation = field("invitation_token");
    match field("grant_type").as_deref() {
        Some("authorization_code") => {
            let Some(issued) = field("code").and_then(|c| state.codes.remove(&c)) else {
                return error(StatusCode::BAD_REQUEST, "invalid_grant", "The code is invalid");
            };
            if let Some(challenge) = &issued.code_challenge {
                let verified = field("code_verifier").is_some_and(|v| &s256(&v) == challenge);
                if !verified {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "PKCE verification failed",
                    );
                }
            }
            let org = match invitation {
                Some(token) => match accept_by_token(&mut state, &token, &issued.user_id) {
                    Ok(org) => Some(org),
                    Err(response) => return *response,
                },
                None => None,
            };
            complete(&mut state, &issued.user_id, org)
        }
        Some("urn:workos:oauth:grant-type:magic-auth:code") => {
            let email = field("email").unwrap_or_default().to_lowercase();
            let expected = state.magic_codes.get(&email).cloned();
            if expected.is_none() || expected != field("code") {
                return error(StatusCode::BAD_REQUEST, "invalid_grant", "The code is invalid");
            }
            state.magic_codes.remove(&email);
            let user = state.user_by_email(&email);
            let org = match invitation {
                Some(token) => match accept_by_token(&mut state, &token, &user.id) {
                    Ok(org) => Some(org),
                    Err(response) => return *response,
                },
                None => None,
            };
            complete(&mut state, &user.id, org)
        }
        Some("urn:workos:oauth:grant-type:organization-selection") => {
            let Some(user_id) =
                field("pending_authentication_token").and_then(|t| state.pending_tokens.remove(&t))
            else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The pending token is invalid",
                );
            };
            let org = field("organization_id").unwrap_or_default();
            if !state
                .active_memberships(&user_id)
                .iter()
                .any(|m| m.organization_id == org)
            {
                return error(
                    StatusCode::FORBIDDEN,
                    "organization_membership_not_found",
                    "Not a member",
                );
            }
            issue(&mut state, &user_id, Some(org), None)
        }
        Some("refresh_token") => {
            let token = field("refresh_token").unwrap_or_default();
            let Some(grant) = state.refresh_tokens.get(&token).cloned() else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Session has already ended.",
                );
            };
            let org = field("organization_id").or(grant.organization_id);
            if let Some(org) = &org {
                if !state
                    .active_memberships(&grant.user_id)
                    .iter()
                    .any(|m| &m.organization_id == org)
                {
                    return error(
                        StatusCode::FORBIDDEN,
                        "organization_membership_not_found",
                        "Not a member",
                    );
                }
            }
            state.refresh_tokens.remove(&token);
            issue(&mut state, &grant.user_id, org, Some(grant.session_id))
        }
        _ => error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type",
        ),
    }
}

#[handler]
fn magic_auth(Json(body): Json<Value>, Data(state): Data<&Shared>) -> Response {
    let mut state = state.lock().unwrap();
    let Some(email) = body.get("email").and_then(Value::as_str) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "email is required",
        );
    };
    let user = state.user_by_email(email);
    let code = format!("{:06}", state.counter * 7919 % 1_000_000);
    state.counter += 1;
    state.magic_codes.insert(email.to_lowercase(), code.clone());
    let id = state.id("magic_auth");
    Json(json!({
        "object": "magic_auth",
        "id": id,
        "user_id": user.id,
        "email": email,
        "expires_at": (Utc::now() + chrono::Duration::minutes(10)).to_rfc3339(),
        "created_at": timestamp(Utc::now()),
        "updated_at": timestamp(Utc::now()),
        "code": code,
    }))
    .into_response()
}

#[handler]
fn revoke_session(Json(body): Json<Value>, Data(state): Data<&Shared>) -> Response {
    let mut state = state.lock().unwrap();
    let sid = body
        .get("session_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    state.refresh_tokens.retain(|_, g| g.session_id != sid);
    state.revoked_sessions.push(sid);
    StatusCode::NO_CONTENT.into_response()
}

#[handler]
fn update_user(Path(id): Path<String>, Json(body): Json<Value>, Data(state): Data<&Shared>) -> Response {
    let mut state = state.lock().unwrap();
    let name = |field: &str| body.get(field).and_then(Value::as_str);
    match state.update_user(&id, name("first_name"), name("last_name")) {
        Some(user) => Json(state.user_json(&user)).into_response(),
        None => error(StatusCode::NOT_FOUND, "entity_not_found", "User not found"),
    }
}

/// `GET /user_management/users`: every user, a page at a time.
#[handler]
fn list_users(Query(page): Query<PageQuery>, Data(state): Data<&Shared>) -> Response {
    let state = state.lock().unwrap();
    let users = state.users.iter().map(|u| state.user_json(u)).collect();
    page.of(users)
}

#[derive(serde::Deserialize)]
struct MembershipQuery {
    user_id: Option<String>,
    organization_id: Option<String>,
    /// Comma-separated; WorkOS's default is `active` only.
    statuses: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

/// `GET /user_management/organization_memberships`: the memberships of a user and/or an
/// organization (at least one is required), of the statuses asked for, a page at a time.
#[handler]
fn list_memberships(Query(q): Query<MembershipQuery>, Data(state): Data<&Shared>) -> Response {
    if q.user_id.is_none() && q.organization_id.is_none() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "organization_id or user_id is required",
        );
    }
    let statuses = q.statuses.as_deref().unwrap_or("active");
    let wanted: Vec<&str> = statuses.split(',').map(str::trim).collect();
    let state = state.lock().unwrap();
    let data: Vec<Value> = state
        .memberships
        .iter()
        .filter(|m| q.user_id.as_ref().is_none_or(|u| &m.user_id == u))
        .filter(|m| q.organization_id.as_ref().is_none_or(|o| &m.organization_id == o))
        .filter(|m| wanted.contains(&m.status.as_str()))
        .map(|m| state.membership_json(m))
        .collect();
    q.page.of(data)
}

#[handler]
fn create_membership(Json(body): Json<Value>, Data(state): Data<&Shared>) -> Response {
    let mut state = state.lock().unwrap();
    let user_id = body
        .get("user_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let org = body
        .get("organization_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if state.user(&user_id).is_none() || !state.organizations.contains_key(&org) {
        return error(
            StatusCode::NOT_FOUND,
            "entity_not_found",
            "User or organization not found",
        );
    }
    if state
        .memberships
        .iter()
        .any(|m| m.user_id == user_id && m.organization_id == org)
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "organization_membership_already_exists",
            "Already a member",
        );
    }
    let role = body
        .get("role_slug")
        .and_then(Value::as_str)
        .unwrap_or("member")
        .to_owned();
    let membership = state.add_membership(&user_id, &org, &role);
    (StatusCode::CREATED, Json(state.membership_json(&membership))).into_response()
}

#[handler]
fn update_membership(
    Path(id): Path<String>,
    Json(body): Json<Value>,
    Data(state): Data<&Shared>,
) -> Response {
    let mut state = state.lock().unwrap();
    let role = body.get("role_slug").and_then(Value::as_str);
    match state.update_membership(&id, role, None) {
        Some(m) => Json(state.membership_json(&m)).into_response(),
        None => error(StatusCode::NOT_FOUND, "entity_not_found", "Membership not found"),
    }
}

#[handler]
fn delete_membership(Path(id): Path<String>, Data(state): Data<&Shared>) -> Response {
    if !state.lock().unwrap().delete_membership(&id) {
        return error(StatusCode::NOT_FOUND, "entity_not_found", "Membership not found");
    }
    StatusCode::ACCEPTED.into_response()
}

#[handler]
fn send_invitation(Json(body): Json<Value>, Data(state): Data<&Shared>) -> Response {
    let mut state = state.lock().unwrap();
    let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    let org = field("organization_id").unwrap_or_default();
    if !state.organizations.contains_key(&org) {
        return error(
            StatusCode::NOT_FOUND,
            "entity_not_found",
            "Organization not found",
        );
    }
    let email = field("email").unwrap_or_default();
    if state
        .invitations
        .iter()
        .any(|i| i.email.eq_ignore_ascii_case(&email) && i.organization_id == org && i.state == "pending")
    {
        return error(
            StatusCode::BAD_REQUEST,
            "invite_already_sent",
            "An invitation is pending",
        );
    }
    let invite = FakeInvitation {
        id: state.id("invitation"),
        email,
        organization_id: org,
        role_slug: field("role_slug").unwrap_or_else(|| "member".into()),
        state: "pending".into(),
        token: state.id("token"),
        inviter_user_id: field("inviter_user_id"),
    };
    state.invitations.push(invite.clone());
    (StatusCode::CREATED, Json(invitation_json(&invite))).into_response()
}

#[handler]
fn invitation_by_token(Path(token): Path<String>, Data(state): Data<&Shared>) -> Response {
    let state = state.lock().unwrap();
    match state.invitations.iter().find(|i| i.token == token) {
        Some(invite) => Json(invitation_json(invite)).into_response(),
        None => error(StatusCode::NOT_FOUND, "entity_not_found", "Invitation not found"),
    }
}

fn set_invitation_state(state: &Shared, id: &str, to: &str) -> Response {
    let mut state = state.lock().unwrap();
    let Some(invite) = state.invitations.iter_mut().find(|i| i.id == id) else {
        return error(StatusCode::NOT_FOUND, "entity_not_found", "Invitation not found");
    };
    if invite.state != "pending" {
        return error(
            StatusCode::BAD_REQUEST,
            "invite_not_pending",
            "The invitation is not pending",
        );
    }
    invite.state = to.to_owned();
    let invite = invite.clone();
    if to == "accepted" {
        let user = state.user_by_email(&invite.email);
        state.add_membership(&user.id, &invite.organization_id, &invite.role_slug);
    }
    Json(invitation_json(&invite)).into_response()
}

#[handler]
fn revoke_invitation(Path(id): Path<String>, Data(state): Data<&Shared>) -> Response {
    set_invitation_state(state, &id, "revoked")
}

#[handler]
fn accept_invitation(Path(id): Path<String>, Data(state): Data<&Shared>) -> Response {
    set_invitation_state(state, &id, "accepted")
}

fn invitation_json(i: &FakeInvitation) -> Value {
    json!({
        "object": "invitation",
        "id": i.id,
        "email": i.email,
        "state": i.state,
        "organization_id": i.organization_id,
        "inviter_user_id": i.inviter_user_id,
        "role_slug": i.role_slug,
        "expires_at": (Utc::now() + chrono::Duration::days(7)).to_rfc3339(),
        "created_at": timestamp(Utc::now()),
        "updated_at": timestamp(Utc::now()),
        "token": i.token,
        "accept_invitation_url": format!("https://example.invalid/invite?invitation_token={}", i.token),
    })
}
