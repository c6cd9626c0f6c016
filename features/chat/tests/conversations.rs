//! Conversations: one DM per pair, groups, the list with last message and unread counts, and
//! isolation (a non-member learns nothing, not even that a conversation exists).

extern crate qubital_chat;

mod support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn a_second_dm_create_returns_the_first_and_groups_have_an_admin() {
    let fake = FakeCentrifugo::start().await;
    let app = app_with(&fake).await;
    let ada = member(&app, "ada").await;
    let bob = member(&app, "bob").await;
    let cy = member(&app, "cy").await;

    let first = dm(&ada, &bob).await;
    assert_eq!(first["kind"], "dm");
    assert_eq!(first["name"], json!(null));
    assert_eq!(first["lastMessage"], json!(null));
    let members: Vec<&str> = first["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["userId"].as_str().unwrap())
        .collect();
    assert_eq!(members.len(), 2);
    assert!(members.contains(&ada.user_id()) && members.contains(&bob.user_id()));
    // The other side opening it finds the same conversation.
    let again = dm(&bob, &ada).await;
    assert_eq!(id(&again), id(&first));
    let (status, body) = ada
        .post("/chat/conversations/create-dm", json!({"userId": ada.user_id()}))
        .await;
    assert_eq!((status, problem_type(&body)), (422, "validation"));

    let group = ada
        .ok(
            "/chat/conversations/create-group",
            json!({"name": " Launch ", "memberIds": [bob.user_id(), cy.user_id()]}),
        )
        .await;
    assert_eq!(group["kind"], "group");
    assert_eq!(group["name"], "Launch");
    let roles: Vec<(String, String)> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["userId"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(roles.contains(&(ada.user_id().to_owned(), "admin".into())));
    assert!(roles.contains(&(cy.user_id().to_owned(), "member".into())));
    let (status, body) = ada
        .post(
            "/chat/conversations/create-group",
            json!({"name": "   ", "memberIds": []}),
        )
        .await;
    assert_eq!((status, problem_type(&body)), (422, "validation"));
}

#[tokio::test]
async fn the_list_shows_the_last_message_and_unread_counts() {
    let fake = FakeCentrifugo::start().await;
    let app = app_with(&fake).await;
    let ada = member(&app, "ada").await;
    let bob = member(&app, "bob").await;
    let cy = member(&app, "cy").await;
    let with_bob = id(&dm(&ada, &bob).await);
    let with_cy = id(&dm(&ada, &cy).await);
    send(&bob, &with_bob, "one").await;
    send(&bob, &with_bob, "two").await;
    send(&ada, &with_bob, "mine").await;
    send(&cy, &with_cy, "hello").await;

    let list = ada.ok("/chat/conversations/list", json!({})).await;
    assert_eq!(list["page"]["total"], 2);
    let data = list["data"].as_array().unwrap();
    // The most recently active first.
    assert_eq!(id(&data[0]), with_cy);
    assert_eq!(data[0]["lastMessage"]["content"], "hello");
    assert_eq!(data[0]["unreadCount"], 1);
    assert_eq!(id(&data[1]), with_bob);
    assert_eq!(data[1]["lastMessage"]["content"], "mine");
    // Replying reads everything before: the own message moved the read cursor.
    assert_eq!(data[1]["unreadCount"], 0);

    let bobs = bob.ok("/chat/conversations/list", json!({"limit": 1})).await;
    assert_eq!(bobs["page"]["total"], 1);
    assert_eq!(bobs["data"][0]["unreadCount"], 1);
}

#[tokio::test]
async fn non_members_and_other_organizations_get_404() {
    let fake = FakeCentrifugo::start().await;
    let app = app_with(&fake).await;
    let ada = member(&app, "ada").await;
    let bob = member(&app, "bob").await;
    let eve = member(&app, "eve").await;
    let hank = sign_in(&app.address, "hank@globex.test", "Globex", "admin").await;
    let conversation = id(&dm(&ada, &bob).await);
    let message = id(&send(&ada, &conversation, "secret").await);

    for outsider in [&eve, &hank] {
        for (path, body) in [
            (
                "/chat/messages/send",
                json!({"conversationId": conversation, "content": "hi"}),
            ),
            ("/chat/messages/list", json!({"conversationId": conversation})),
            ("/chat/subscribe-token", json!({"conversationId": conversation})),
            (
                &*format!("/chat/conversations/{conversation}/members/add"),
                json!({"userIds": [outsider.user_id()]}),
            ),
        ] {
            let (status, answer) = outsider.post(path, body).await;
            assert_eq!((status, problem_type(&answer)), (404, "not-found"), "{path}");
        }
        let list = outsider.ok("/chat/conversations/list", json!({})).await;
        assert_eq!(list["page"]["total"], 0);
    }
    // Someone of another organization cannot be put into a conversation either.
    let (status, _) = ada
        .post("/chat/conversations/create-dm", json!({"userId": hank.user_id()}))
        .await;
    assert_eq!(status, 404);
    // Nothing of it reached the conversation.
    let page = bob
        .ok("/chat/messages/list", json!({"conversationId": conversation}))
        .await;
    assert_eq!(page["page"]["total"], 1);
    assert_eq!(id(&page["data"][0]), message);
}

#[tokio::test]
async fn group_admins_manage_members() {
    let fake = FakeCentrifugo::start().await;
    let app = app_with(&fake).await;
    let ada = member(&app, "ada").await;
    let bob = member(&app, "bob").await;
    let cy = member(&app, "cy").await;
    let group = id(&ada
        .ok(
            "/chat/conversations/create-group",
            json!({"name": "Team", "memberIds": [bob.user_id()]}),
        )
        .await);
    let add = format!("/chat/conversations/{group}/members/add");
    let remove = format!("/chat/conversations/{group}/members/remove");

    // A member who is not an admin cannot add.
    let (status, _) = bob.post(&add, json!({"userIds": [cy.user_id()]})).await;
    assert_eq!(status, 403);
    // Cy cannot read it before being added…
    let (status, _) = cy
        .post("/chat/messages/list", json!({"conversationId": group}))
        .await;
    assert_eq!(status, 404);
    let added = ada.ok(&add, json!({"userIds": [cy.user_id()]})).await;
    assert_eq!(added["members"].as_array().unwrap().len(), 3);
    // …and can after.
    cy.ok("/chat/messages/list", json!({"conversationId": group}))
        .await;
    // Bob leaves by himself; he cannot remove Cy.
    let (status, _) = bob.post(&remove, json!({"userId": cy.user_id()})).await;
    assert_eq!(status, 403);
    bob.ok(&remove, json!({"userId": bob.user_id()})).await;
    let (status, _) = bob
        .post("/chat/messages/list", json!({"conversationId": group}))
        .await;
    assert_eq!(status, 404);
    // A DM keeps its two members.
    let direct = id(&dm(&ada, &bob).await);
    let (status, body) = ada
        .post(
            &format!("/chat/conversations/{direct}/members/add"),
            json!({"userIds": [cy.user_id()]}),
        )
        .await;
    assert_eq!((status, problem_type(&body)), (409, "chat-not-a-group"));
}
