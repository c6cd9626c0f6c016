//! A local WorkOS for tests: a small HTTP server on `127.0.0.1:0` that speaks the JSON of the
//! documented WorkOS endpoints the backend uses (User Management authenticate/authorize, Magic
//! Auth, sessions, users, organization memberships, invitations; Organizations; the Events
//! API; Audit Logs events), in [`wire`]'s shapes.
//!
//! It keeps its state in memory and lets a test script the outside world: who signs in at the
//! authorization page ([`FakeWorkos::sign_in_as`]), which Magic Auth code was emailed
//! ([`FakeWorkos::magic_code`]), which organizations, users and memberships exist and how they
//! change ([`FakeWorkos::add_membership`], [`FakeWorkos::rename_organization`],
//! [`FakeWorkos::delete_user`], … or [`FakeWorkos::churn`] for a long random history).
//! Like WorkOS, it checks the API key, binds codes to their PKCE challenge, rotates refresh
//! tokens (each usable once) and answers `organization_selection_required` for users with
//! several memberships.
//!
//! Like WorkOS, every change of an organization, user or membership — scripted or made through
//! the API — is recorded as an event (`organization.created`, `user.deleted`, …) carrying the
//! object as it was after the change, served by `GET /events` (see [`events`]'s rules: `after`
//! paging, type filter, 30-day retention) and signable as a webhook delivery
//! ([`webhook_delivery`]). The list endpoints page with `after` as WorkOS's do. Objects carry
//! `created_at`/`updated_at`, and every change gets a later `updated_at` than the one before
//! (WorkOS's clock orders the versions of an object; so does a mirror of it).
//!
//! What goes wrong with WorkOS can be scripted too: 429s ([`FakeWorkos::rate_limit`]), slow
//! event pages ([`FakeWorkos::delay_event_pages`]), slow changes of memberships, organizations
//! and invitations ([`FakeWorkos::delay_writes`]), time passing beyond the retention
//! ([`FakeWorkos::advance_clock`]).

mod audit_logs;
mod churn;
pub mod events;
mod organizations;
mod user_management;
pub mod wire;

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, SecondsFormat, Utc};
use poem::{
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    EndpointExt, IntoResponse, Request, Response, Route, Server,
};
use serde_json::{json, Value};

pub use audit_logs::ReceivedAuditEvent;
pub use events::{webhook_delivery, WebhookDelivery};

use crate::{Workos, WorkosSettings};

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

/// When an object was created and last changed, as WorkOS writes timestamps.
#[derive(Clone, Debug)]
struct Stamps {
    created_at: String,
    updated_at: String,
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
    /// Timestamps of organizations, users and memberships, by id.
    stamps: HashMap<String, Stamps>,
    /// The Events API's stream, oldest first.
    events: Vec<Value>,
    /// The last timestamp given out (the next one is later).
    last_tick: Option<DateTime<Utc>>,
    /// How far the fake's clock is ahead of the real one ([`FakeWorkos::advance_clock`]).
    clock_offset: chrono::Duration,
    /// Answer this many next requests with 429.
    rate_limited: u32,
    /// Pause before answering each page of events.
    event_page_delay: Duration,
    /// Pause before a change made through the API ([`is_delayed_write`]): a slow WorkOS.
    write_delay: Duration,
    /// Pauses before the calls starting with each `METHOD /path` prefix ([`FakeWorkos::delay_calls`]).
    call_delays: Vec<(String, Duration)>,
    /// Serve every event type, whatever the request's `events` filter says.
    all_event_types: bool,
    /// Audit Logs events kept, one per idempotency key, oldest first.
    audit_events: Vec<ReceivedAuditEvent>,
    /// `POST /audit_logs/events` requests received (kept, repeated or failed).
    audit_requests: usize,
    /// Answer this many next audit events with 500 without keeping them.
    audit_failures: u32,
    /// Keep this many next audit events but answer 500 (the answer is lost).
    audit_lost_answers: u32,
}

