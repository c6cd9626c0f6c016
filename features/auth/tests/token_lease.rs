//! The steps that spend a WorkOS refresh token (switching organization, and the other ways into
//! an organization) or talk to WorkOS to finish a sign-in hold no database transaction or pooled
//! connection across WorkOS: with a pool of one connection and a WorkOS that stalls, other
//! requests are still served. Two of them on one session spend its single-use refresh token one
//! at a time (the session's lease), and a lease its holder never gave back is waited out.

extern crate qubital_auth;

mod support;

use std::time::{Duration, Instant};

use platform_workos::fake::FakeWorkos;
use qubital_auth::test_support::{problem_type, web_sign_in};
use qubital_testkit::{Client, TestApp};
use serde_json::{json, Value};
use support::*;

const AUTHENTICATE: &str = "POST /user_management/authenticate";
const FIND_MEMBERSHIP: &str = "GET /user_management/organization_memberships";

/// The app against `fake` with one pooled connection, given up on after a second.
async fn app_with_one_connection(fake: &FakeWorkos) -> TestApp {
    with_workos(TestApp::builder(), fake)
        .one_pooled_connection()
        .spawn()
        .await
}

/// Ada, a member of Alpha (admin) and Beta in WorkOS, signed in to Beta: the public ids of
/// Alpha and Beta.
async fn ada_in_beta(fake: &FakeWorkos, ada: &Client) -> (Value, Value) {
    let alpha = fake.create_organization("Alpha");
    let beta = fake.create_organization("Beta");
    let user = fake.create_user("ada@x.test");
    fake.add_membership(&user.id, &alpha, "admin");
    fake.add_membership(&user.id, &beta, "member");
    let result = web_sign_in(ada, fake, "ada@x.test").await;
    let offered = result["organizations"].as_array().unwrap();
    let id = |name: &str| offered.iter().find(|o| o["name"] == name).unwrap()["id"].clone();
    let (alpha, beta) = (id("Alpha"), id("Beta"));
    ada.ok(
        "/auth/select-organization",
        json!({ "selectionId": result["selectionId"], "organizationId": beta }),
    )
    .await;
    (alpha, beta)
}

/// While WorkOS stalls on the `count`th `call`, a request that needs the only pooled connection
/// (starting a sign-in writes its state) is answered at once.
async fn others_are_served(app: &TestApp, fake: &FakeWorkos, call: &str, count: usize) {
    fake.received(call, count).await;
    app.browser()
        .ok_within(
            Duration::from_millis(900),
            "/auth/start-oauth",
            json!({ "client": "web" }),
        )
        .await;
}

#[tokio::test]
async fn switching_organization_holds_no_connection_while_workos_exchanges_the_token() {
    let fake = FakeWorkos::start().await;
    let app = app_with_one_connection(&fake).await;
    let ada = app.browser();
    let (alpha, _) = ada_in_beta(&fake, &ada).await;
    let alpha_id = alpha.clone();

    let exchanges = fake.count_calls(AUTHENTICATE);
    fake.delay_calls(AUTHENTICATE, Duration::from_secs(2));
    let switch = tokio::spawn({
        let ada = ada.clone();
        async move {
            ada.post("/auth/switch-organization", json!({ "organizationId": alpha }))
                .await
        }
    });
    others_are_served(&app, &fake, AUTHENTICATE, exchanges + 1).await;
    let (status, me) = switch.await.unwrap();
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["currentOrganizationId"], alpha_id);
}

#[tokio::test]
async fn finishing_a_sign_in_holds_no_connection_while_workos_is_asked_for_the_membership() {
    let fake = FakeWorkos::start().await;
    let app = app_with_one_connection(&fake).await;
    let acme = fake.create_organization("Acme");
    let cy = fake.create_user("cy@acme.test");
    fake.add_membership(&cy.id, &acme, "moderator");

    // Acme and Cy's membership are new here: finishing asks WorkOS for the membership.
    fake.delay_calls(FIND_MEMBERSHIP, Duration::from_secs(2));
    let cy = app.browser();
    let (result, ()) = tokio::join!(
        web_sign_in(&cy, &fake, "cy@acme.test"),
        others_are_served(&app, &fake, FIND_MEMBERSHIP, 1),
    );
    assert_eq!(
        result["user"]["organizationMemberships"][0]["role"], "moderator",
        "{result}"
    );
}

#[tokio::test]
async fn two_switches_of_one_session_spend_its_refresh_token_one_at_a_time() {
    let (app, fake) = app_with_workos().await;
    let ada = app.browser();
    let (alpha, beta) = ada_in_beta(&fake, &ada).await;

    // Both reach the server while the first one's exchange is slow: the second waits for the
    // lease, then spends the token the first stored (the one it read would be refused).
    fake.delay_calls(AUTHENTICATE, Duration::from_millis(300));
    let exchanges = fake.count_calls(AUTHENTICATE);
    let switch = |org: &Value| {
        let (ada, body) = (ada.clone(), json!({ "organizationId": org }));
        async move { ada.post("/auth/switch-organization", body).await }
    };
    let (first, second) = tokio::join!(switch(&alpha), switch(&alpha));
    assert_eq!(first.0, 200, "{}", first.1);
    assert_eq!(second.0, 200, "{}", second.1);
    assert_eq!(fake.count_calls(AUTHENTICATE), exchanges + 2);

    // The token stored last is live at WorkOS: the session goes on.
    let me = ada
        .ok("/auth/switch-organization", json!({ "organizationId": beta }))
        .await;
    assert_eq!(me["currentOrganizationId"], beta);
    let who: Value = whoami(&ada).await.json().await.unwrap();
    assert_eq!(who["role"], "member");
    let leases: i64 = sqlx::query_scalar("SELECT count(*) FROM user_sessions WHERE lease_id IS NOT NULL")
        .fetch_one(app.db())
        .await
        .unwrap();
    assert_eq!(leases, 0, "every lease was finished");
}

#[tokio::test]
async fn a_lease_its_holder_never_gave_back_is_waited_out_then_refused() {
    let (app, fake) = app_with_workos().await;
    let ada = app.browser();
    let (alpha, beta) = ada_in_beta(&fake, &ada).await;
    let hold = |seconds: f64| {
        sqlx::query(
            "UPDATE user_sessions
             SET lease_id = gen_random_uuid(), lease_until = now() + make_interval(secs => $1)",
        )
        .bind(seconds)
        .execute(app.db())
    };

    // A holder that crashed a moment ago: its lease expires, then the switch goes through.
    hold(1.0).await.unwrap();
    let started = Instant::now();
    let me = ada
        .ok("/auth/switch-organization", json!({ "organizationId": alpha }))
        .await;
    assert_eq!(me["currentOrganizationId"], alpha);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "it waited for the lease"
    );

    // One that holds it for longer than a request waits: 409, retry later; nothing changed.
    hold(3600.0).await.unwrap();
    let response = ada
        .send("/auth/switch-organization", &json!({ "organizationId": beta }))
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(
        problem_type(&qubital_testkit::problem(response).await),
        "session-busy"
    );
    let who: Value = whoami(&ada).await.json().await.unwrap();
    assert_eq!(who["role"], "admin", "still in Alpha");
}
