//! The Worker-facing endpoints: their own bearer JWT (signature, algorithm, iss, aud, exp/nbf
//! with a small leeway), never a session cookie; and what they answer.

extern crate qubital_auth;
extern crate qubital_realtime;

mod support;

use aws_lc_rs::{
    encoding::AsDer,
    rand::SystemRandom,
    signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{encode, EncodingKey, Header};
use qubital_realtime::Keyring;
use qubital_testkit::TestApp;
use serde_json::{json, Value};
use support::{create_space, now, problem_type, read, sign_in, Client};

const SECRET: &str = "worker-shared-secret-for-tests-012345";
const ISSUER: &str = "office-router";
const AUDIENCE: &str = "qubital";

fn claims() -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "worker-1", "iat": now(), "exp": now() + 60})
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    if value.is_null() {
        claims.as_object_mut().unwrap().remove(key);
    } else {
        claims[key] = value;
    }
    claims
}

fn hs256(claims: &Value, secret: &[u8]) -> String {
    encode(&Header::default(), claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// A compact JWS with a hand-made header (for algorithms no honest library would produce).
fn raw_jws(header: Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

async fn call(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(app.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    read(request.send().await.unwrap()).await
}

struct World {
    app: TestApp,
    acme_admin: Client,
    acme_guest: Client,
    globex_admin: Client,
    acme_space: String,
}

async fn world(builder: qubital_testkit::TestAppBuilder) -> World {
    let app = builder.spawn().await;
    let acme_admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let acme_guest = sign_in(&app.address, "gus@acme.test", "Acme", "guest").await;
    let globex_admin = sign_in(&app.address, "hank@globex.test", "Globex", "admin").await;
    let acme_space = create_space(&acme_admin, "Main").await;
    World {
        app,
        acme_admin,
        acme_guest,
        globex_admin,
        acme_space,
    }
}

fn secret_configured() -> qubital_testkit::TestAppBuilder {
    TestApp::builder().arg("--worker-jwt-secret").arg(SECRET)
}

#[tokio::test]
async fn the_worker_asks_who_may_enter_a_space_and_who_a_member_is() {
    let w = world(secret_configured()).await;
    let token = hs256(&claims(), SECRET.as_bytes());
    let check = format!("/worker/spaces/{}/check-access", w.acme_space);
    let acme = w.acme_admin.organization_id();

    let (status, body) = call(
        &w.app,
        &check,
        Some(&token),
        json!({"userId": w.acme_guest.user_id(), "organizationId": acme}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"allowed": true, "spaceId": w.acme_space, "organizationId": acme, "role": "guest", "reason": null})
    );

    // A member of another organization: refused, whichever organization the token names.
    let (_, body) = call(
        &w.app,
        &check,
        Some(&token),
        json!({"userId": w.globex_admin.user_id(), "organizationId": acme}),
    )
    .await;
    assert_eq!(
        (&body["allowed"], &body["reason"], &body["role"]),
        (&json!(false), &json!("not-a-member"), &Value::Null)
    );
    let (_, body) = call(
        &w.app,
        &check,
        Some(&token),
        json!({"userId": w.globex_admin.user_id(), "organizationId": w.globex_admin.organization_id()}),
    )
    .await;
    assert_eq!(
        (&body["allowed"], &body["reason"]),
        (&json!(false), &json!("other-organization"))
    );
    // Even a member of both is refused through the other organization's token.
    sign_in(&w.app.address, "bo@globex.test", "Globex", "member").await;
    let both = sign_in(&w.app.address, "bo@globex.test", "Acme", "member").await;
    let (_, body) = call(
        &w.app,
        &check,
        Some(&token),
        json!({"userId": both.user_id(), "organizationId": w.globex_admin.organization_id()}),
    )
    .await;
    assert_eq!(body["reason"], "other-organization");
    let (_, body) = call(
        &w.app,
        &check,
        Some(&token),
        json!({"userId": both.user_id(), "organizationId": acme}),
    )
    .await;
    assert_eq!(
        (&body["allowed"], &body["role"]),
        (&json!(true), &json!("member"))
    );

    let (status, body) = call(
        &w.app,
        &format!("/worker/spaces/{}/check-access", uuid::Uuid::new_v4()),
        Some(&token),
        json!({"userId": w.acme_guest.user_id(), "organizationId": acme}),
    )
    .await;
    assert_eq!((status, problem_type(&body)), (404, "not-found"));
    for bad in [
        json!({"userId": "abc", "organizationId": acme}),
        json!({"userId": "-1", "organizationId": acme}),
        json!({"organizationId": acme}),
        json!({"userId": "1"}),
        json!({"userId": "1".repeat(40), "organizationId": acme}),
    ] {
        let (status, body) = call(&w.app, &check, Some(&token), bad.clone()).await;
        assert_eq!(
            (status, problem_type(&body)),
            (422, "validation"),
            "{bad}: {body}"
        );
    }
    let (status, _) = call(
        &w.app,
        "/worker/spaces/nope/check-access",
        Some(&token),
        json!({"userId": "1", "organizationId": acme}),
    )
    .await;
    assert_eq!(status, 422);

    // Describe a member.
    let (status, body) = call(
        &w.app,
        "/worker/members/describe",
        Some(&token),
        json!({"organizationId": acme, "userId": w.acme_guest.user_id()}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["userId"], w.acme_guest.user_id());
    assert_eq!(body["organizationId"], acme);
    assert_eq!(body["email"], "gus@acme.test");
    assert_eq!(body["displayName"], w.acme_guest.user["displayName"]);
    assert_eq!(body["role"], "guest");
    for (organization, user) in [
        (acme, w.globex_admin.user_id()),
        (w.globex_admin.organization_id(), w.acme_guest.user_id()),
        ("no-such-organization", w.acme_guest.user_id()),
        (acme, "999999999"),
    ] {
        let (status, body) = call(
            &w.app,
            "/worker/members/describe",
            Some(&token),
            json!({"organizationId": organization, "userId": user}),
        )
        .await;
        assert_eq!(
            (status, problem_type(&body)),
            (404, "not-found"),
            "{organization} {user}: {body}"
        );
    }
}

#[tokio::test]
async fn refused_worker_tokens_are_401_problems() {
    let w = world(secret_configured()).await;
    let check = format!("/worker/spaces/{}/check-access", w.acme_space);
    let body = json!({"userId": w.acme_guest.user_id(), "organizationId": w.acme_admin.organization_id()});
    let rsa = Keyring::generate().unwrap();
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("garbage", Some("not.a.jwt".into())),
        (
            "expired",
            Some(hs256(
                &with(claims(), "exp", json!(now() - 30)),
                SECRET.as_bytes(),
            )),
        ),
        (
            "not yet valid",
            Some(hs256(
                &with(claims(), "nbf", json!(now() + 60)),
                SECRET.as_bytes(),
            )),
        ),
        (
            "no exp",
            Some(hs256(&with(claims(), "exp", Value::Null), SECRET.as_bytes())),
        ),
        (
            "lives longer than the maximum",
            Some(hs256(
                &with(claims(), "exp", json!(now() + 86_400)),
                SECRET.as_bytes(),
            )),
        ),
        (
            "wrong audience",
            Some(hs256(
                &with(claims(), "aud", json!("someone-else")),
                SECRET.as_bytes(),
            )),
        ),
        (
            "no audience",
            Some(hs256(&with(claims(), "aud", Value::Null), SECRET.as_bytes())),
        ),
        (
            "wrong issuer",
            Some(hs256(&with(claims(), "iss", json!("mallory")), SECRET.as_bytes())),
        ),
        (
            "wrong key",
            Some(hs256(&claims(), b"another-secret-of-the-same-length-000")),
        ),
        (
            "alg none",
            Some(raw_jws(json!({"alg": "none", "typ": "JWT"}), &claims(), b"")),
        ),
        ("alg None", Some(raw_jws(json!({"alg": "None"}), &claims(), b""))),
        (
            "RS256 with the wrong algorithm for this key",
            Some(rsa.sign(&claims()).unwrap()),
        ),
        (
            "HS512 with the right secret",
            Some(
                encode(
                    &Header::new(jsonwebtoken::Algorithm::HS512),
                    &claims(),
                    &EncodingKey::from_secret(SECRET.as_bytes()),
                )
                .unwrap(),
            ),
        ),
    ];
    for (case, token) in cases {
        let (status, problem) = call(&w.app, &check, token.as_deref(), body.clone()).await;
        assert_eq!(
            (status, problem_type(&problem)),
            (401, "unauthorized"),
            "{case}: {problem}"
        );
    }
    // Within the leeway (5 s) an just-expired token still passes.
    let recent = hs256(&with(claims(), "exp", json!(now() - 2)), SECRET.as_bytes());
    assert_eq!(call(&w.app, &check, Some(&recent), body.clone()).await.0, 200);

    // A signed-in session is not a Worker.
    let response = w
        .acme_admin
        .http
        .post(w.app.url(&check))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // ... and a Worker token is not a session: client operations refuse it.
    let token = hs256(&claims(), SECRET.as_bytes());
    for path in [
        "/spaces/list",
        "/realtime/router-token",
        "/realtime/connection-token",
    ] {
        let (status, problem) = call(&w.app, path, Some(&token), json!({})).await;
        assert_eq!((status, problem_type(&problem)), (401, "unauthorized"), "{path}");
    }
}

#[tokio::test]
async fn an_rsa_worker_key_accepts_rs256_only() {
    let worker_key = Keyring::generate().unwrap();
    let public_pem = worker_key.public_pem().unwrap();
    let w = world(TestApp::builder().arg(format!("--worker-jwt-public-key={}", &public_pem))).await;
    let check = format!("/worker/spaces/{}/check-access", w.acme_space);
    let body = json!({"userId": w.acme_admin.user_id(), "organizationId": w.acme_admin.organization_id()});

    let (status, answer) = call(
        &w.app,
        &check,
        Some(&worker_key.sign(&claims()).unwrap()),
        body.clone(),
    )
    .await;
    assert_eq!((status, &answer["role"]), (200, &json!("admin")), "{answer}");

    // HS/RS confusion: an HS256 token keyed with the public key itself.
    let confused = hs256(&claims(), public_pem.as_bytes());
    let (status, _) = call(&w.app, &check, Some(&confused), body.clone()).await;
    assert_eq!(status, 401);
    // Another RSA key, and a correct key with the wrong audience.
    let stranger = Keyring::generate().unwrap();
    assert_eq!(
        call(
            &w.app,
            &check,
            Some(&stranger.sign(&claims()).unwrap()),
            body.clone()
        )
        .await
        .0,
        401
    );
    let wrong_aud = worker_key
        .sign(&with(claims(), "aud", json!("office-router")))
        .unwrap();
    assert_eq!(call(&w.app, &check, Some(&wrong_aud), body.clone()).await.0, 401);
    let expired = worker_key
        .sign(&with(claims(), "exp", json!(now() - 60)))
        .unwrap();
    assert_eq!(call(&w.app, &check, Some(&expired), body.clone()).await.0, 401);
    // alg: none with the RSA key configured.
    let none = raw_jws(json!({"alg": "none"}), &claims(), b"");
    assert_eq!(call(&w.app, &check, Some(&none), body).await.0, 401);
}

#[tokio::test]
async fn a_p256_worker_key_accepts_es256() {
    let rng = SystemRandom::new();
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let spki = pair.public_key().as_der().unwrap();
    let public_pem = pem::encode(&pem::Pem::new("PUBLIC KEY", spki.as_ref().to_vec()));
    let w = world(
        TestApp::builder()
            .arg(format!("--worker-jwt-public-key={}", public_pem))
            .arg("--worker-jwt-issuer")
            .arg("https://router.test")
            .arg("--worker-jwt-audience")
            .arg("https://api.test"),
    )
    .await;
    let check = format!("/worker/spaces/{}/check-access", w.acme_space);
    let body = json!({"userId": w.acme_admin.user_id(), "organizationId": w.acme_admin.organization_id()});
    let es256 = |claims: &Value| {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "typ": "JWT"}).to_string());
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{payload}");
        let signature = pair.sign(&rng, input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    };
    let good = json!({"iss": "https://router.test", "aud": "https://api.test", "exp": now() + 30});
    assert_eq!(
        call(&w.app, &check, Some(&es256(&good)), body.clone()).await.0,
        200
    );
    // The default issuer/audience are not accepted once configured otherwise.
    assert_eq!(call(&w.app, &check, Some(&es256(&claims())), body).await.0, 401);
}

#[tokio::test]
async fn without_a_configured_worker_key_development_refuses_every_token() {
    let w = world(TestApp::builder()).await;
    let check = format!("/worker/spaces/{}/check-access", w.acme_space);
    let body = json!({"userId": w.acme_admin.user_id(), "organizationId": w.acme_admin.organization_id()});
    for token in [hs256(&claims(), SECRET.as_bytes()), hs256(&claims(), b"")] {
        assert_eq!(call(&w.app, &check, Some(&token), body.clone()).await.0, 401);
    }
}
