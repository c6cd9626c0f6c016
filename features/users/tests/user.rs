//! `/user/get` and `/user/update`.

extern crate qubital_users;

mod support;

use qubital_auth::test_support::{sign_in, workos_admin};
use serde_json::json;
use support::*;

#[tokio::test]
async fn the_user_dto_shows_memberships_and_the_current_organization() {
    let app = qubital_testkit::spawn_app().await;
    app.browser().fails("/user/get", json!({}), 401).await;
    sign_in(&app.address, "ada@dev.test", "First", "admin").await;
    let ada = sign_in(&app.address, "ada@dev.test", "Second", "admin").await;
    let me = ada.user.clone();
    let got = ada.ok("/user/get", json!({})).await;
    assert_eq!(got, me);
    assert_eq!(got["email"], "ada@dev.test");
    assert!(
        got["id"].as_str().unwrap().parse::<i64>().is_ok(),
        "stringified internal id"
    );
    assert!(got.get("avatarUrl").is_some(), "avatarUrl is always present");
    let memberships = got["organizationMemberships"].as_array().unwrap();
    assert_eq!(memberships.len(), 2);
    let current = memberships
        .iter()
        .find(|m| m["organization"]["id"] == got["currentOrganizationId"])
        .unwrap();
    assert_eq!(current["organization"]["name"], "Second");
    assert!(current["organization"].get("logoUrl").is_some());
}

#[tokio::test]
async fn display_names_are_per_organization_and_names_global() {
    let app = qubital_testkit::spawn_app().await;
    let ada = sign_in(&app.address, "ada@dev.test", "First", "admin").await;
    let first = ada.user.clone();
    let me = ada
        .ok(
            "/user/update",
            json!({ "displayName": "  Captain Ada ", "firstName": "Ada", "lastName": "Lovelace" }),
        )
        .await;
    assert_eq!(me["displayName"], "Captain Ada");
    assert_eq!(me["firstName"], "Ada");
    assert_eq!(me["lastName"], "Lovelace");

    // In another organization the display name falls back to the full name.
    let ada = sign_in(&app.address, "ada@dev.test", "Second", "admin").await;
    assert_eq!(ada.user["displayName"], "Ada Lovelace");
    ada.ok(
        "/auth/switch-organization",
        json!({ "organizationId": first["currentOrganizationId"] }),
    )
    .await;
    let back = ada.ok("/user/get", json!({})).await;
    assert_eq!(back["displayName"], "Captain Ada");

    // Empty resets; omitted leaves alone.
    let me = ada
        .ok("/user/update", json!({ "displayName": "", "lastName": "" }))
        .await;
    assert_eq!(me["displayName"], "Ada");
    assert_eq!(me["firstName"], "Ada");
    assert!(me["lastName"].is_null());

    for bad in [
        json!({ "displayName": "x".repeat(101) }),
        json!({ "firstName": "a\u{7}b" }),
        json!({ "lastName": { "x": 1 } }),
        json!({ "displayName": "y".repeat(401) }),
    ] {
        ada.fails("/user/update", bad, 422).await;
    }
}

#[tokio::test]
async fn names_are_kept_in_step_with_workos() {
    let (app, fake) = app_with_workos().await;
    let ada = workos_admin(&app.address, &fake, "ada@acme.test", "Acme").await;
    let me = ada
        .ok("/user/update", json!({ "firstName": "Ada", "lastName": "King" }))
        .await;
    assert_eq!(me["displayName"], "Ada King");
    let user = fake.state.lock().unwrap().users[0].clone();
    assert_eq!(user.first_name.as_deref(), Some("Ada"));
    assert_eq!(user.last_name.as_deref(), Some("King"));
    assert_eq!(fake.count_calls("PUT /user_management/users/"), 1);
    // A display name alone stays local.
    ada.ok("/user/update", json!({ "displayName": "Countess" })).await;
    assert_eq!(fake.count_calls("PUT /user_management/users/"), 1);
}
