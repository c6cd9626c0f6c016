//! The outbox relay against a fake Centrifugo: exactly once and in order per channel across a
//! crash between commit and publish (and between publish and marking), never twice with two
//! relays, nothing lost while Centrifugo is down, idle when it is not configured.

extern crate qubital_chat;

mod support;

use std::time::Duration;

use platform_centrifugo::fake::RecordedPublication;
use qubital_chat::relay::{self, RelayLock};
use serde_json::{json, Value};
use support::*;

/// Takes the relay's lock away from the app's own relay job (waiting for its run to end).
async fn hold_relay(app: &TestApp) -> RelayLock {
    for _ in 0..100 {
        if let Some(lock) = RelayLock::try_acquire(app.db()).await.unwrap() {
            return lock;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the relay lock was never free");
}

/// The `message.created` contents published into `channel`, in order.
fn created(publications: &[RecordedPublication]) -> Vec<String> {
    publications
        .iter()
        .filter(|p| p.data["type"] == "message.created")
        .map(|p| p.data["message"]["content"].as_str().unwrap().to_owned())
        .collect()
}

fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}{i}")).collect()
}

async fn backlog(app: &TestApp) -> i64 {
    relay::measure(app.db()).await.unwrap().0
}

#[tokio::test]
async fn a_crash_between_commit_and_publish_still_publishes_each_message_once_in_order() {
    let fake = FakeCentrifugo::start().await;
    let app = app_with(&fake).await;
    let ada = member(&app, "ada").await;
    let bob = member(&app, "bob").await;
    let conversation = id(&dm(&ada, &bob).await);
    let channel = format!("chat:{conversation}");

    // The relay is down (its lock is held): messages commit, nothing is published.
    let lock = hold_relay(&app).await;
    for content in numbered("m", 5) {
        send(&ada, &conversation, &content).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(created(&fake.publications_on(&channel)).is_empty());

    // A relay publishes the first three, then dies before writing that it did.
    let pending: Vec<_> = relay::claim(app.db(), &lock, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.channel == channel)
        .take(3)
        .collect();
    assert_eq!(pending.len(), 3);
    let outcomes = relay::deliver(&fake.client(), &pending).await;
    assert!(outcomes.iter().all(|o| matches!(o, relay::Outcome::Published(_))));
    assert_eq!(created(&fake.publications_on(&channel)), numbered("m", 3));
    drop(lock);

    // The app's relay takes over: everything once, in order.
    eventually("the backlog to drain", || {
        created(&fake.publications_on(&channel)).len() >= 5
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let published = fake.publications_on(&channel);
    assert_eq!(created(&published), numbered("m", 5));
    assert_eq!(backlog(&app).await, 0);
    // The first three were sent again, and Centrifugo dropped them by idempotency key.
    let sends = fake
        .calls()
        .iter()
        .filter(|c| c.method == "publish" && c.body["channel"] == channel.as_str())
        .count();
    assert_eq!(sends, 8);
    let keys: Vec<_> = published
        .iter()
        .map(|p| p.idempotency_key.clone().unwrap())
        .collect();
    assert!(keys.iter().all(|k| k.starts_with("outbox:")));
    // The event carries the message as the API returns it.
    let page = ada
        .ok(
            "/chat/messages/list",
            json!({"conversationId": conversation, "limit": 1}),
        )
        .await;
    let last = published.last().unwrap();
    assert_eq!(last.data["conversationId"], conversation.as_str());
    assert_eq!(last.data["message"], page["data"][0]);
}

#[tokio::test]
async fn two_relays_never_double_publish() {
    let fake = FakeCentrifugo::start().await;
    // Centrifugo's de-duplication off: only the relay's own exclusion prevents doubles.
    fake.set_idempotency_window(Duration::ZERO);
    let app = app_with(&fake).await;
    let ada = member(&app, "ada").await;
    let bob = member(&app, "bob").await;
    let cy = member(&app, "cy").await;
    let lock = hold_relay(&app).await;
    let conversations = [id(&dm(&ada, &bob).await), id(&dm(&ada, &cy).await)];
    for n in 1..=15 {
        for conversation in &conversations {
            send(&ada, conversation, &format!("m{n}")).await;
        }
    }
    drop(lock);
    // The app's relay and three more race.
    let results = futures::future::join_all((0..3).map(|_| relay::relay_once(&app.ctx))).await;
    for result in results {
        result.unwrap();
    }
    eventually("the backlog to drain", || {
        conversations
            .iter()
            .all(|c| created(&fake.publications_on(&format!("chat:{c}"))).len() >= 15)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    for conversation in &conversations {
        assert_eq!(
            created(&fake.publications_on(&format!("chat:{conversation}"))),
            numbered("m", 15)
        );
    }
    // Every publication exactly once, whatever its channel.
    let all = fake.publications();
    let mut keys: Vec<_> = all.iter().map(|p| p.idempotency_key.clone()).collect();
    let count = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), count);
    assert_eq!(backlog(&app).await, 0);
}

#[tokio::test]
async fn while_centrifugo_is_down_nothing_is_lost_and_the_backlog_drains() {
    let fake = FakeCentrifugo::start().await;
    let app = app_with(&fake).await;
    let ada = member(&app, "ada").await;
    let bob = member(&app, "bob").await;
    let conversation = id(&dm(&ada, &bob).await);
    let channel = format!("chat:{conversation}");
    fake.set_down(true);
    for content in numbered("m", 10) {
        send(&ada, &conversation, &content).await;
    }
    // The relay keeps trying (and backs off); nothing is delivered, nothing is dropped.
    eventually("attempts against the dead Centrifugo", || {
        fake.call_count("publish") >= 3
    })
    .await;
    assert!(fake.publications_on(&channel).is_empty());
    let (pending, lag) = relay::measure(app.db()).await.unwrap();
    assert!(pending >= 10, "{pending}");
    assert!(lag > 0.0);

    fake.set_down(false);
    eventually("the backlog to drain", || {
        created(&fake.publications_on(&channel)).len() >= 10
    })
    .await;
    assert_eq!(created(&fake.publications_on(&channel)), numbered("m", 10));
    let drained = async {
        loop {
            if backlog(&app).await == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), drained)
        .await
        .expect("the outbox empties");
}

#[tokio::test]
async fn without_centrifugo_messages_are_stored_and_the_relay_idles() {
    let app = TestApp::builder().spawn().await;
    let ada = member(&app, "ada").await;
    let bob = member(&app, "bob").await;
    let conversation = id(&dm(&ada, &bob).await);
    send(&ada, &conversation, "stored").await;
    let page = bob
        .ok("/chat/messages/list", json!({"conversationId": conversation}))
        .await;
    assert_eq!(page["data"][0]["content"], "stored");
    let pass = relay::relay_once(&app.ctx).await.unwrap();
    assert!(pass.idle);
    // Kept for when Centrifugo is configured.
    assert!(backlog(&app).await >= 1);
}

#[tokio::test]
async fn a_permanently_refused_publication_does_not_block_its_channel() {
    let fake = FakeCentrifugo::start().await;
    // `user:` is not configured: the conversation-created events are refused for good.
    fake.set_namespaces(&["chat"]);
    let app = app_with(&fake).await;
    let ada = member(&app, "ada").await;
    let bob = member(&app, "bob").await;
    let conversation = id(&dm(&ada, &bob).await);
    send(&ada, &conversation, "through").await;
    let channel = format!("chat:{conversation}");
    eventually("the message", || !fake.publications_on(&channel).is_empty()).await;
    eventually_async(|| async { backlog(&app).await == 0 }).await;
    let data: Vec<Value> = fake.publications().into_iter().map(|p| p.data).collect();
    assert!(data.iter().all(|d| d["type"] != "conversation.created"));
}

async fn eventually_async<F: std::future::Future<Output = bool>>(mut done: impl FnMut() -> F) {
    for _ in 0..200 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out");
}
