//! `POST /webhooks/workos` as WorkOS calls it: signatures, replays, late events, and the
//! effects of a change on sessions.

extern crate qubital_eventsync;

mod support;

use std::time::{Duration, SystemTime};

use platform_workos::fake::wire;
use qubital_testkit::TestApp;
use serde_json::{json, Value};
use support::{app_with_webhooks as app, deliver, deliver_signed, outcome, WEBHOOK_SECRET as SECRET};

/// `time` (`HH:MM:SS.mmmZ`) on day `day` of a recent stretch of days (it starts ten days ago):
/// the housekeeping job prunes tombstones and inbox rows older than 35 days, so fixed dates
/// would stop testing anything once they are that old.
fn at(day: i64, time: &str) -> String {
    let date = (chrono::Utc::now() - chrono::Duration::days(10 - day)).date_naive();
    format!("{date}T{time}")
}

fn event(id: &str, kind: &str, data: Value, at: &str) -> Value {
    wire::event(id, kind, data, at)
}

fn organization(id: &str, name: &str, updated_at: &str) -> Value {
    wire::organization(id, name, &at(1, "00:00:00.000Z"), updated_at)
}

async fn organization_name(app: &TestApp, workos_id: &str) -> Option<String> {
    sqlx::query_scalar("SELECT name FROM organizations WHERE workos_org_id = $1")
        .bind(workos_id)
        .fetch_optional(app.db())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_signed_event_is_applied_once_and_replays_change_nothing() {
    let app = app().await;
    let client = app.browser();
    let created = event(
        "event_1",
        "organization.created",
        organization("org_1", "Acme", &at(2, "10:00:00.000Z")),
        &at(2, "10:00:00.000Z"),
    );
    assert_eq!(outcome(&client, &created).await, "applied");
    assert_eq!(organization_name(&app, "org_1").await.as_deref(), Some("Acme"));

    // WorkOS retries deliveries: the same event id is a duplicate, even with a fresh signature.
    assert_eq!(outcome(&client, &created).await, "duplicate");
    let organizations: i64 = sqlx::query_scalar("SELECT count(*) FROM organizations")
        .fetch_one(app.db())
        .await
        .unwrap();
    assert_eq!(organizations, 1);
}

#[tokio::test]
async fn bad_signatures_are_401_problems_and_change_nothing() {
    let app = app().await;
    let client = app.browser();
    let body = serde_json::to_vec(&event(
        "event_9",
        "organization.created",
        organization("org_9", "Evil", &at(2, "10:00:00.000Z")),
        &at(2, "10:00:00.000Z"),
    ))
    .unwrap();
    let now = SystemTime::now();
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'E').unwrap();
    tampered[at] = b'e';
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "tampered body",
            tampered,
            platform_workos::webhook::sign(SECRET.as_bytes(), &body, now),
        ),
        (
            "wrong secret",
            body.clone(),
            platform_workos::webhook::sign(b"not-the-secret", &body, now),
        ),
        (
            "stale timestamp",
            body.clone(),
            platform_workos::webhook::sign(SECRET.as_bytes(), &body, now - Duration::from_secs(3600)),
        ),
        ("garbage header", body.clone(), "t=abc, v1=xyz".to_owned()),
    ];
    for (case, payload, signature) in cases {
        let (status, answer) = deliver_signed(&client, &payload, Some(&signature)).await;
        assert_eq!(status, 401, "{case}");
        assert_eq!(
            answer["type"], "https://qubital.app/errors/invalid-signature",
            "{case}"
        );
    }
    let (unsigned, _) = deliver_signed(&client, &body, None).await;
    assert_eq!(unsigned, 401);
    assert_eq!(organization_name(&app, "org_9").await, None);

    // Properly signed, but not an event: a 400, not a 500.
    let junk = b"{\"hello\": \"world\"}";
    let (status, answer) = deliver_signed(
        &client,
        junk,
        Some(&platform_workos::webhook::sign(SECRET.as_bytes(), junk, now)),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["type"], "https://qubital.app/errors/malformed-event");
}

