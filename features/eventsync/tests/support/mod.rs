//! A local WorkOS for the eventsync tests: a small world of organizations, users and
//! memberships whose every change is recorded as an event, served with the JSON of WorkOS's
//! Events, Organizations and User Management list endpoints.

#![allow(dead_code)]

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use poem::{
    handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    web::{Data, Query},
    EndpointExt, Request, Response, Route, Server,
};
use serde::Deserialize;
use serde_json::{json, Value};

pub const API_KEY: &str = "sk_test_eventsync";

#[derive(Default)]
pub struct World {
    /// When the world began: recent, as WorkOS events are (set at the first change).
    base: Option<DateTime<Utc>>,
    clock_ms: i64,
    seq: u64,
    pub events: Vec<Value>,
    pub organizations: BTreeMap<String, Value>,
    pub users: BTreeMap<String, Value>,
    pub memberships: BTreeMap<String, Value>,
    /// Answer this many next requests with 429.
    pub throttle: u32,
    /// Pause before answering each events page (to catch a follower mid-stream).
    pub page_delay: Duration,
    pub event_requests: u32,
}

impl World {
    fn tick(&mut self) -> String {
        self.clock_ms += 1;
        let base = *self
            .base
            .get_or_insert_with(|| Utc::now() - chrono::Duration::seconds(1));
        (base + chrono::Duration::milliseconds(self.clock_ms))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    fn id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}_{:08}", self.seq)
    }

    fn emit(&mut self, event_type: &str, data: Value, at: &str) {
        let id = self.id("event");
        self.events
            .push(json!({"object": "event", "id": id, "event": event_type, "data": data, "created_at": at}));
    }

    pub fn create_organization(&mut self, name: &str) -> String {
        let (id, at) = (self.id("org"), self.tick());
        let org = json!({"object": "organization", "id": id, "name": name, "domains": [], "metadata": {},
                         "allow_profiles_outside_organization": false, "created_at": at, "updated_at": at});
        self.organizations.insert(id.clone(), org.clone());
        self.emit("organization.created", org, &at);
        id
    }

    pub fn rename_organization(&mut self, id: &str, name: &str) {
        let at = self.tick();
        let org = self.organizations.get_mut(id).expect("known organization");
        org["name"] = json!(name);
        org["updated_at"] = json!(at);
        let org = org.clone();
        self.emit("organization.updated", org, &at);
    }

    pub fn delete_organization(&mut self, id: &str) {
        let at = self.tick();
        let mut org = self.organizations.remove(id).expect("known organization");
        org["updated_at"] = json!(at);
        let gone: Vec<String> = self
            .memberships
            .iter()
            .filter(|(_, m)| m["organization_id"] == id)
            .map(|(k, _)| k.clone())
            .collect();
        for membership in gone {
            self.memberships.remove(&membership);
        }
        self.emit("organization.deleted", org, &at);
    }

    pub fn create_user(&mut self, email: &str) -> String {
        let (id, at) = (self.id("user"), self.tick());
        let user = json!({"object": "user", "id": id, "email": email, "first_name": null, "last_name": null,
                          "email_verified": true, "profile_picture_url": null, "created_at": at, "updated_at": at});
        self.users.insert(id.clone(), user.clone());
        self.emit("user.created", user, &at);
        id
    }

    pub fn rename_user(&mut self, id: &str, first_name: &str) {
        let at = self.tick();
        let user = self.users.get_mut(id).expect("known user");
        user["first_name"] = json!(first_name);
        user["updated_at"] = json!(at);
        let user = user.clone();
        self.emit("user.updated", user, &at);
    }

    pub fn delete_user(&mut self, id: &str) {
        let at = self.tick();
        let mut user = self.users.remove(id).expect("known user");
        user["updated_at"] = json!(at);
        let gone: Vec<String> = self
            .memberships
            .iter()
            .filter(|(_, m)| m["user_id"] == id)
            .map(|(k, _)| k.clone())
            .collect();
        for membership in gone {
            self.memberships.remove(&membership);
        }
        self.emit("user.deleted", user, &at);
    }

    pub fn add_membership(&mut self, user_id: &str, organization_id: &str, role: &str) -> String {
        let (id, at) = (self.id("om"), self.tick());
        let user = self.users[user_id].clone();
        let membership = json!({"object": "organization_membership", "id": id, "user_id": user_id,
            "organization_id": organization_id, "status": "active", "directory_managed": false,
            "role": {"slug": role}, "roles": [{"slug": role}], "user": user, "created_at": at, "updated_at": at});
        self.memberships.insert(id.clone(), membership.clone());
        self.emit("organization_membership.created", membership, &at);
        id
    }

    pub fn set_membership(&mut self, id: &str, role: &str, status: &str) {
        let at = self.tick();
        let membership = self.memberships.get_mut(id).expect("known membership");
        membership["role"] = json!({"slug": role});
        membership["roles"] = json!([{"slug": role}]);
        membership["status"] = json!(status);
        membership["updated_at"] = json!(at);
        let membership = membership.clone();
        self.emit("organization_membership.updated", membership, &at);
    }

    pub fn delete_membership(&mut self, id: &str) {
        let at = self.tick();
        let mut membership = self.memberships.remove(id).expect("known membership");
        membership["updated_at"] = json!(at);
        self.emit("organization_membership.deleted", membership, &at);
    }

    /// An event type the mirror does not follow.
    pub fn unrelated_event(&mut self) {
        let at = self.tick();
        self.emit(
            "dsync.activated",
            json!({"object": "directory", "id": "directory_1"}),
            &at,
        );
    }

    /// What the mirror must hold: organizations (id → name), users (id → (email, first name)),
    /// memberships ((user, org) → (role, status)).
    pub fn expected(&self) -> Expected {
        Expected {
            organizations: self
                .organizations
                .iter()
                .map(|(id, o)| (id.clone(), o["name"].as_str().unwrap().to_owned()))
                .collect(),
            users: self
                .users
                .iter()
                .map(|(id, u)| {
                    (
                        id.clone(),
                        (
                            u["email"].as_str().unwrap().to_owned(),
                            u["first_name"].as_str().map(str::to_owned),
                        ),
                    )
                })
                .collect(),
            memberships: self
                .memberships
                .values()
                .map(|m| {
                    let status = if m["status"] == "active" {
                        "active"
                    } else {
                        "inactive"
                    };
                    (
                        (
                            m["user_id"].as_str().unwrap().to_owned(),
                            m["organization_id"].as_str().unwrap().to_owned(),
                        ),
                        (m["role"]["slug"].as_str().unwrap().to_owned(), status.to_owned()),
                    )
                })
                .collect(),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Expected {
    pub organizations: BTreeMap<String, String>,
    pub users: BTreeMap<String, (String, Option<String>)>,
    pub memberships: BTreeMap<(String, String), (String, String)>,
}

/// Asserts the mirror equals `expected`, reporting only the differences.
pub fn assert_same(actual: &Expected, expected: &Expected, context: &str) {
    fn diff<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
        name: &str,
        actual: &BTreeMap<K, V>,
        expected: &BTreeMap<K, V>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for (k, v) in expected {
            match actual.get(k) {
                None => out.push(format!("{name} {k:?} missing (expected {v:?})")),
                Some(a) if a != v => out.push(format!("{name} {k:?} is {a:?}, expected {v:?}")),
                _ => {}
            }
        }
        for (k, a) in actual {
            if !expected.contains_key(k) {
                out.push(format!("{name} {k:?} should not exist (is {a:?})"));
            }
        }
        out
    }
    let mut problems = diff("organization", &actual.organizations, &expected.organizations);
    problems.extend(diff("user", &actual.users, &expected.users));
    problems.extend(diff("membership", &actual.memberships, &expected.memberships));
    assert!(
        problems.is_empty(),
        "{context}: {} differences:\n{}",
        problems.len(),
        problems.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// The mirror's content, in the same shape.
pub async fn mirrored(db: &sqlx::PgPool) -> Expected {
    let organizations: Vec<(String, String)> =
        sqlx::query_as("SELECT workos_org_id, name FROM organizations WHERE workos_org_id IS NOT NULL")
            .fetch_all(db)
            .await
            .unwrap();
    let users: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT workos_id, email, first_name FROM users WHERE workos_id IS NOT NULL")
            .fetch_all(db)
            .await
            .unwrap();
    let memberships: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT u.workos_id, o.workos_org_id, m.role, m.status FROM user_organizations m
         JOIN users u ON u.id = m.user_id JOIN organizations o ON o.id = m.org_id",
    )
    .fetch_all(db)
    .await
    .unwrap();
    Expected {
        organizations: organizations.into_iter().collect(),
        users: users
            .into_iter()
            .map(|(id, email, first)| (id, (email, first)))
            .collect(),
        memberships: memberships
            .into_iter()
            .map(|(u, o, role, status)| ((u, o), (role, status)))
            .collect(),
    }
}

/// Builds a world through `steps` deterministic pseudo-random changes (every kind of event,
/// with renames, role changes and deletes).
pub fn churn(world: &mut World, steps: usize, seed: u64) {
    let mut state = seed;
    let mut next = move |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as usize) % n.max(1)
    };
    for step in 0..steps {
        let orgs: Vec<String> = world.organizations.keys().cloned().collect();
        let users: Vec<String> = world.users.keys().cloned().collect();
        let memberships: Vec<String> = world.memberships.keys().cloned().collect();
        match next(100) {
            0..=7 => {
                world.create_organization(&format!("Org {step}"));
            }
            8..=27 => {
                world.create_user(&format!("user{step}@example.com"));
            }
            28..=47 if !orgs.is_empty() && !users.is_empty() => {
                let (user, org) = (users[next(users.len())].clone(), orgs[next(orgs.len())].clone());
                let exists = world
                    .memberships
                    .values()
                    .any(|m| m["user_id"] == user.as_str() && m["organization_id"] == org.as_str());
                if !exists {
                    let role = ["member", "moderator", "admin", "guest"][next(4)];
                    world.add_membership(&user, &org, role);
                }
            }
            48..=62 if !orgs.is_empty() => {
                world.rename_organization(&orgs[next(orgs.len())], &format!("Renamed {step}"))
            }
            63..=75 if !users.is_empty() => {
                world.rename_user(&users[next(users.len())], &format!("Name{step}"))
            }
            76..=87 if !memberships.is_empty() => {
                let status = if next(4) == 0 { "inactive" } else { "active" };
                world.set_membership(
                    &memberships[next(memberships.len())],
                    ["member", "moderator", "admin"][next(3)],
                    status,
                )
            }
            88..=92 if !memberships.is_empty() => {
                world.delete_membership(&memberships[next(memberships.len())])
            }
            93..=95 if users.len() > 3 => world.delete_user(&users[next(users.len())]),
            96 if orgs.len() > 3 => world.delete_organization(&orgs[next(orgs.len())]),
            97 => world.unrelated_event(),
            _ => {}
        }
    }
}

