//! The scenarios, and the organization they run in.
//!
//! The fixture is made once through the API before any load: an organization "Bench" of
//! [`MEMBERS`] members (half of them sent a presence heartbeat), [`SPACES`] spaces with a tag,
//! [`CONVERSATIONS`] group conversations of [`CONVERSATION_SIZE`] members. Every signed-in
//! scenario is sent by its first member (the organization's admin), with one session cookie.

use std::sync::Arc;

use anyhow::{bail, Context};
use reqwest::{cookie::CookieStore, header::HeaderValue, Method};
use serde_json::{json, Value};

use super::load::{Body, Target};

/// Members of the bench organization (a realistic `userIds` list for presence reads).
pub const MEMBERS: usize = 50;
/// Spaces: a full first page of `/spaces/list` (20) and one more.
pub const SPACES: usize = 21;
/// Group conversations the send-message workers spread over (worker `i` sends to `i % 16`).
pub const CONVERSATIONS: usize = 16;
/// Members of each conversation, the sender included.
pub const CONVERSATION_SIZE: usize = 10;

/// What a scenario is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ceiling {
    /// HTTP only: the bare poem-openapi `/healthz`.
    Http,
    /// Reads or writes the database: `pgbench -S`.
    Database,
}

impl Ceiling {
    pub fn name(self) -> &'static str {
        match self {
            Ceiling::Http => "bare poem",
            Ceiling::Database => "pgbench -S",
        }
    }
}

pub struct Scenario {
    pub name: &'static str,
    pub ceiling: Ceiling,
    /// What one request does, for the report.
    pub about: &'static str,
    make: fn(&Fixture) -> (Method, &'static str, Body),
}

impl Scenario {
    pub fn target(&self, base: &str, fixture: &Fixture) -> Target {
        let (method, path, body) = (self.make)(fixture);
        let cookie = (self.ceiling == Ceiling::Database).then_some(&fixture.cookie);
        Target::new(method, format!("{base}{path}"), cookie, body)
    }
}

fn json_body(value: Value) -> Body {
    Body::Fixed(value.to_string().into_bytes())
}

/// The scenarios, cheapest first.
pub fn all() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "healthz",
            ceiling: Ceiling::Http,
            about: "GET /healthz (no database)",
            make: |_| (Method::GET, "/healthz", Body::None),
        },
        Scenario {
            name: "conference-token",
            ceiling: Ceiling::Database,
            about: "POST /realtime/conference-token for a space",
            make: |f| {
                let body = json_body(json!({"spaceId": f.space_id}));
                (Method::POST, "/realtime/conference-token", body)
            },
        },
        Scenario {
            name: "user.get",
            ceiling: Ceiling::Database,
            about: "POST /user/get",
            make: |_| (Method::POST, "/user/get", json_body(json!({}))),
        },
        Scenario {
            name: "spaces.list",
            ceiling: Ceiling::Database,
            about: "POST /spaces/list: a first page of 20 of 21 spaces, with tags",
            make: |_| (Method::POST, "/spaces/list", json_body(json!({}))),
        },
        Scenario {
            name: "members.list",
            ceiling: Ceiling::Database,
            about: "POST /members/list: a first page of 20 of 50 members, with presence",
            make: |_| (Method::POST, "/members/list", json_body(json!({}))),
        },
        Scenario {
            name: "recordings.list",
            ceiling: Ceiling::Database,
            about: "POST /recordings/list (the organization has none)",
            make: |_| (Method::POST, "/recordings/list", json_body(json!({}))),
        },
        Scenario {
            name: "send-message",
            ceiling: Ceiling::Database,
            about: "POST /chat/messages/send with a new clientMsgId, over 16 conversations; \
                    the outbox relay publishes to a fake Centrifugo meanwhile",
            make: |f| {
                let conversations = f.conversation_ids.clone();
                let run = std::process::id();
                let body = Body::PerRequest(Arc::new(move |worker, seq| {
                    let conversation = &conversations[worker % conversations.len()];
                    format!(
                        r#"{{"conversationId":"{conversation}","content":"Bench message {seq} from worker {worker}","clientMsgId":"bench-{run}-{worker}-{seq}"}}"#
                    )
                    .into_bytes()
                }));
                (Method::POST, "/chat/messages/send", body)
            },
        },
        Scenario {
            name: "presence-get",
            ceiling: Ceiling::Database,
            about: "POST /presence/status/get for the 50 members' ids",
            make: |f| {
                let body = json_body(json!({"userIds": f.member_ids}));
                (Method::POST, "/presence/status/get", body)
            },
        },
    ]
}

