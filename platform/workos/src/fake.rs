//! A local WorkOS for tests: a small HTTP server on `127.0.0.1:0` that speaks the JSON of the
//! documented WorkOS endpoints the backend uses (User Management authenticate/authorize, Magic
//! Auth, sessions, users, organization memberships, invitations; Organizations).
//!
//! It keeps its state in memory and lets a test script the outside world: who signs in at the
//! authorization page ([`FakeWorkos::sign_in_as`]), which Magic Auth code was emailed
//! ([`FakeWorkos::magic_code`]), which memberships exist ([`FakeWorkos::add_membership`]).
//! Like WorkOS, it checks the API key, binds codes to their PKCE challenge, rotates refresh
//! tokens (each usable once) and answers `organization_selection_required` for users with
//! several memberships.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use base64::Engine;
use poem::{
    handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    web::{Data, Json, Path, Query},
    EndpointExt, IntoResponse, Request, Response, Route, Server,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const API_KEY: &str = "sk_test_fake";
pub const CLIENT_ID: &str = "client_fake";

#[derive(Clone, Debug)]
pub struct FakeUser {
    pub id: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Clone, Debug)]
pub struct FakeMembership {
    pub id: String,
    pub user_id: String,
    pub organization_id: String,
    pub role_slug: String,
    pub status: String,
}

#[derive(Clone, Debug)]
pub struct FakeInvitation {
    pub id: String,
    pub email: String,
    pub organization_id: String,
    pub role_slug: String,
    pub state: String,
    pub token: String,
    pub inviter_user_id: Option<String>,
}

#[derive(Clone, Debug)]
struct IssuedCode {
    user_id: String,
    code_challenge: Option<String>,
}

#[derive(Clone, Debug)]
struct Grant {
    user_id: String,
    organization_id: Option<String>,
    session_id: String,
}

#[derive(Default)]
pub struct State {
    pub users: Vec<FakeUser>,
    pub organizations: HashMap<String, String>,
    pub memberships: Vec<FakeMembership>,
    pub invitations: Vec<FakeInvitation>,
    /// Every request, as `METHOD /path`.
    pub calls: Vec<String>,
    /// Revoked WorkOS session ids.
    pub revoked_sessions: Vec<String>,
    next_sign_in: Option<String>,
    codes: HashMap<String, IssuedCode>,
    magic_codes: HashMap<String, String>,
    refresh_tokens: HashMap<String, Grant>,
    pending_tokens: HashMap<String, String>,
    counter: u64,
}

impl State {
    fn id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_{:08}{}", self.counter, uuid::Uuid::new_v4().simple())
    }

    fn user_by_email(&mut self, email: &str) -> FakeUser {
        if let Some(user) = self.users.iter().find(|u| u.email.eq_ignore_ascii_case(email)) {
            return user.clone();
        }
        let user = FakeUser {
            id: self.id("user"),
            email: email.to_owned(),
            first_name: None,
            last_name: None,
        };
        self.users.push(user.clone());
        user
    }

    fn user(&self, id: &str) -> Option<&FakeUser> {
        self.users.iter().find(|u| u.id == id)
    }

    fn active_memberships(&self, user_id: &str) -> Vec<FakeMembership> {
        self.memberships
            .iter()
            .filter(|m| m.user_id == user_id && m.status == "active")
            .cloned()
            .collect()
    }
}

