//! A removed member stays removed: the invite link they joined through no longer works
//! (docs/security.md).

extern crate qubital_organizations;
extern crate qubital_users;

mod support;

use qubital_auth::test_support::{web_sign_in, workos_admin};
use serde_json::json;
use support::*;

#[tokio::test]
async fn a_removed_member_cannot_rejoin_through_the_old_invite_link() {
    let (app, fake) = app_with_workos().await;
    let ada = workos_admin(&app.address, &fake, "ada@acme.test", "Acme").await;
    let bob = workos_admin(&app.address, &fake, "bob@acme.test", "Bob's own").await;
    let old = ada.ok("/invitations/link/get", json!({})).await;
    let joined = join_by_link(&ada, &bob).await;
    let bob_id = joined["id"].as_str().unwrap().to_owned();

    let response = ada.send(&format!("/members/{bob_id}/remove"), &json!({})).await;
    assert_eq!(response.status(), 204);

    // Bob signs in again (his own organization) and tries the link he joined through.
    let again = web_sign_in(&bob, &fake, "bob@acme.test").await;
    assert_eq!(again["status"], "signed-in", "{again}");
    bob.fails(
        "/invitations/link/join",
        json!({ "inviteId": old["inviteId"] }),
        404,
    )
    .await;
    // The organization's link is a new one; the admin shares it with whom they choose.
    let new = ada.ok("/invitations/link/get", json!({})).await;
    assert_ne!(new["inviteId"], old["inviteId"]);
    let list = ada.ok("/members/list", json!({})).await;
    assert_eq!(list["page"]["total"], 1);
}