/// What the scenarios need from the organization.
pub struct Fixture {
    /// The admin's session cookie (`access_token=…`).
    pub cookie: HeaderValue,
    pub space_id: String,
    /// Every member's user id, the admin's first.
    pub member_ids: Vec<String>,
    pub conversation_ids: Vec<String>,
}

/// A client signed in through the development sign-in, and its user's id.
async fn sign_in(
    base: &str,
    email: &str,
) -> anyhow::Result<(reqwest::Client, Arc<reqwest::cookie::Jar>, String)> {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder().cookie_provider(jar.clone()).build()?;
    let user = call(
        &client,
        base,
        "/auth/dev/sign-in",
        json!({"email": email, "organizationName": "Bench"}),
    )
    .await?;
    let id = user["id"]
        .as_str()
        .context("the sign-in answer has no id")?
        .to_owned();
    Ok((client, jar, id))
}

async fn call(client: &reqwest::Client, base: &str, path: &str, body: Value) -> anyhow::Result<Value> {
    let response = client.post(format!("{base}{path}")).json(&body).send().await?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        bail!("setup: {path} answered {status}: {text}");
    }
    if status == reqwest::StatusCode::NO_CONTENT {
        return Ok(Value::Null);
    }
    Ok(response.json().await?)
}

/// Makes the organization the scenarios run in.
pub async fn prepare(base: &str) -> anyhow::Result<Fixture> {
    let (admin, jar, admin_id) = sign_in(base, "bench-0@example.com").await?;
    let mut member_ids = vec![admin_id];
    for i in 1..MEMBERS {
        let (member, _, id) = sign_in(base, &format!("bench-{i}@example.com")).await?;
        if i % 2 == 0 {
            call(&member, base, "/presence/heartbeat", json!({})).await?;
        }
        member_ids.push(id);
    }
    call(&admin, base, "/presence/heartbeat", json!({})).await?;

    let tag = call(&admin, base, "/space-tags/create", json!({"name": "bench"})).await?;
    let tag = tag["id"].as_str().context("the tag has no id")?.to_owned();
    let mut space_id = String::new();
    for i in 0..SPACES {
        let space = call(
            &admin,
            base,
            "/spaces/create",
            json!({"name": format!("Bench space {i:03}"), "layout": "office", "dimension": "medium",
                   "style": "modern", "tagIds": [tag]}),
        )
        .await?;
        if i == 0 {
            space_id = space["id"].as_str().context("the space has no id")?.to_owned();
        }
    }

    let mut conversation_ids = Vec::new();
    for i in 0..CONVERSATIONS {
        let others: Vec<&String> = member_ids[1..]
            .iter()
            .cycle()
            .skip(i * (CONVERSATION_SIZE - 1))
            .take(CONVERSATION_SIZE - 1)
            .collect();
        let conversation = call(
            &admin,
            base,
            "/chat/conversations/create-group",
            json!({"name": format!("Bench group {i:02}"), "memberIds": others}),
        )
        .await?;
        let id = conversation["id"]
            .as_str()
            .context("the conversation has no id")?;
        conversation_ids.push(id.to_owned());
    }

    let cookie = jar
        .cookies(&base.parse()?)
        .context("the development sign-in set no cookie")?;
    Ok(Fixture {
        cookie,
        space_id,
        member_ids,
        conversation_ids,
    })
}