impl State {
    fn id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_{:08}{}", self.counter, uuid::Uuid::new_v4().simple())
    }

    /// The fake's clock (real time, plus what [`FakeWorkos::advance_clock`] added).
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    /// A timestamp later than every one given out before, at millisecond precision (what
    /// WorkOS writes): two changes never share an `updated_at`, so newer-wins mirrors can
    /// always tell which one came last.
    fn tick(&mut self) -> String {
        let now = self.now();
        let now = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
        let at = match self.last_tick {
            Some(last) if last >= now => last + chrono::Duration::milliseconds(1),
            _ => now,
        };
        self.last_tick = Some(at);
        timestamp(at)
    }

    fn stamps(&self, id: &str) -> Stamps {
        self.stamps.get(id).cloned().unwrap_or_else(|| {
            // An object a test put into the state by hand: it changes as it is read.
            let now = timestamp(self.now());
            Stamps {
                created_at: now.clone(),
                updated_at: now,
            }
        })
    }

    /// Records a change of object `id` now; its `updated_at`.
    fn touch(&mut self, id: &str) -> String {
        let at = self.tick();
        self.stamps
            .entry(id.to_owned())
            .and_modify(|s| s.updated_at = at.clone())
            .or_insert_with(|| Stamps {
                created_at: at.clone(),
                updated_at: at.clone(),
            });
        at
    }

    /// Appends an event to the stream; its id.
    fn emit(&mut self, event_type: &str, data: Value, at: &str) -> String {
        let id = self.id("event");
        self.events.push(wire::event(&id, event_type, data, at));
        id
    }

    fn user_json(&self, user: &FakeUser) -> Value {
        let stamps = self.stamps(&user.id);
        wire::user(
            &user.id,
            &user.email,
            user.first_name.as_deref(),
            user.last_name.as_deref(),
            &stamps.created_at,
            &stamps.updated_at,
        )
    }

    fn organization_json(&self, id: &str, name: &str) -> Value {
        let stamps = self.stamps(id);
        wire::organization(id, name, &stamps.created_at, &stamps.updated_at)
    }

    fn membership_json(&self, m: &FakeMembership) -> Value {
        let user = self.user(&m.user_id).cloned().unwrap_or(FakeUser {
            id: m.user_id.clone(),
            email: "unknown@example.com".into(),
            first_name: None,
            last_name: None,
        });
        let stamps = self.stamps(&m.id);
        let mut json = wire::membership(
            &m.id,
            &m.user_id,
            &m.organization_id,
            &m.role_slug,
            &m.status,
            &stamps.created_at,
            &stamps.updated_at,
        );
        json["organization_name"] = json!(self.organizations.get(&m.organization_id));
        json["user"] = self.user_json(&user);
        json
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
        let at = self.touch(&user.id);
        let data = self.user_json(&user);
        self.emit("user.created", data, &at);
        user
    }

    fn user(&self, id: &str) -> Option<&FakeUser> {
        self.users.iter().find(|u| u.id == id)
    }

    /// Sets the names given (`None` leaves one as it is).
    fn update_user(
        &mut self,
        id: &str,
        first_name: Option<&str>,
        last_name: Option<&str>,
    ) -> Option<FakeUser> {
        let user = self.users.iter_mut().find(|u| u.id == id)?;
        if let Some(first) = first_name {
            user.first_name = Some(first.to_owned());
        }
        if let Some(last) = last_name {
            user.last_name = Some(last.to_owned());
        }
        let user = user.clone();
        let at = self.touch(id);
        let data = self.user_json(&user);
        self.emit("user.updated", data, &at);
        Some(user)
    }

    /// Deletes a user and, as WorkOS does, their memberships.
    fn delete_user(&mut self, id: &str) -> bool {
        let Some(index) = self.users.iter().position(|u| u.id == id) else {
            return false;
        };
        let at = self.touch(id);
        let data = self.user_json(&self.users[index].clone());
        self.users.remove(index);
        self.memberships.retain(|m| m.user_id != id);
        self.emit("user.deleted", data, &at);
        true
    }

    fn create_organization(&mut self, name: &str) -> String {
        let id = self.id("org");
        self.organizations.insert(id.clone(), name.to_owned());
        let at = self.touch(&id);
        let data = self.organization_json(&id, name);
        self.emit("organization.created", data, &at);
        id
    }

    fn rename_organization(&mut self, id: &str, name: &str) -> bool {
        let Some(current) = self.organizations.get_mut(id) else {
            return false;
        };
        *current = name.to_owned();
        let at = self.touch(id);
        let data = self.organization_json(id, name);
        self.emit("organization.updated", data, &at);
        true
    }

    /// Deletes an organization and, as WorkOS does, its memberships.
    fn delete_organization(&mut self, id: &str) -> bool {
        let Some(name) = self.organizations.remove(id) else {
            return false;
        };
        let at = self.touch(id);
        let data = self.organization_json(id, &name);
        self.memberships.retain(|m| m.organization_id != id);
        self.emit("organization.deleted", data, &at);
        true
    }

    /// A new active membership.
    fn add_membership(&mut self, user_id: &str, organization_id: &str, role_slug: &str) -> FakeMembership {
        let membership = FakeMembership {
            id: self.id("om"),
            user_id: user_id.to_owned(),
            organization_id: organization_id.to_owned(),
            role_slug: role_slug.to_owned(),
            status: "active".into(),
        };
        self.memberships.push(membership.clone());
        let at = self.touch(&membership.id);
        let data = self.membership_json(&membership);
        self.emit("organization_membership.created", data, &at);
        membership
    }

    /// Sets the role and/or the status given.
    fn update_membership(
        &mut self,
        id: &str,
        role_slug: Option<&str>,
        status: Option<&str>,
    ) -> Option<FakeMembership> {
        let membership = self.memberships.iter_mut().find(|m| m.id == id)?;
        if let Some(role) = role_slug {
            membership.role_slug = role.to_owned();
        }
        if let Some(status) = status {
            membership.status = status.to_owned();
        }
        let membership = membership.clone();
        let at = self.touch(id);
        let data = self.membership_json(&membership);
        self.emit("organization_membership.updated", data, &at);
        Some(membership)
    }

    fn delete_membership(&mut self, id: &str) -> bool {
        let Some(index) = self.memberships.iter().position(|m| m.id == id) else {
            return false;
        };
        let at = self.touch(id);
        let data = self.membership_json(&self.memberships[index].clone());
        self.memberships.remove(index);
        self.emit("organization_membership.deleted", data, &at);
        true
    }

    fn active_memberships(&self, user_id: &str) -> Vec<FakeMembership> {
        self.memberships
            .iter()
            .filter(|m| m.user_id == user_id && m.status == "active")
            .cloned()
            .collect()
    }
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Settings pointing a [`Workos`] client at a fake listening on `url` (for a child process
/// that knows only the address).
pub fn settings_for(url: &str) -> WorkosSettings {
    WorkosSettings {
        api_url: url.to_owned(),
        api_key: Some(API_KEY.into()),
        client_id: Some(CLIENT_ID.into()),
        timeout_secs: 5,
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
        let app = audit_logs::routes(organizations::routes(user_management::routes(Route::new())))
            .at("/events", poem::get(events::list_events))
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

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
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

    /// Settings pointing a [`Workos`] client at this fake.
    pub fn settings(&self) -> WorkosSettings {
        settings_for(&self.url)
    }

    /// A client of this fake.
    pub fn workos(&self) -> Workos {
        Workos::from_settings(&self.settings()).expect("valid settings")
    }

    /// The next visit of the authorization page signs in as `email` (created if new).
    pub fn sign_in_as(&self, email: &str) -> FakeUser {
        self.with(|state| {
            state.next_sign_in = Some(email.to_owned());
            state.user_by_email(email)
        })
    }

    /// The user with this email, created if new.
    pub fn create_user(&self, email: &str) -> FakeUser {
        self.with(|state| state.user_by_email(email))
    }

    /// Sets a user's first name (as when they edit it in WorkOS).
    pub fn rename_user(&self, id: &str, first_name: &str) {
        self.with(|state| state.update_user(id, Some(first_name), None))
            .expect("a known user");
    }

    /// Deletes a user, and their memberships.
    pub fn delete_user(&self, id: &str) {
        assert!(self.with(|state| state.delete_user(id)), "a known user");
    }

    pub fn create_organization(&self, name: &str) -> String {
        self.with(|state| state.create_organization(name))
    }

    pub fn rename_organization(&self, id: &str, name: &str) {
        assert!(
            self.with(|state| state.rename_organization(id, name)),
            "a known organization"
        );
    }

    /// Deletes an organization, and its memberships.
    pub fn delete_organization(&self, id: &str) {
        assert!(
            self.with(|state| state.delete_organization(id)),
            "a known organization"
        );
    }

    /// A new active membership; its id.
    pub fn add_membership(&self, user_id: &str, organization_id: &str, role_slug: &str) -> String {
        self.with(|state| state.add_membership(user_id, organization_id, role_slug).id)
    }

    /// Sets a membership's role and status (`active`, `inactive` or `pending`).
    pub fn update_membership(&self, id: &str, role_slug: &str, status: &str) {
        self.with(|state| state.update_membership(id, Some(role_slug), Some(status)))
            .expect("a known membership");
    }

    pub fn delete_membership(&self, id: &str) {
        assert!(
            self.with(|state| state.delete_membership(id)),
            "a known membership"
        );
    }

    /// Records an event of a kind the fake does not model (`dsync.activated`, …); its id.
    pub fn record_event(&self, event_type: &str, data: Value) -> String {
        self.with(|state| {
            let at = state.tick();
            state.emit(event_type, data, &at)
        })
    }

    /// Every event recorded so far, oldest first (expired ones included).
    pub fn events(&self) -> Vec<Value> {
        self.with(|state| state.events.clone())
    }

    /// The Magic Auth code last emailed to `email`.
    pub fn magic_code(&self, email: &str) -> Option<String> {
        self.with(|state| state.magic_codes.get(&email.to_lowercase()).cloned())
    }

    /// Invalidates every refresh token of `user_id` (as when WorkOS ends the session).
    pub fn revoke_refresh_tokens(&self, user_id: &str) {
        self.with(|state| state.refresh_tokens.retain(|_, grant| grant.user_id != user_id));
    }

    pub fn calls(&self) -> Vec<String> {
        self.with(|state| state.calls.clone())
    }

    pub fn count_calls(&self, prefix: &str) -> usize {
        self.calls().iter().filter(|c| c.starts_with(prefix)).count()
    }

    /// Waits (up to 10 s, else panics) until `count` calls starting with `prefix` arrived: a
    /// test's cue that a request is now waiting on this fake.
    pub async fn received(&self, prefix: &str, count: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.count_calls(prefix) < count {
            assert!(
                std::time::Instant::now() < deadline,
                "WorkOS never got the {prefix}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn invitations(&self) -> Vec<FakeInvitation> {
        self.with(|state| state.invitations.clone())
    }

    /// Every user, oldest first.
    pub fn users(&self) -> Vec<FakeUser> {
        self.with(|state| state.users.clone())
    }

    /// Every organization as (id, name), oldest first.
    pub fn organizations(&self) -> Vec<(String, String)> {
        let mut organizations: Vec<(String, String)> = self.with(|state| {
            state
                .organizations
                .iter()
                .map(|(id, name)| (id.clone(), name.clone()))
                .collect()
        });
        // Ids grow with creation (see `State::id`).
        organizations.sort();
        organizations
    }

    /// Every membership, of every status, oldest first.
    pub fn memberships(&self) -> Vec<FakeMembership> {
        self.with(|state| state.memberships.clone())
    }

    pub fn organization_name(&self, id: &str) -> Option<String> {
        self.with(|state| state.organizations.get(id).cloned())
    }

    /// Answers the next `requests` requests (after the API key check) with 429 and
    /// `Retry-After: 1`, as WorkOS does when a client goes over its rate limit.
    pub fn rate_limit(&self, requests: u32) {
        self.with(|state| state.rate_limited = requests);
    }

    /// Waits `delay` before answering each page of events (to catch a client mid-stream).
    pub fn delay_event_pages(&self, delay: Duration) {
        self.with(|state| state.event_page_delay = delay);
    }

    /// Waits `delay` before each change made through the API ([`is_delayed_write`]: a
    /// membership changed or deleted, an organization renamed, an invitation sent or revoked);
    /// the call is in [`FakeWorkos::calls`] as soon as it arrives.
    pub fn delay_writes(&self, delay: Duration) {
        self.with(|state| state.write_delay = delay);
    }

    /// Waits `delay` before answering each call that starts with `call` (`METHOD /path`, as in
    /// [`FakeWorkos::calls`]; say `POST /user_management/authenticate`), on top of any other
    /// delay. The call is in [`FakeWorkos::calls`] as soon as it arrives.
    pub fn delay_calls(&self, call: &str, delay: Duration) {
        self.with(|state| state.call_delays.push((call.to_owned(), delay)));
    }

    /// Serves every event type, whatever the request's `events` filter asks for: how a client
    /// sees a type it did not expect.
    pub fn serve_all_event_types(&self) {
        self.with(|state| state.all_event_types = true);
    }

    /// The Audit Logs events WorkOS kept (one per `Idempotency-Key`), oldest first.
    pub fn audit_events(&self) -> Vec<ReceivedAuditEvent> {
        self.with(|state| state.audit_events.clone())
    }

    /// How many `POST /audit_logs/events` requests arrived (kept, repeated or failed).
    pub fn audit_requests(&self) -> usize {
        self.with(|state| state.audit_requests)
    }

    /// Answers the next `requests` audit events with 500, keeping nothing.
    pub fn fail_audit_events(&self, requests: u32) {
        self.with(|state| state.audit_failures = requests);
    }

    /// Keeps the next `requests` audit events but answers 500, as when the answer is lost: the
    /// client cannot tell it was kept.
    pub fn lose_audit_answers(&self, requests: u32) {
        self.with(|state| state.audit_lost_answers = requests);
    }

    /// Moves the fake's clock `by` ahead: what it records from now on is stamped that much
    /// later, and events fall out of the 30-day retention as if that time had passed.
    pub fn advance_clock(&self, by: chrono::Duration) {
        self.with(|state| state.clock_offset += by);
    }
}

type Shared = Arc<Mutex<State>>;

/// Records the call, checks the API key, and answers 429 while a rate limit is scripted.
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
            return Ok(wire::error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Invalid API key",
            ));
        }
    }
    if is_delayed_write(req.method().as_str(), &path) {
        let delay = state.lock().unwrap().write_delay;
        tokio::time::sleep(delay).await;
    }
    let call = format!("{} {path}", req.method());
    let delay: Duration = (state.lock().unwrap().call_delays.iter())
        .filter(|(prefix, _)| call.starts_with(prefix.as_str()))
        .map(|(_, delay)| *delay)
        .sum();
    tokio::time::sleep(delay).await;
    {
        let mut state = state.lock().unwrap();
        if state.rate_limited > 0 {
            state.rate_limited -= 1;
            return Ok(Response::builder()
                .status(StatusCode::TOO_MANY_REQUESTS)
                .header("Retry-After", "1")
                .content_type("application/json")
                .body(json!({ "message": "Too many requests" }).to_string()));
        }
    }
    Ok(next.call(req).await?.into_response())
}

/// The changes [`FakeWorkos::delay_writes`] slows down: what the server asks of WorkOS on behalf
/// of an admin (sign-in exchanges and reads stay fast).
fn is_delayed_write(method: &str, path: &str) -> bool {
    match method {
        "PUT" | "DELETE" => {
            path.starts_with("/user_management/organization_memberships/")
                || path.starts_with("/organizations/")
        }
        "POST" => {
            path == "/user_management/invitations"
                || (path.starts_with("/user_management/invitations/") && path.ends_with("/revoke"))
        }
        _ => false,
    }
}
