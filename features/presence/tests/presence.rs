//! Presence: heartbeats, manual status, effective status reads, the stale-heartbeat job, and
//! every change of effective status published on `status:<org>:<user>` through the outbox.

extern crate qubital_presence;
extern crate qubital_users;

use std::time::Duration;

use platform_centrifugo::fake::FakeCentrifugo;
use qubital_auth::test_support::{problem_type, sign_in};
use qubital_testkit::{Client, TestApp};
use serde_json::{json, Value};

async fn app(fake: &FakeCentrifugo, stale_secs: u64) -> TestApp {
    let mut builder = TestApp::builder()
        .arg("--presence-stale-secs")
        .arg(stale_secs.to_string());
    for arg in fake.args() {
        builder = builder.arg(arg);
    }
    builder.spawn().await
}

async fn statuses(client: &Client, users: &[&Client]) -> Vec<String> {
    let ids: Vec<&str> = users.iter().map(|u| u.user_id()).collect();
    let answer = client.ok("/presence/status/get", json!({"userIds": ids})).await;
    answer["data"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&ids)
        .map(|(s, id)| {
            assert_eq!(s["userId"], *id);
            s["status"].as_str().unwrap().to_owned()
        })
        .collect()
}

async fn no_content(client: &Client, path: &str, body: Value) {
    assert_eq!(client.send(path, &body).await.status(), 204, "{path}");
}

/// The statuses published on `client`'s status channel, once the relay has delivered
/// `count` of them.
async fn published(fake: &FakeCentrifugo, client: &Client, count: usize) -> Vec<String> {
    let channel = format!("status:{}:{}", client.organization_id(), client.user_id());
    for _ in 0..200 {
        let found = fake.publications_on(&channel);
        if found.len() >= count {
            tokio::time::sleep(Duration::from_millis(300)).await;
            return fake
                .publications_on(&channel)
                .iter()
                .map(|p| p.data["status"].as_str().unwrap().to_owned())
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{count} publications on {channel} never came");
}

#[tokio::test]
async fn manual_status_wins_over_heartbeats_and_every_change_is_published() {
    let fake = FakeCentrifugo::start().await;
    let app = app(&fake, 90).await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "member").await;
    let bob = sign_in(&app.address, "bob@acme.test", "Acme", "member").await;
    let hank = sign_in(&app.address, "hank@globex.test", "Globex", "admin").await;

    assert_eq!(statuses(&bob, &[&ada, &bob]).await, ["offline", "offline"]);
    no_content(&ada, "/presence/heartbeat", json!({})).await;
    no_content(&ada, "/presence/heartbeat", json!({})).await;
    assert_eq!(statuses(&bob, &[&ada, &bob]).await, ["online", "offline"]);
    // Another organization does not see Ada's status in Acme.
    assert_eq!(statuses(&hank, &[&ada]).await, ["offline"]);

    no_content(&ada, "/presence/status/update", json!({"status": "busy"})).await;
    no_content(&ada, "/presence/heartbeat", json!({})).await;
    assert_eq!(statuses(&bob, &[&ada]).await, ["busy"]);
    no_content(&ada, "/presence/status/update", json!({"status": "offline"})).await;
    assert_eq!(statuses(&bob, &[&ada]).await, ["offline"]);
    no_content(&ada, "/presence/status/update", json!({"status": null})).await;
    assert_eq!(statuses(&bob, &[&ada]).await, ["online"]);

    // Each change once, in order; repeated heartbeats publish nothing.
    assert_eq!(
        published(&fake, &ada, 4).await,
        ["online", "busy", "offline", "online"]
    );
    let (status, body) = bob
        .post("/presence/status/update", json!({"status": "asleep"}))
        .await;
    assert_eq!((status, problem_type(&body)), (422, "validation"));
}

#[tokio::test]
async fn stale_heartbeats_turn_offline_unless_a_manual_status_holds() {
    let fake = FakeCentrifugo::start().await;
    let app = app(&fake, 1).await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "member").await;
    let bob = sign_in(&app.address, "bob@acme.test", "Acme", "member").await;
    no_content(&ada, "/presence/heartbeat", json!({})).await;
    no_content(&bob, "/presence/heartbeat", json!({})).await;
    no_content(&bob, "/presence/status/update", json!({"status": "away"})).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The job may have run already; running it again changes nothing more.
    qubital_presence::jobs::expire_once(&app.ctx).await.unwrap();
    assert_eq!(qubital_presence::jobs::expire_once(&app.ctx).await.unwrap(), 0);
    assert_eq!(statuses(&ada, &[&ada, &bob]).await, ["offline", "away"]);
    assert_eq!(published(&fake, &ada, 2).await, ["online", "offline"]);
    assert_eq!(published(&fake, &bob, 2).await, ["online", "away"]);
    // A heartbeat brings Ada back.
    no_content(&ada, "/presence/heartbeat", json!({})).await;
    assert_eq!(statuses(&bob, &[&ada]).await, ["online"]);
}

#[tokio::test]
async fn status_reads_are_bounded() {
    let fake = FakeCentrifugo::start().await;
    let app = app(&fake, 90).await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "member").await;
    let too_many: Vec<String> = (1..=201).map(|i| i.to_string()).collect();
    let (status, _) = ada
        .post("/presence/status/get", json!({"userIds": too_many}))
        .await;
    assert_eq!(status, 422);
    let (status, _) = ada.post("/presence/status/get", json!({"userIds": ["x"]})).await;
    assert_eq!(status, 422);
    let (status, _) = ada.post("/presence/status/get", json!({"userIds": []})).await;
    assert_eq!(status, 422);
    assert_eq!(app.post("/presence/heartbeat", &json!({})).await.status(), 401);
}

#[tokio::test]
async fn the_user_dto_carries_the_manual_status_only() {
    let fake = FakeCentrifugo::start().await;
    let app = app(&fake, 90).await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "member").await;
    let bob = sign_in(&app.address, "bob@acme.test", "Acme", "member").await;
    let manual = |user: Value| user["manualStatus"].clone();

    assert_eq!(manual(ada.ok("/user/get", json!({})).await), Value::Null);
    // Heartbeats make Ada online, automatically: no manual status.
    no_content(&ada, "/presence/heartbeat", json!({})).await;
    assert_eq!(manual(ada.ok("/user/get", json!({})).await), Value::Null);

    no_content(&ada, "/presence/status/update", json!({"status": "busy"})).await;
    assert_eq!(manual(ada.ok("/user/get", json!({})).await), "busy");
    // It is Ada's own: Bob's stays unset.
    assert_eq!(manual(bob.ok("/user/get", json!({})).await), Value::Null);
    // Every response carrying the User DTO has it (here: a profile update).
    assert_eq!(
        manual(ada.ok("/user/update", json!({"displayName": "Ada L."})).await),
        "busy"
    );

    no_content(&ada, "/presence/status/update", json!({"status": null})).await;
    assert_eq!(manual(ada.ok("/user/get", json!({})).await), Value::Null);
}