#[tokio::test]
async fn late_older_events_do_not_overwrite_newer_state_nor_resurrect_deleted_objects() {
    let app = app().await;
    let client = app.browser();
    let newer = event(
        "event_3",
        "organization.updated",
        organization("org_2", "New Name", &at(2, "12:00:00.000Z")),
        &at(2, "12:00:00.000Z"),
    );
    let older = event(
        "event_2",
        "organization.updated",
        organization("org_2", "Old Name", &at(2, "11:00:00.000Z")),
        &at(2, "11:00:00.000Z"),
    );
    assert_eq!(outcome(&client, &newer).await, "applied");
    assert_eq!(outcome(&client, &older).await, "stale");
    assert_eq!(
        organization_name(&app, "org_2").await.as_deref(),
        Some("New Name")
    );

    let deleted = event(
        "event_5",
        "organization.deleted",
        organization("org_2", "New Name", &at(2, "13:00:00.000Z")),
        &at(2, "13:00:00.000Z"),
    );
    assert_eq!(outcome(&client, &deleted).await, "applied");
    let late_update = event(
        "event_4",
        "organization.updated",
        organization("org_2", "Zombie", &at(2, "12:30:00.000Z")),
        &at(2, "12:30:00.000Z"),
    );
    assert_eq!(outcome(&client, &late_update).await, "stale");
    assert_eq!(organization_name(&app, "org_2").await, None);

    // Deleting what is not there is fine; event types the mirror does not follow are skipped.
    let unknown_delete = event(
        "event_6",
        "user.deleted",
        json!({"id": "user_nobody", "email": "x@y.z", "updated_at": &at(2, "13:00:00.000Z")}),
        &at(2, "13:00:00.000Z"),
    );
    assert_eq!(outcome(&client, &unknown_delete).await, "stale");
    let unrelated = event(
        "event_7",
        "connection.activated",
        json!({"id": "conn_1"}),
        &at(2, "13:00:00.000Z"),
    );
    assert_eq!(outcome(&client, &unrelated).await, "skipped");
}

async fn live_sessions(app: &TestApp, user_workos_id: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM user_sessions s JOIN users u ON u.id = s.user_id WHERE u.workos_id = $1 AND s.ended_at IS NULL",
    )
    .bind(user_workos_id)
    .fetch_one(app.db())
    .await
    .unwrap()
}

#[tokio::test]
async fn removing_a_membership_or_deleting_a_user_ends_their_sessions_and_renames_show_everywhere() {
    let app = app().await;
    let client = app.browser();
    let t = &at(2, "10:00:00.000Z");
    let user = |id: &str, email: &str| json!({"object": "user", "id": id, "email": email, "email_verified": true, "created_at": t, "updated_at": t});
    let membership = |id: &str, user: &str, org: &str, at: &str| json!({"object": "organization_membership", "id": id, "user_id": user, "organization_id": org, "status": "active", "role": {"slug": "member"}, "created_at": t, "updated_at": at});
    for (i, e) in [
        event(
            "event_a1",
            "organization.created",
            organization("org_s", "Sessions Inc", t),
            t,
        ),
        event("event_a2", "user.created", user("user_a", "a@sessions.test"), t),
        event("event_a3", "user.created", user("user_b", "b@sessions.test"), t),
        event(
            "event_a4",
            "organization_membership.created",
            membership("om_a", "user_a", "org_s", t),
            t,
        ),
        event(
            "event_a5",
            "organization_membership.created",
            membership("om_b", "user_b", "org_s", t),
            t,
        ),
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(outcome(&client, e).await, "applied", "event {i}");
    }
    // Each user has a live session in the organization.
    sqlx::query(
        "INSERT INTO user_sessions (session_id, user_id, org_id, kind, expires_at)
         SELECT gen_random_uuid(), u.id, o.id, 'workos', now() + interval '1 day'
         FROM users u, organizations o WHERE u.workos_id IN ('user_a', 'user_b') AND o.workos_org_id = 'org_s'",
    )
    .execute(app.db())
    .await
    .unwrap();
    assert_eq!(
        (
            live_sessions(&app, "user_a").await,
            live_sessions(&app, "user_b").await
        ),
        (1, 1)
    );

    let later = &at(2, "11:00:00.000Z");
    let removed = event(
        "event_b1",
        "organization_membership.deleted",
        membership("om_a", "user_a", "org_s", later),
        later,
    );
    assert_eq!(outcome(&client, &removed).await, "applied");
    assert_eq!(
        live_sessions(&app, "user_a").await,
        0,
        "a removed member keeps no session in the organization"
    );
    assert_eq!(live_sessions(&app, "user_b").await, 1);

    let gone = event(
        "event_b2",
        "user.deleted",
        json!({"object": "user", "id": "user_b", "email": "b@sessions.test", "updated_at": later}),
        later,
    );
    assert_eq!(outcome(&client, &gone).await, "applied");
    let sessions_left: i64 = sqlx::query_scalar("SELECT count(*) FROM user_sessions WHERE ended_at IS NULL")
        .fetch_one(app.db())
        .await
        .unwrap();
    assert_eq!(sessions_left, 0, "a deleted user keeps no session");

    let renamed = event(
        "event_b3",
        "organization.updated",
        organization("org_s", "Sessions GmbH", later),
        later,
    );
    assert_eq!(outcome(&client, &renamed).await, "applied");
    assert_eq!(
        organization_name(&app, "org_s").await.as_deref(),
        Some("Sessions GmbH")
    );
}

