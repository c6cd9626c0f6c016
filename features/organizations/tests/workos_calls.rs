//! Changing a member's role, removing a member, renaming the organization and sending or
//! revoking an invitation call WorkOS; no database transaction or pooled connection is held
//! across that call. With a pool of one connection and a WorkOS that stalls,
//! other requests are still served; a last-admin race settled after the WorkOS calls leaves
//! WorkOS and the mirror in step.

extern crate qubital_organizations;
extern crate qubital_users;

mod support;

use std::time::Duration;

use platform_workos::fake::FakeWorkos;
use qubital_auth::test_support::workos_admin;
use qubital_testkit::{Client, TestApp};
use serde_json::json;
use support::*;

const MEMBERSHIP_WRITE: &str = "/user_management/organization_memberships/";

/// While WorkOS stalls on the `count`th `call`, another request of the organization is answered
/// at once (it needs the only pooled connection).
async fn others_are_served(ada: &Client, fake: &FakeWorkos, call: &str, count: usize) {
    fake.received(call, count).await;
    ada.ok_within(Duration::from_millis(900), "/members/list", json!({}))
        .await;
}

#[tokio::test]
async fn a_stalled_workos_holds_no_database_connection() {
    let fake = FakeWorkos::start().await;
    let app = with_workos(TestApp::builder(), &fake)
        .one_pooled_connection()
        .spawn()
        .await;
    let ada = workos_admin(&app.address, &fake, "ada@acme.test", "Acme").await;
    let bob = workos_admin(&app.address, &fake, "bob@acme.test", "Bob's own").await;
    let bob_id = join_by_link(&ada, &bob).await["id"].as_str().unwrap().to_owned();
    fake.delay_writes(Duration::from_secs(3));

    let update = tokio::spawn({
        let ada = ada.clone();
        let path = format!("/members/{bob_id}/update");
        async move { ada.post(&path, json!({"role": "moderator"})).await }
    });
    others_are_served(&ada, &fake, &format!("PUT {MEMBERSHIP_WRITE}"), 1).await;
    let (status, member) = update.await.unwrap();
    assert_eq!(status, 200, "{member}");
    assert_eq!(member["role"], "moderator");

    let remove = tokio::spawn({
        let ada = ada.clone();
        let path = format!("/members/{bob_id}/remove");
        async move { ada.post(&path, json!({})).await }
    });
    others_are_served(&ada, &fake, &format!("DELETE {MEMBERSHIP_WRITE}"), 1).await;
    let (status, body) = remove.await.unwrap();
    assert_eq!(status, 204, "{body}");
    let list = ada.ok("/members/list", json!({})).await;
    assert_eq!(list["page"]["total"], 1);

    let org_id = ada.ok("/user/get", json!({})).await["organizationMemberships"][0]["organization"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rename = tokio::spawn({
        let ada = ada.clone();
        let path = format!("/organizations/{org_id}/update");
        async move { ada.post(&path, json!({"name": "Acme Renamed"})).await }
    });
    others_are_served(&ada, &fake, "PUT /organizations/", 1).await;
    let (status, org) = rename.await.unwrap();
    assert_eq!(status, 200, "{org}");
    assert_eq!(org["name"], "Acme Renamed");

    let invite = tokio::spawn({
        let ada = ada.clone();
        async move {
            ada.post("/invitations/create", json!({"email": "cy@acme.test"}))
                .await
        }
    });
    others_are_served(&ada, &fake, "POST /user_management/invitations", 1).await;
    let (status, invitation) = invite.await.unwrap();
    assert_eq!(status, 200, "{invitation}");
    let revoke = tokio::spawn({
        let ada = ada.clone();
        let path = format!("/invitations/{}/revoke", invitation["id"].as_str().unwrap());
        async move { ada.post(&path, json!({})).await }
    });
    // The revoke (the send has no slash after `invitations`).
    others_are_served(&ada, &fake, "POST /user_management/invitations/", 1).await;
    let (status, revoked) = revoke.await.unwrap();
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["state"], "revoked");
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin_in_workos_and_here() {
    let (app, fake) = app_with_workos().await;
    let ada = workos_admin(&app.address, &fake, "ada@acme.test", "Acme").await;
    let bob = workos_admin(&app.address, &fake, "bob@acme.test", "Bob's own").await;
    let bob_id = join_by_link(&ada, &bob).await["id"].as_str().unwrap().to_owned();
    let ada_id = ada.ok("/user/get", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ada.ok(&format!("/members/{bob_id}/update"), json!({"role": "admin"}))
        .await;

    // Both pass the first check (two admins), both reach WorkOS, which is slow.
    fake.delay_writes(Duration::from_millis(500));
    let (demote_bob, demote_ada) = (
        format!("/members/{bob_id}/update"),
        format!("/members/{ada_id}/update"),
    );
    let (a, b) = tokio::join!(
        ada.post(&demote_bob, json!({"role": "member"})),
        bob.post(&demote_ada, json!({"role": "member"})),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");

    // One admin here, and WorkOS agrees (the refused change was put back there).
    let list = ada.ok("/members/list", json!({})).await;
    let admins: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "admin")
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(admins.len(), 1, "{list}");
    let acme = fake
        .organizations()
        .into_iter()
        .find(|(_, name)| name == "Acme")
        .unwrap()
        .0;
    let workos_admins = fake
        .memberships()
        .into_iter()
        .filter(|m| m.organization_id == acme && m.role_slug == "admin")
        .count();
    assert_eq!(workos_admins, 1);
}
