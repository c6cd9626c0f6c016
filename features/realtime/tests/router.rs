//! The office-router connection token, verified the way the Worker does: through the published
//! JWKS (by `kid`), never with the signing key. Rotation keeps tokens in flight verifiable.

extern crate qubital_auth;
extern crate qubital_realtime;

mod support;

use jsonwebtoken::{decode, decode_header, jwk::JwkSet, Algorithm, DecodingKey, Validation};
use qubital_realtime::Keyring;
use qubital_testkit::TestApp;
use serde_json::{json, Value};
use support::{now, problem_type, sign_in, Client};

/// The Worker's view: fetch the JWKS, pick the key by `kid`, verify RS256 + iss + aud + exp.
async fn verify_with_jwks(app: &TestApp, token: &str, issuer: &str, audience: &str) -> Result<Value, String> {
    let response = app.get("/.well-known/jwks.json").await;
    assert_eq!(response.status(), 200);
    let jwks: JwkSet = response.json().await.unwrap();
    let header = decode_header(token).map_err(|e| e.to_string())?;
    if header.alg != Algorithm::RS256 {
        return Err(format!("unexpected alg {:?}", header.alg));
    }
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks.find(&kid).ok_or_else(|| format!("unknown kid {kid}"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.leeway = 0;
    decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

fn pem(keyring: &Keyring) -> String {
    keyring.private_pem().unwrap()
}

#[tokio::test]
async fn a_generated_development_key_signs_tokens_the_jwks_verifies() {
    let app = TestApp::builder().spawn().await;
    let member = sign_in(&app.address, "mel@acme.test", "Acme", "member").await;
    let answer = member.ok("/realtime/router-token", json!({})).await;
    assert_eq!(answer["url"], Value::Null);
    let token = answer["token"].as_str().unwrap();
    let claims = verify_with_jwks(&app, token, "qubital", "office-router")
        .await
        .unwrap();
    assert_eq!(claims["sub"], member.user_id());
    assert_eq!(claims["userId"], member.user_id());
    assert_eq!(claims["orgId"], member.organization_id());
    assert_eq!(claims["role"], "member");
    let exp = claims["exp"].as_i64().unwrap();
    assert_eq!(exp - claims["iat"].as_i64().unwrap(), 60);
    assert!((exp - now() - 60).abs() <= 2);
    let expires_at = chrono::DateTime::parse_from_rfc3339(answer["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!(expires_at.timestamp(), exp);
    // The wrong audience or issuer is refused by the same verifier.
    assert!(verify_with_jwks(&app, token, "qubital", "elsewhere")
        .await
        .is_err());
    assert!(verify_with_jwks(&app, token, "someone", "office-router")
        .await
        .is_err());

    // One key for the life of the process, published with its kid and cacheable.
    let again = member.ok("/realtime/router-token", json!({})).await;
    let kid = |t: &str| decode_header(t).unwrap().kid.unwrap();
    assert_eq!(kid(again["token"].as_str().unwrap()), kid(token));
    let response = app.get("/.well-known/jwks.json").await;
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let jwks: Value = response.json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
    assert_eq!(jwks["keys"][0]["use"], "sig");
    assert_eq!(jwks["keys"][0]["kid"], kid(token));
    assert!(jwks["keys"][0].get("d").is_none(), "no private material: {jwks}");
}

#[tokio::test]
async fn configured_claims_and_a_token_in_flight_survive_a_key_rotation() {
    let old = Keyring::generate().unwrap();
    let new = Keyring::generate().unwrap();

    // Before the rotation: the old key signs.
    let before = TestApp::builder()
        .arg(format!("--router-token-private-key={}", pem(&old)))
        .arg("--router-token-issuer")
        .arg("https://api.qubital.test")
        .arg("--router-token-audience")
        .arg("office-router.test")
        .arg("--office-router-url")
        .arg("wss://router.qubital.test")
        .spawn()
        .await;
    let admin = sign_in(&before.address, "ada@acme.test", "Acme", "admin").await;
    let answer = admin.ok("/realtime/router-token", json!({})).await;
    assert_eq!(answer["url"], "wss://router.qubital.test");
    let in_flight = answer["token"].as_str().unwrap().to_owned();
    assert_eq!(decode_header(&in_flight).unwrap().kid.unwrap(), old.kid());
    let claims = verify_with_jwks(
        &before,
        &in_flight,
        "https://api.qubital.test",
        "office-router.test",
    )
    .await
    .unwrap();
    assert_eq!(claims["role"], "admin");

    // After: the new key signs, the old one (here its public half) is still published.
    let old_public = old.public_pem().unwrap();
    let after = TestApp::builder()
        .arg(format!("--router-token-private-key={}", pem(&new)))
        .arg(format!(
            "--router-token-previous-key={}",
            old_public.replace('\n', "\\n")
        ))
        .arg("--router-token-issuer")
        .arg("https://api.qubital.test")
        .arg("--router-token-audience")
        .arg("office-router.test")
        .spawn()
        .await;
    verify_with_jwks(
        &after,
        &in_flight,
        "https://api.qubital.test",
        "office-router.test",
    )
    .await
    .expect("a token signed by the previous key verifies while it is configured");
    let admin = sign_in(&after.address, "ada@acme.test", "Acme", "admin").await;
    let fresh = admin.ok("/realtime/router-token", json!({})).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(decode_header(&fresh).unwrap().kid.unwrap(), new.kid());
    verify_with_jwks(&after, &fresh, "https://api.qubital.test", "office-router.test")
        .await
        .unwrap();
    let jwks: Value = after.get("/.well-known/jwks.json").await.json().await.unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [new.kid(), old.kid()]);

    // Once the previous key is dropped, its tokens no longer verify.
    let finished = TestApp::builder()
        .arg(format!("--router-token-private-key={}", pem(&new)))
        .arg("--router-token-issuer")
        .arg("https://api.qubital.test")
        .arg("--router-token-audience")
        .arg("office-router.test")
        .spawn()
        .await;
    let error = verify_with_jwks(
        &finished,
        &in_flight,
        "https://api.qubital.test",
        "office-router.test",
    )
    .await
    .unwrap_err();
    assert!(error.contains("unknown kid"), "{error}");
    verify_with_jwks(
        &finished,
        &fresh,
        "https://api.qubital.test",
        "office-router.test",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn the_token_is_for_the_callers_own_organization_and_needs_a_session() {
    let app = TestApp::builder().spawn().await;
    let acme = sign_in(&app.address, "ada@acme.test", "Acme", "guest").await;
    let globex = sign_in(&app.address, "hank@globex.test", "Globex", "admin").await;
    let token = |c: &Client| {
        let c = c.http.clone();
        let url = app.url("/realtime/router-token");
        async move {
            c.post(url)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let acme_claims = verify_with_jwks(
        &app,
        token(&acme).await["token"].as_str().unwrap(),
        "qubital",
        "office-router",
    )
    .await
    .unwrap();
    let globex_claims = verify_with_jwks(
        &app,
        token(&globex).await["token"].as_str().unwrap(),
        "qubital",
        "office-router",
    )
    .await
    .unwrap();
    assert_eq!(acme_claims["orgId"], acme.organization_id());
    assert_eq!(acme_claims["role"], "guest");
    assert_eq!(globex_claims["orgId"], globex.organization_id());
    assert_ne!(acme_claims["orgId"], globex_claims["orgId"]);

    let response = app.post("/realtime/router-token", &json!({})).await;
    assert_eq!(response.status(), 401);
    let (_, body) = support::read(response).await;
    assert_eq!(problem_type(&body), "unauthorized");
    // The JWKS is public.
    assert_eq!(app.get("/.well-known/jwks.json").await.status(), 200);
    // ... and GET only.
    assert_eq!(app.post("/.well-known/jwks.json", &json!({})).await.status(), 405);
}
