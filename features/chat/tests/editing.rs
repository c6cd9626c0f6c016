//! Editing, deleting, reactions, typing, read cursors, search and subscription tokens — and
//! that a non-member can do none of it.

extern crate qubital_chat;

mod support;

use std::time::Duration;

use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use support::*;

#[tokio::test]
async fn senders_edit_and_delete_their_messages_and_admins_delete_any() {
    let fake = FakeCentrifugo::start().await;
    let app = app_with(&fake).await;
    let ada = member(&app, "ada").await;
    let bob = member(&app, "bob").await;
    let boss = sign_in(&app.address, "boss@acme.test", "Acme", "admin").await;
    let group = id(&ada
        .ok(
            "/chat/conversations/create-group",
            json!({"name": "Team", "memberIds": [bob.user_id(), boss.user_id()]}),
        )
        .await);
    let mine = id(&send(&ada, &group, "first draft").await);

    let edited = ada
        .ok(
            &format!("/chat/messages/{mine}/update"),
            json!({"content": "final"}),
        )
        .await;
    assert_eq!(edited["content"], "final");
    assert!(edited["editedAt"].is_string());
    let (status, _) = bob
        .post(
            &format!("/chat/messages/{mine}/update"),
            json!({"content": "hijack"}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = bob
        .post(&format!("/chat/messages/{mine}/delete"), json!({}))
        .await;
    assert_eq!(status, 403);

    let deleted = ada.ok(&format!("/chat/messages/{mine}/delete"), json!({})).await;
    assert_eq!(deleted["content"], json!(null));
    assert!(deleted["deletedAt"].is_string());
    let (status, body) = ada
        .post(
            &format!("/chat/messages/{mine}/update"),
            json!({"content": "back"}),
        )
        .await;
    assert_eq!((status, problem_type(&body)), (409, "chat-message-deleted"));
    // The tombstone keeps its place.
    let page = bob
        .ok("/chat/messages/list", json!({"conversationId": group}))
        .await;
    assert_eq!(page["data"][0]["id"], mine.as_str());
    assert_eq!(page["data"][0]["content"], json!(null));

    // An organization admin deletes anyone's message.
    let bobs = id(&send(&bob, &group, "oops").await);
    let removed = boss.ok(&format!("/chat/messages/{bobs}/delete"), json!({})).await;
    assert!(removed["deletedAt"].is_string());

    // Everything reached the channel, in order.
    let channel = format!("chat:{group}");
    eventually("the events", || fake.publications_on(&channel).len() >= 5).await;
    let types: Vec<Value> = fake
        .publications_on(&channel)
        .iter()
        .map(|p| p.data["type"].clone())
        .collect();
    assert_eq!(
        types,
        [
            "message.created",
            "message.updated",
            "message.deleted",
            "message.created",
            "message.deleted"
        ]
    );
}

#[tokio::test]
async fn reactions_typing_and_read_cursors() {
    let fake = FakeCentrifugo::start().await;
    let app = app_with(&fake).await;
    let ada = member(&app, "ada").await;
    let bob = member(&app, "bob").await;
    let conversation = id(&dm(&ada, &bob).await);
    let first = id(&send(&ada, &conversation, "one").await);
    let second = id(&send(&ada, &conversation, "two").await);
    send(&ada, &conversation, "three").await;

    let add = format!("/chat/messages/{first}/reactions/add");
    bob.ok(&add, json!({"emoji": "👍"})).await;
    bob.ok(&add, json!({"emoji": "👍"})).await;
    let reacted = ada.ok(&add, json!({"emoji": "👍"})).await;
    assert_eq!(
        reacted["reactions"],
        json!([{"emoji": "👍", "count": 2, "userIds": [bob.user_id(), ada.user_id()]}])
    );
    let removed = bob
        .ok(
            &format!("/chat/messages/{first}/reactions/remove"),
            json!({"emoji": "👍"}),
        )
        .await;
    assert_eq!(removed["reactions"][0]["count"], 1);
    let (status, _) = bob.post(&add, json!({"emoji": "two words"})).await;
    assert_eq!(status, 422);

    // Bob has three unread; reading up to the second leaves one.
    let list = bob.ok("/chat/conversations/list", json!({})).await;
    assert_eq!(list["data"][0]["unreadCount"], 3);
    let cursor = bob
        .ok(
            "/chat/read-cursor/update",
            json!({"conversationId": conversation, "messageId": second}),
        )
        .await;
    assert_eq!(cursor["unreadCount"], 1);
    // Never back.
    let cursor = bob
        .ok(
            "/chat/read-cursor/update",
            json!({"conversationId": conversation, "messageId": first}),
        )
        .await;
    assert_eq!(cursor["unreadCount"], 1);

    // Typing goes straight to Centrifugo, out of history, and is not stored.
    let response = ada
        .send("/chat/typing/send", &json!({"conversationId": conversation}))
        .await;
    assert_eq!(response.status(), 204);
    let channel = format!("chat:{conversation}");
    let typing: Vec<_> = fake
        .publications_on(&channel)
        .into_iter()
        .filter(|p| p.data["type"] == "typing")
        .collect();
    assert_eq!(typing.len(), 1);
    assert!(typing[0].skip_history);
    assert_eq!(typing[0].data["userId"], ada.user_id());
    let page = ada
        .ok("/chat/messages/list", json!({"conversationId": conversation}))
        .await;
    assert_eq!(page["page"]["total"], 3);
}

#[tokio::test]
async fn search_finds_text_case_insensitively_only_where_the_caller_is_a_member() {
    let fake = FakeCentrifugo::start().await;
    let app = app_with(&fake).await;
    let ada = member(&app, "ada").await;
    let bob = member(&app, "bob").await;
    let cy = member(&app, "cy").await;
    let hank = sign_in(&app.address, "hank@globex.test", "Globex", "admin").await;
    let with_bob = id(&dm(&ada, &bob).await);
    let with_cy = id(&dm(&ada, &cy).await);
    send(&ada, &with_bob, "The Rocket launches Friday").await;
    send(&bob, &with_bob, "rocket science, 100% sure").await;
    send(&ada, &with_cy, "ROCKET emoji please").await;
    let gone = id(&send(&ada, &with_cy, "rocket to delete").await);
    ada.ok(&format!("/chat/messages/{gone}/delete"), json!({})).await;
    let hanks = id(&hank
        .ok(
            "/chat/conversations/create-group",
            json!({"name": "Globex", "memberIds": []}),
        )
        .await);
    send(&hank, &hanks, "rocket at Globex").await;

    let search = |client: &Client, body: Value| {
        let client = client.clone();
        async move { client.ok("/chat/messages/search", body).await }
    };
    let all = search(&ada, json!({"query": "rOcKeT"})).await;
    assert_eq!(all["page"]["total"], 3);
    let contents: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        [
            "ROCKET emoji please",
            "rocket science, 100% sure",
            "The Rocket launches Friday"
        ]
    );
    let bobs = search(&bob, json!({"query": "rocket"})).await;
    assert_eq!(bobs["page"]["total"], 2);
    let one = search(&ada, json!({"query": "rocket", "conversationId": with_cy})).await;
    assert_eq!(one["page"]["total"], 1);
    // `%` is a character, not a wildcard.
    let percent = search(&ada, json!({"query": "00%"})).await;
    assert_eq!(percent["page"]["total"], 1);
    let (status, _) = bob
        .post(
            "/chat/messages/search",
            json!({"query": "rocket", "conversationId": with_cy}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = bob.post("/chat/messages/search", json!({"query": " a "})).await;
    assert_eq!(status, 422);
    // U+0000 cannot be in Postgres text: refused by the schema's pattern, never a 500.
    let (status, problem) = bob
        .post("/chat/messages/search", json!({"query": "rocket\u{0}"}))
        .await;
    assert_eq!(status, 422, "{problem}");
    let (status, problem) = bob
        .post(
            "/chat/messages/send",
            json!({"conversationId": with_cy, "content": "hi\u{0}"}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    let globex = search(&hank, json!({"query": "rocket"})).await;
    assert_eq!(globex["page"]["total"], 1);
}

#[tokio::test]
async fn search_is_served_by_the_trigram_index() {
    let app = TestApp::builder().spawn().await;
    let mut conn = app.db().acquire().await.unwrap();
    // With sequential scans priced out, the planner must have an index for the search filter.
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT id FROM chat_messages WHERE deleted_at IS NULL AND content ILIKE '%needle%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("chat_messages_content_trgm"), "{plan}");
}

#[tokio::test]
async fn subscription_tokens_are_for_members_and_one_channel() {
    let fake = FakeCentrifugo::start().await;
    let app = app_with(&fake).await;
    let ada = member(&app, "ada").await;
    let bob = member(&app, "bob").await;
    let conversation = id(&dm(&ada, &bob).await);
    let answer = ada
        .ok("/chat/subscribe-token", json!({"conversationId": conversation}))
        .await;
    let channel = format!("chat:{conversation}");
    assert_eq!(answer["channel"], channel.as_str());
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "sub"]);
    let claims = decode::<Value>(
        answer["token"].as_str().unwrap(),
        &DecodingKey::from_secret(TOKEN_SECRET.as_bytes()),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["sub"], ada.user_id());
    assert_eq!(claims["channel"], channel.as_str());
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
}

#[tokio::test]
async fn a_non_member_can_do_nothing_with_a_conversation_or_its_messages() {
    let fake = FakeCentrifugo::start().await;
    let app = app_with(&fake).await;
    let ada = member(&app, "ada").await;
    let bob = member(&app, "bob").await;
    let eve = member(&app, "eve").await;
    let hank = sign_in(&app.address, "hank@globex.test", "Globex", "admin").await;
    let conversation = id(&dm(&ada, &bob).await);
    let message = id(&send(&ada, &conversation, "private matter").await);
    for outsider in [&eve, &hank] {
        for (path, body) in [
            (
                format!("/chat/messages/{message}/update"),
                json!({"content": "x"}),
            ),
            (format!("/chat/messages/{message}/delete"), json!({})),
            (
                format!("/chat/messages/{message}/reactions/add"),
                json!({"emoji": "👀"}),
            ),
            (
                format!("/chat/messages/{message}/reactions/remove"),
                json!({"emoji": "👀"}),
            ),
            (
                "/chat/typing/send".into(),
                json!({"conversationId": conversation}),
            ),
            (
                "/chat/read-cursor/update".into(),
                json!({"conversationId": conversation, "messageId": message}),
            ),
            (
                "/chat/messages/search".into(),
                json!({"query": "private", "conversationId": conversation}),
            ),
            (
                format!("/chat/conversations/{conversation}/members/remove"),
                json!({"userId": bob.user_id()}),
            ),
        ] {
            let (status, answer) = outsider.post(&path, body).await;
            assert_eq!((status, problem_type(&answer)), (404, "not-found"), "{path}");
        }
        let found = outsider
            .ok("/chat/messages/search", json!({"query": "private"}))
            .await;
        assert_eq!(found["page"]["total"], 0);
    }
    // Nothing changed, nothing was published but the message itself.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let page = ada
        .ok("/chat/messages/list", json!({"conversationId": conversation}))
        .await;
    assert_eq!(page["data"][0]["content"], "private matter");
    assert_eq!(page["data"][0]["reactions"], json!([]));
    let channel = format!("chat:{conversation}");
    assert!(fake
        .publications_on(&channel)
        .iter()
        .all(|p| p.data["type"] == "message.created"));
}
