//! Messages: idempotent sends, content bounds, cursor pages.

extern crate qubital_chat;

mod support;

use serde_json::{json, Value};
use support::*;

#[tokio::test]
async fn a_retried_send_returns_the_first_message() {
    let fake = FakeCentrifugo::start().await;
    let app = app_with(&fake).await;
    let ada = member(&app, "ada").await;
    let bob = member(&app, "bob").await;
    let conversation = id(&dm(&ada, &bob).await);
    let body = json!({"conversationId": conversation, "content": "hello", "clientMsgId": "c-1"});
    let first = ada.ok("/chat/messages/send", body.clone()).await;
    let second = ada.ok("/chat/messages/send", body.clone()).await;
    assert_eq!(first, second);
    assert_eq!(first["clientMsgId"], "c-1");
    assert_eq!(first["senderId"], ada.user_id());
    // Concurrent retries too.
    let retries = futures::future::join_all((0..5).map(|_| {
        ada.ok(
            "/chat/messages/send",
            json!({"conversationId": conversation, "content": "again", "clientMsgId": "c-2"}),
        )
    }))
    .await;
    assert!(retries.iter().all(|m| m["id"] == retries[0]["id"]));
    // The same client id from another sender is another message.
    let bobs = bob.ok("/chat/messages/send", body).await;
    assert_ne!(bobs["id"], first["id"]);
    let page = ada
        .ok("/chat/messages/list", json!({"conversationId": conversation}))
        .await;
    assert_eq!(page["page"]["total"], 3);
}

#[tokio::test]
async fn content_is_1_to_4000_characters() {
    let fake = FakeCentrifugo::start().await;
    let app = app_with(&fake).await;
    let ada = member(&app, "ada").await;
    let bob = member(&app, "bob").await;
    let conversation = id(&dm(&ada, &bob).await);
    let longest = "é".repeat(4000);
    let sent = send(&ada, &conversation, &longest).await;
    assert_eq!(sent["content"], longest);
    for bad in [String::new(), "   ".into(), "é".repeat(4001)] {
        let (status, body) = ada
            .post(
                "/chat/messages/send",
                json!({"conversationId": conversation, "content": bad}),
            )
            .await;
        assert_eq!((status, problem_type(&body)), (422, "validation"));
    }
    let (status, _) = ada
        .post(
            "/chat/messages/send",
            json!({"conversationId": conversation, "content": "x", "clientMsgId": "has space"}),
        )
        .await;
    assert_eq!(status, 422);
}

fn contents(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn pages_go_before_after_and_around_a_message_newest_first() {
    let fake = FakeCentrifugo::start().await;
    let app = app_with(&fake).await;
    let ada = member(&app, "ada").await;
    let bob = member(&app, "bob").await;
    let conversation = id(&dm(&ada, &bob).await);
    let mut ids = Vec::new();
    for n in 1..=10 {
        ids.push(id(&send(&ada, &conversation, &format!("m{n}")).await));
    }
    let list = |extra: Value| {
        let mut body = json!({"conversationId": conversation, "limit": 3});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        ada.ok("/chat/messages/list", body)
    };
    let newest = list(json!({})).await;
    assert_eq!(contents(&newest), ["m10", "m9", "m8"]);
    assert_eq!(newest["page"]["total"], 10);
    let older = list(json!({"before": ids[7]})).await;
    assert_eq!(contents(&older), ["m7", "m6", "m5"]);
    let newer = list(json!({"after": ids[1]})).await;
    assert_eq!(contents(&newer), ["m5", "m4", "m3"]);
    let around = list(json!({"around": ids[4]})).await;
    assert_eq!(contents(&around), ["m6", "m5", "m4"]);
    // New messages do not shift a page taken from a cursor.
    send(&bob, &conversation, "m11").await;
    assert_eq!(
        contents(&list(json!({"before": ids[7]})).await),
        ["m7", "m6", "m5"]
    );
    let (status, _) = ada
        .post(
            "/chat/messages/list",
            json!({"conversationId": conversation, "before": ids[1], "after": ids[0]}),
        )
        .await;
    assert_eq!(status, 422);
    // A message of another conversation is no cursor here.
    let other = id(&ada
        .ok(
            "/chat/conversations/create-group",
            json!({"name": "x", "memberIds": []}),
        )
        .await);
    let foreign = id(&send(&ada, &other, "elsewhere").await);
    let (status, _) = ada
        .post(
            "/chat/messages/list",
            json!({"conversationId": conversation, "before": foreign}),
        )
        .await;
    assert_eq!(status, 404);
}
