//! The fake's Events API, list endpoints and webhook deliveries, through the client the
//! backend uses: what a WorkOS mirror relies on.

use std::time::{Duration, SystemTime};

use platform_workos::{
    events::EventsError,
    fake::{webhook_delivery, wire, FakeWorkos},
};
use serde_json::json;

const ORGANIZATION_TYPES: &[&str] = &[
    "organization.created",
    "organization.updated",
    "organization.deleted",
];

fn types(events: &[platform_workos::events::Event]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_str()).collect()
}

#[tokio::test]
async fn every_change_is_an_event_served_in_order_after_the_cursor_and_filtered_by_type() {
    let fake = FakeWorkos::start().await;
    let workos = fake.workos();
    let org = fake.create_organization("Acme");
    let user = fake.create_user("ada@acme.test").id;
    let membership = fake.add_membership(&user, &org, "admin");
    fake.rename_organization(&org, "Acme GmbH");
    // A change made through the API is an event too.
    workos.rename_organization(&org, "Acme AG").await.unwrap();
    fake.update_membership(&membership, "member", "inactive");
    fake.delete_membership(&membership);
    fake.delete_organization(&org);

    let all = [
        "organization.created",
        "user.created",
        "organization_membership.created",
        "organization.updated",
        "organization.updated",
        "organization_membership.updated",
        "organization_membership.deleted",
        "organization.deleted",
    ];
    let every_type: Vec<&str> = all.to_vec();
    let page = workos.list_events(&every_type, None, None, 100).await.unwrap();
    assert_eq!(types(&page.events), all);
    // Each version of an object is later than the one before, and the event carries it.
    let organization_versions: Vec<&str> = page
        .events
        .iter()
        .filter(|e| e.event.starts_with("organization."))
        .map(|e| e.data["updated_at"].as_str().unwrap())
        .collect();
    assert!(
        organization_versions.windows(2).all(|w| w[0] < w[1]),
        "{organization_versions:?}"
    );
    assert_eq!(page.events[4].data["name"], "Acme AG");
    assert_eq!(page.events[5].data["status"], "inactive");

    // Pages of two, each after the last event of the one before.
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let page = workos
            .list_events(&every_type, cursor.as_deref(), None, 2)
            .await
            .unwrap();
        if page.events.is_empty() {
            break;
        }
        cursor = page.events.last().map(|e| e.id.clone());
        seen.extend(page.events.into_iter().map(|e| e.event));
    }
    assert_eq!(seen, all);

    // Only the types asked for; the cursor still places the page in the whole stream.
    let first = workos.list_events(&every_type, None, None, 1).await.unwrap();
    let organizations = workos
        .list_events(ORGANIZATION_TYPES, Some(&first.events[0].id), None, 100)
        .await
        .unwrap();
    assert_eq!(
        types(&organizations.events),
        [
            "organization.updated",
            "organization.updated",
            "organization.deleted"
        ]
    );

    // Unless told to serve every type.
    fake.record_event(
        "dsync.activated",
        json!({"object": "directory", "id": "directory_1"}),
    );
    fake.serve_all_event_types();
    let page = workos
        .list_events(ORGANIZATION_TYPES, None, None, 100)
        .await
        .unwrap();
    assert_eq!(page.events.len(), all.len() + 1);
}

#[tokio::test]
async fn events_older_than_30_days_are_gone_and_a_cursor_on_one_is_refused() {
    let fake = FakeWorkos::start().await;
    let workos = fake.workos();
    fake.create_organization("Old");
    let old = workos
        .list_events(ORGANIZATION_TYPES, None, None, 10)
        .await
        .unwrap();
    assert_eq!(old.events.len(), 1);

    fake.advance_clock(chrono::Duration::days(31));
    fake.create_organization("New");
    let page = workos
        .list_events(ORGANIZATION_TYPES, None, None, 10)
        .await
        .unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].data["name"], "New");
    match workos
        .list_events(ORGANIZATION_TYPES, Some(&old.events[0].id), None, 10)
        .await
    {
        Err(EventsError::PositionRejected(_)) => {}
        other => panic!("an expired cursor must be refused: {other:?}"),
    }
    // From a start in the range, as after a backfill.
    let since = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let page = workos
        .list_events(ORGANIZATION_TYPES, None, Some(&since), 10)
        .await
        .unwrap();
    assert_eq!(page.events.len(), 1);
}

#[tokio::test]
async fn lists_page_with_after_and_memberships_of_every_status_are_listed_when_asked() {
    let fake = FakeWorkos::start().await;
    let workos = fake.workos();
    let org = fake.create_organization("Big");
    let mut inactive = 0;
    for i in 0..130 {
        let user = fake.create_user(&format!("u{i}@big.test")).id;
        let membership = fake.add_membership(&user, &org, "member");
        if i % 10 == 0 {
            fake.update_membership(&membership, "member", "inactive");
            inactive += 1;
        }
    }
    // More than one page of 100.
    let users = workos.list_all_users().await.unwrap();
    assert_eq!(users.len(), 130);
    let emails: Vec<&str> = users.iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails[0], "u0@big.test", "oldest first, as asked");
    let memberships = workos.list_all_memberships(&org).await.unwrap();
    assert_eq!(memberships.len(), 130);
    assert_eq!(
        memberships.iter().filter(|m| m["status"] == "inactive").count(),
        inactive
    );
    assert_eq!(workos.list_all_organizations().await.unwrap().len(), 1);
    // WorkOS lists active memberships only, unless asked.
    let user = users[0]["id"].as_str().unwrap();
    assert!(workos.find_membership(user, &org).await.unwrap().is_none());
}

#[tokio::test]
async fn a_rate_limit_is_a_429_with_retry_after() {
    let fake = FakeWorkos::start().await;
    fake.rate_limit(5);
    match fake
        .workos()
        .list_events(ORGANIZATION_TYPES, None, None, 10)
        .await
    {
        Err(EventsError::RateLimited(retry_after)) => {
            assert_eq!(retry_after, Some(Duration::from_secs(1)))
        }
        other => panic!("expected a rate limit: {other:?}"),
    }
}

#[test]
fn a_webhook_delivery_is_signed_as_workos_signs() {
    let event = wire::event(
        "event_1",
        "organization.created",
        wire::organization(
            "org_1",
            "Acme",
            "2026-11-01T00:00:00.000Z",
            "2026-11-01T00:00:00.000Z",
        ),
        "2026-11-01T00:00:00.000Z",
    );
    let delivery = webhook_delivery("whsec_test", &event);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&delivery.body).unwrap(),
        event
    );
    platform_workos::webhook::verify(
        b"whsec_test",
        &delivery.signature,
        &delivery.body,
        Duration::from_secs(300),
        SystemTime::now(),
    )
    .expect("a valid signature");
}
