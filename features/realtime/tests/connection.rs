//! The Centrifugo connection token: HS256 with the configured secret, `sub` = the user,
//! channels limited to the caller's own identity channels.

extern crate qubital_auth;
extern crate qubital_realtime;

mod support;

use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use qubital_testkit::TestApp;
use serde_json::{json, Value};
use support::{now, sign_in};

const SECRET: &str = "centrifugo-secret-for-tests-0123456789";

fn verify(token: &str, secret: &str) -> Result<Value, jsonwebtoken::errors::Error> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "sub"]);
    validation.validate_aud = false;
    decode::<Value>(token, &DecodingKey::from_secret(secret.as_bytes()), &validation).map(|d| d.claims)
}

#[tokio::test]
async fn the_token_subscribes_only_the_callers_identity_channels() {
    let app = TestApp::builder()
        .arg("--centrifugo-token-secret")
        .arg(SECRET)
        .arg("--centrifugo-client-url")
        .arg("wss://messaging.test/connection/websocket")
        .spawn()
        .await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "moderator").await;
    let hank = sign_in(&app.address, "hank@globex.test", "Globex", "admin").await;

    let answer = ada.ok("/realtime/connection-token", json!({})).await;
    assert_eq!(answer["url"], "wss://messaging.test/connection/websocket");
    let claims = verify(answer["token"].as_str().unwrap(), SECRET).unwrap();
    assert_eq!(claims["sub"], ada.user_id());
    let org = ada.organization_id();
    let expected = json!([
        format!("user:#{}", ada.user_id()),
        format!("org:{org}"),
        format!("role:{org}.moderator")
    ]);
    assert_eq!(claims["channels"], expected);
    assert_eq!(answer["channels"], expected);
    assert!((claims["exp"].as_i64().unwrap() - now() - 900).abs() <= 2);
    let expires_at = chrono::DateTime::parse_from_rfc3339(answer["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!(expires_at.timestamp(), claims["exp"].as_i64().unwrap());
    assert!(verify(
        answer["token"].as_str().unwrap(),
        "another-secret-another-secret-0000"
    )
    .is_err());

    // Another member's token names none of these channels.
    let theirs = verify(
        hank.ok("/realtime/connection-token", json!({})).await["token"]
            .as_str()
            .unwrap(),
        SECRET,
    )
    .unwrap();
    for channel in theirs["channels"].as_array().unwrap() {
        assert!(!expected.as_array().unwrap().contains(channel), "{channel}");
        assert!(!channel.as_str().unwrap().contains(org), "{channel}");
    }
    assert_eq!(
        app.post("/realtime/connection-token", &json!({})).await.status(),
        401
    );
}