/// A running fake. Dropping it stops the server.
pub struct FakeWorkos {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    _server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeWorkos {
    fn drop(&mut self) {
        self._server.abort();
    }
}

impl FakeWorkos {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("the fake WorkOS binds");
        let addr: SocketAddr = *acceptor.local_addr()[0]
            .as_socket_addr()
            .expect("a socket address");
        let app = Route::new()
            .at("/user_management/authorize", poem::get(authorize))
            .at("/user_management/authenticate", poem::post(authenticate))
            .at("/user_management/magic_auth", poem::post(magic_auth))
            .at("/user_management/sessions/revoke", poem::post(revoke_session))
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
            .at("/organizations", poem::post(create_organization))
            .at(
                "/organizations/:id",
                poem::get(get_organization).put(update_organization),
            )
            .around(check_and_log)
            .data(state.clone());
        let server = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(app).await;
        });
        Self {
            url: format!("http://{addr}"),
            state,
            _server: server,
        }
    }

    /// The CLI flags that point the app at this fake.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--workos-api-url".into(),
            self.url.clone(),
            "--workos-api-key".into(),
            API_KEY.into(),
            "--workos-client-id".into(),
            CLIENT_ID.into(),
        ]
    }

    /// The next visit of the authorization page signs in as `email` (created if new).
    pub fn sign_in_as(&self, email: &str) -> FakeUser {
        let mut state = self.state.lock().unwrap();
        state.next_sign_in = Some(email.to_owned());
        state.user_by_email(email)
    }

    pub fn create_user(&self, email: &str) -> FakeUser {
        self.state.lock().unwrap().user_by_email(email)
    }

    pub fn create_organization(&self, name: &str) -> String {
        let mut state = self.state.lock().unwrap();
        let id = state.id("org");
        state.organizations.insert(id.clone(), name.to_owned());
        id
    }

    pub fn add_membership(&self, user_id: &str, organization_id: &str, role_slug: &str) -> String {
        let mut state = self.state.lock().unwrap();
        let id = state.id("om");
        state.memberships.push(FakeMembership {
            id: id.clone(),
            user_id: user_id.to_owned(),
            organization_id: organization_id.to_owned(),
            role_slug: role_slug.to_owned(),
            status: "active".into(),
        });
        id
    }

    /// The Magic Auth code last emailed to `email`.
    pub fn magic_code(&self, email: &str) -> Option<String> {
        self.state
            .lock()
            .unwrap()
            .magic_codes
            .get(&email.to_lowercase())
            .cloned()
    }

    /// Invalidates every refresh token of `user_id` (as when WorkOS ends the session).
    pub fn revoke_refresh_tokens(&self, user_id: &str) {
        self.state
            .lock()
            .unwrap()
            .refresh_tokens
            .retain(|_, grant| grant.user_id != user_id);
    }

    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn count_calls(&self, prefix: &str) -> usize {
        self.calls().iter().filter(|c| c.starts_with(prefix)).count()
    }

    pub fn invitations(&self) -> Vec<FakeInvitation> {
        self.state.lock().unwrap().invitations.clone()
    }

    pub fn memberships(&self) -> Vec<FakeMembership> {
        self.state.lock().unwrap().memberships.clone()
    }

    pub fn organization_name(&self, id: &str) -> Option<String> {
        self.state.lock().unwrap().organizations.get(id).cloned()
    }
}

type Shared = Arc<Mutex<State>>;

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "code": code, "message": message, "error": code, "error_description": message })),
    )
        .into_response()
}

fn user_json(user: &FakeUser) -> Value {
    json!({
        "object": "user",
        "id": user.id,
        "email": user.email,
        "email_verified": true,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "profile_picture_url": null,
        "created_at": now(),
        "updated_at": now(),
    })
}

fn organization_json(id: &str, name: &str) -> Value {
    json!({
        "object": "organization",
        "id": id,
        "name": name,
        "domains": [],
        "metadata": {},
        "created_at": now(),
        "updated_at": now(),
    })
}

fn membership_json(state: &State, m: &FakeMembership) -> Value {
    let user = state.user(&m.user_id).cloned().unwrap_or(FakeUser {
        id: m.user_id.clone(),
        email: "unknown@example.com".into(),
        first_name: None,
        last_name: None,
    });
    json!({
        "object": "organization_membership",
        "id": m.id,
        "user_id": m.user_id,
        "organization_id": m.organization_id,
        "organization_name": state.organizations.get(&m.organization_id),
        "status": m.status,
        "directory_managed": false,
        "role": { "slug": m.role_slug },
        "roles": [{ "slug": m.role_slug }],
        "user": user_json(&user),
        "created_at": now(),
        "updated_at": now(),
    })
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
        "expires_at": (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339(),
        "created_at": now(),
        "updated_at": now(),
        "token": i.token,
        "accept_invitation_url": format!("https://example.invalid/invite?invitation_token={}", i.token),
    })
}