#[derive(Clone)]
pub struct Shared(pub Arc<Mutex<World>>);

pub struct FakeWorkos {
    pub url: String,
    pub world: Shared,
}

impl FakeWorkos {
    pub async fn start(world: World) -> Self {
        let shared = Shared(Arc::new(Mutex::new(world)));
        let app = Route::new()
            .at("/events", poem::get(list_events))
            .at("/organizations", poem::get(list_organizations))
            .at("/user_management/users", poem::get(list_users))
            .at(
                "/user_management/organization_memberships",
                poem::get(list_memberships),
            )
            .around(check_auth)
            .data(shared.clone());
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
        let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
        tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
        Self {
            url: format!("http://{addr}"),
            world: shared,
        }
    }

    pub fn workos(&self) -> platform_workos::Workos {
        platform_workos::Workos::from_settings(&platform_workos::WorkosSettings {
            api_url: self.url.clone(),
            api_key: Some(API_KEY.into()),
            client_id: Some("client_eventsync".into()),
            timeout_secs: 5,
        })
        .unwrap()
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        f(&mut self.world.0.lock().unwrap())
    }
}

async fn check_auth<E: poem::Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    let authorized = req.headers().get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {API_KEY}"));
    if !authorized {
        return Ok(error(StatusCode::UNAUTHORIZED, "unauthorized"));
    }
    {
        let shared = req.data::<Shared>().unwrap();
        let mut world = shared.0.lock().unwrap();
        if world.throttle > 0 {
            world.throttle -= 1;
            return Ok(Response::builder()
                .status(StatusCode::TOO_MANY_REQUESTS)
                .header("Retry-After", "1")
                .content_type("application/json")
                .body(json!({"message": "Too many requests"}).to_string()));
        }
    }
    Ok(poem::IntoResponse::into_response(next.call(req).await?))
}

