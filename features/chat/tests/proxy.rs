//! Centrifugo's subscribe proxy: `chat:` channels for the conversation's members, `status:`
//! channels for the organization's members, nothing else; behind its bearer token.

extern crate qubital_chat;

mod support;

use serde_json::{json, Value};
use support::*;

const PROXY_TOKEN: &str = "proxy-token-for-the-chat-tests-0123456789";

/// What the proxy answers Centrifugo for `user` subscribing to `channel`.
async fn ask(app: &TestApp, token: &str, user: &str, channel: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(app.url("/internal/centrifugo/subscribe"))
        .bearer_auth(token)
        .json(&json!({
            "client": "9336a229-2400-4ebc-8c50-0a643d22e8a0",
            "transport": "websocket",
            "protocol": "json",
            "encoding": "json",
            "user": user,
            "channel": channel,
            "meta": {"anything": true}
        }))
        .send()
        .await
        .unwrap();
    read(response).await
}

fn allowed(answer: &Value) -> bool {
    if answer == &json!({"result": {}}) {
        return true;
    }
    assert_eq!(answer["error"]["code"], 403, "{answer}");
    false
}

#[tokio::test]
async fn members_are_admitted_to_their_conversations_and_their_organizations_statuses() {
    let fake = FakeCentrifugo::start().await;
    let app = builder_with(&fake)
        .arg("--centrifugo-proxy-token")
        .arg(PROXY_TOKEN)
        .spawn()
        .await;
    let ada = member(&app, "ada").await;
    let bob = member(&app, "bob").await;
    let eve = member(&app, "eve").await;
    let hank = sign_in(&app.address, "hank@globex.test", "Globex", "admin").await;
    let conversation = id(&dm(&ada, &bob).await);
    let chat = format!("chat:{conversation}");
    let acme = ada.organization_id().to_owned();

    let check = |user: &str, channel: &str| {
        let (user, channel) = (user.to_owned(), channel.to_owned());
        let app = &app;
        async move {
            let (status, answer) = ask(app, PROXY_TOKEN, &user, &channel).await;
            assert_eq!(status, 200, "{answer}");
            allowed(&answer)
        }
    };
    assert!(check(ada.user_id(), &chat).await);
    assert!(check(bob.user_id(), &chat).await);
    assert!(!check(eve.user_id(), &chat).await);
    assert!(!check(hank.user_id(), &chat).await);
    assert!(!check("", &chat).await);
    assert!(!check(ada.user_id(), "chat:not-a-conversation").await);

    let bobs_status = format!("status:{acme}:{}", bob.user_id());
    assert!(check(ada.user_id(), &bobs_status).await);
    assert!(check(eve.user_id(), &bobs_status).await);
    assert!(!check(hank.user_id(), &bobs_status).await);
    // Not about someone outside the organization either.
    assert!(!check(ada.user_id(), &format!("status:{acme}:{}", hank.user_id())).await);
    assert!(!check(ada.user_id(), &format!("status:nope:{}", bob.user_id())).await);
    assert!(!check(ada.user_id(), "org:everything").await);

    let (status, body) = ask(
        &app,
        "wrong-token-wrong-token-wrong-token-00",
        ada.user_id(),
        &chat,
    )
    .await;
    assert_eq!((status, problem_type(&body)), (401, "invalid-token"));
}

#[tokio::test]
async fn without_a_token_configured_the_proxy_admits_nobody() {
    let fake = FakeCentrifugo::start().await;
    let app = app_with(&fake).await;
    let ada = member(&app, "ada").await;
    let (status, body) = ask(&app, PROXY_TOKEN, ada.user_id(), "chat:x").await;
    assert_eq!((status, problem_type(&body)), (503, "integration-disabled"));
}