async fn check_and_log<E: poem::Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    let state = req.data::<Shared>().cloned().expect("state");
    let path = req.uri().path().to_owned();
    state
        .lock()
        .unwrap()
        .calls
        .push(format!("{} {}", req.method(), path));
    // The authorize page is visited by a browser; everything else needs the API key (as a
    // bearer token, or as `client_secret` in the authenticate body, checked there).
    if path != "/user_management/authorize" && path != "/user_management/authenticate" {
        let authorized = req.headers().get("authorization").and_then(|v| v.to_str().ok())
            == Some(&format!("Bearer {API_KEY}"));
        if !authorized {
            return Ok(error(StatusCode::UNAUTHORIZED, "unauthorized", "Invalid API key"));
        }
    }
    Ok(next.call(req).await?.into_response())
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
                            "user": user_json(&user),
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
        "user": user_json(&user),
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
    let id = state.id("om");
    state.memberships.push(FakeMembership {
        id,
        user_id: user_id.to_owned(),
        organization_id: org.clone(),
        role_slug: role,
        status: "active".into(),
    });
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
        "expires_at": (chrono::Utc::now() + chrono::Duration::minutes(10)).to_rfc3339(),
        "created_at": now(),
        "updated_at": now(),
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
    let Some(user) = state.users.iter_mut().find(|u| u.id == id) else {
        return error(StatusCode::NOT_FOUND, "entity_not_found", "User not found");
    };
    if let Some(first) = body.get("first_name").and_then(Value::as_str) {
        user.first_name = Some(first.to_owned());
    }
    if let Some(last) = body.get("last_name").and_then(Value::as_str) {
        user.last_name = Some(last.to_owned());
    }
    let user = user.clone();
    Json(user_json(&user)).into_response()
}

#[derive(serde::Deserialize)]
struct MembershipQuery {
    user_id: Option<String>,
    organization_id: Option<String>,
}

#[handler]
fn list_memberships(Query(q): Query<MembershipQuery>, Data(state): Data<&Shared>) -> Response {
    let state = state.lock().unwrap();
    let data: Vec<Value> = state
        .memberships
        .iter()
        .filter(|m| q.user_id.as_ref().is_none_or(|u| &m.user_id == u))
        .filter(|m| q.organization_id.as_ref().is_none_or(|o| &m.organization_id == o))
        .map(|m| membership_json(&state, m))
        .collect();
    Json(json!({ "object": "list", "data": data, "list_metadata": { "before": null, "after": null } }))
        .into_response()
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
    let id = state.id("om");
    let membership = FakeMembership {
        id,
        user_id,
        organization_id: org,
        role_slug: role,
        status: "active".into(),
    };
    state.memberships.push(membership.clone());
    (StatusCode::CREATED, Json(membership_json(&state, &membership))).into_response()
}

#[handler]
fn update_membership(
    Path(id): Path<String>,
    Json(body): Json<Value>,
    Data(state): Data<&Shared>,
) -> Response {
    let mut state = state.lock().unwrap();
    let Some(m) = state.memberships.iter_mut().find(|m| m.id == id) else {
        return error(StatusCode::NOT_FOUND, "entity_not_found", "Membership not found");
    };
    if let Some(role) = body.get("role_slug").and_then(Value::as_str) {
        m.role_slug = role.to_owned();
    }
    let m = m.clone();
    Json(membership_json(&state, &m)).into_response()
}

#[handler]
fn delete_membership(Path(id): Path<String>, Data(state): Data<&Shared>) -> Response {
    let mut state = state.lock().unwrap();
    let before = state.memberships.len();
    state.memberships.retain(|m| m.id != id);
    if state.memberships.len() == before {
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
        let id = state.id("om");
        state.memberships.push(FakeMembership {
            id,
            user_id: user.id,
            organization_id: invite.organization_id.clone(),
            role_slug: invite.role_slug.clone(),
            status: "active".into(),
        });
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
    let id = state.id("org");
    state.organizations.insert(id.clone(), name.to_owned());
    (StatusCode::CREATED, Json(organization_json(&id, name))).into_response()
}

#[handler]
fn get_organization(Path(id): Path<String>, Data(state): Data<&Shared>) -> Response {
    let state = state.lock().unwrap();
    match state.organizations.get(&id) {
        Some(name) => Json(organization_json(&id, name)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "entity_not_found",
            "Organization not found",
        ),
    }
}

#[handler]
fn update_organization(
    Path(id): Path<String>,
    Json(body): Json<Value>,
    Data(state): Data<&Shared>,
) -> Response {
    let mut state = state.lock().unwrap();
    let Some(name) = state.organizations.get_mut(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "entity_not_found",
            "Organization not found",
        );
    };
    if let Some(new) = body.get("name").and_then(Value::as_str) {
        *name = new.to_owned();
    }
    let name = name.clone();
    Json(organization_json(&id, &name)).into_response()
}