fn error(status: StatusCode, message: &str) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(json!({"message": message, "code": message}).to_string())
}

fn list(data: Vec<Value>, after: Option<String>) -> Response {
    Response::builder().content_type("application/json").body(
        json!({"object": "list", "data": data, "list_metadata": {"before": null, "after": after}})
            .to_string(),
    )
}

#[derive(Deserialize)]
struct Page {
    after: Option<String>,
    limit: Option<usize>,
    range_start: Option<String>,
    organization_id: Option<String>,
    /// Comma-separated; WorkOS's default is active memberships only.
    statuses: Option<String>,
}

/// Objects (sorted by id) after `after`, at most `limit`, with the next cursor.
fn page_of(objects: Vec<Value>, page: &Page) -> Response {
    let limit = page.limit.unwrap_or(10).clamp(1, 100);
    let start = match &page.after {
        Some(after) => objects
            .iter()
            .position(|o| o["id"] == after.as_str())
            .map(|i| i + 1)
            .unwrap_or(objects.len()),
        None => 0,
    };
    let slice: Vec<Value> = objects.into_iter().skip(start).take(limit + 1).collect();
    let more = slice.len() > limit;
    let data: Vec<Value> = slice.into_iter().take(limit).collect();
    let after = more.then(|| data.last().unwrap()["id"].as_str().unwrap().to_owned());
    list(data, after)
}