#[tokio::test]
async fn without_a_secret_the_endpoint_is_disabled_in_development() {
    let app = TestApp::builder().spawn().await;
    let (status, answer) = deliver(&app.browser(), &json!({})).await;
    assert_eq!(status, 503);
    assert_eq!(answer["type"], "https://qubital.app/errors/integration-disabled");
}

#[tokio::test]
async fn a_membership_that_outran_its_user_and_organization_is_applied_when_it_comes_back() {
    let app = app().await;
    let client = app.browser();
    let t = &at(3, "10:00:00.000Z");
    let membership = event(
        "event_m1",
        "organization_membership.created",
        json!({"object": "organization_membership", "id": "om_early", "user_id": "user_e", "organization_id": "org_e", "status": "active", "role": {"slug": "admin"}, "created_at": t, "updated_at": t}),
        t,
    );
    // The webhook delivers the membership first: nothing to attach it to yet.
    assert_eq!(outcome(&client, &membership).await, "skipped");
    for e in [
        event(
            "event_m2",
            "organization.created",
            organization("org_e", "Early", t),
            t,
        ),
        event(
            "event_m3",
            "user.created",
            json!({"object": "user", "id": "user_e", "email": "e@early.test", "email_verified": true, "created_at": t, "updated_at": t}),
            t,
        ),
    ] {
        assert_eq!(outcome(&client, &e).await, "applied");
    }
    // The same event again (the ordered stream, or WorkOS retrying): now it applies, once.
    assert_eq!(outcome(&client, &membership).await, "applied");
    assert_eq!(outcome(&client, &membership).await, "duplicate");
    let role: Option<String> = sqlx::query_scalar(
        "SELECT m.role FROM user_organizations m JOIN users u ON u.id = m.user_id
         WHERE u.workos_id = 'user_e' AND m.workos_membership_id = 'om_early'",
    )
    .fetch_optional(app.db())
    .await
    .unwrap();
    assert_eq!(role.as_deref(), Some("admin"));
}

#[tokio::test]
async fn a_late_delete_of_an_older_membership_leaves_the_newer_one() {
    let app = app().await;
    let client = app.browser();
    let t = &at(4, "10:00:00.000Z");
    let later = &at(4, "12:00:00.000Z");
    let membership = |id: &str, at: &str| json!({"object": "organization_membership", "id": id, "user_id": "user_l", "organization_id": "org_l", "status": "active", "role": {"slug": "member"}, "created_at": at, "updated_at": at});
    for e in [
        event(
            "event_l1",
            "organization.created",
            organization("org_l", "Late", t),
            t,
        ),
        event(
            "event_l2",
            "user.created",
            json!({"object": "user", "id": "user_l", "email": "l@late.test", "email_verified": true, "created_at": t, "updated_at": t}),
            t,
        ),
        // The user was removed (om_old) and added again (om_new); WorkOS delivers the new
        // membership first and retries the old removal afterwards.
        event(
            "event_l3",
            "organization_membership.created",
            membership("om_new", later),
            later,
        ),
    ] {
        assert_eq!(outcome(&client, &e).await, "applied");
    }
    sqlx::query(
        "INSERT INTO user_sessions (session_id, user_id, org_id, kind, expires_at)
         SELECT gen_random_uuid(), u.id, o.id, 'workos', now() + interval '1 day'
         FROM users u, organizations o WHERE u.workos_id = 'user_l' AND o.workos_org_id = 'org_l'",
    )
    .execute(app.db())
    .await
    .unwrap();
    let late_delete = event(
        "event_l4",
        "organization_membership.deleted",
        membership("om_old", &at(4, "11:00:00.000Z")),
        &at(4, "11:00:00.000Z"),
    );
    assert_eq!(outcome(&client, &late_delete).await, "stale");
    let kept: Vec<String> = sqlx::query_scalar("SELECT workos_membership_id FROM user_organizations")
        .fetch_all(app.db())
        .await
        .unwrap();
    assert_eq!(kept, ["om_new"]);
    assert_eq!(
        live_sessions(&app, "user_l").await,
        1,
        "the member stays signed in"
    );
}