#[handler]
async fn list_events(Query(page): Query<Page>, Data(shared): Data<&Shared>) -> Response {
    let (events, delay) = {
        let mut world = shared.0.lock().unwrap();
        world.event_requests += 1;
        (world.events.clone(), world.page_delay)
    };
    tokio::time::sleep(delay).await;
    let limit = page.limit.unwrap_or(10).clamp(1, 100);
    let start = match (&page.after, &page.range_start) {
        (Some(after), _) => match events.iter().position(|e| e["id"] == after.as_str()) {
            Some(i) => i + 1,
            None => return error(StatusCode::BAD_REQUEST, "invalid_cursor"),
        },
        (None, Some(range_start)) => {
            let from = DateTime::parse_from_rfc3339(range_start).unwrap();
            events
                .iter()
                .position(|e| {
                    DateTime::parse_from_rfc3339(e["created_at"].as_str().unwrap()).unwrap() >= from
                })
                .unwrap_or(events.len())
        }
        (None, None) => 0,
    };
    let data: Vec<Value> = events.into_iter().skip(start).take(limit).collect();
    let after = data.last().map(|e| e["id"].as_str().unwrap().to_owned());
    list(data, after)
}

#[handler]
fn list_organizations(Query(page): Query<Page>, Data(shared): Data<&Shared>) -> Response {
    let objects = shared.0.lock().unwrap().organizations.values().cloned().collect();
    page_of(objects, &page)
}

#[handler]
fn list_users(Query(page): Query<Page>, Data(shared): Data<&Shared>) -> Response {
    let objects = shared.0.lock().unwrap().users.values().cloned().collect();
    page_of(objects, &page)
}

#[handler]
fn list_memberships(Query(page): Query<Page>, Data(shared): Data<&Shared>) -> Response {
    let Some(org) = page.organization_id.clone() else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "organization_id or user_id is required",
        );
    };
    let statuses = page.statuses.clone().unwrap_or_else(|| "active".into());
    let wanted: Vec<&str> = statuses.split(',').collect();
    let objects = shared
        .0
        .lock()
        .unwrap()
        .memberships
        .values()
        .filter(|m| m["organization_id"] == org.as_str() && wanted.contains(&m["status"].as_str().unwrap()))
        .cloned()
        .collect();
    page_of(objects, &page)
}
