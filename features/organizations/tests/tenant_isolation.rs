//! Every org-scoped operation, called by the admin of another organization with the ids of
//! the first: 404 (or 403), never the data, and nothing changes.

extern crate qubital_organizations;
extern crate qubital_users;

mod support;

use qubital_auth::test_support::{web_sign_in, workos_admin};
use serde_json::{json, Value};
use support::*;

#[tokio::test]
async fn another_organizations_admin_gets_404_or_403_never_the_data() {
    let (app, fake) = app_with_workos().await;

    // Organization A: ada (admin), bob (member), a pending invitation, an invite link.
    let ada = workos_admin(&app.address, &fake, "ada@a.test", "Org A").await;
    let ada_me = ada.user.clone();
    let org_a = ada_me["currentOrganizationId"].as_str().unwrap().to_owned();
    let ada_id = ada_me["id"].as_str().unwrap().to_owned();
    let link_a = ada.ok("/invitations/link/get", json!({})).await["inviteId"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob = app.browser();
    let result = web_sign_in(&bob, &fake, "bob@a.test").await;
    let bob_me = bob
        .ok(
            "/auth/sign-up",
            json!({ "signUpId": result["signUpId"], "inviteId": link_a }),
        )
        .await;
    let bob_id = bob_me["id"].as_str().unwrap().to_owned();
    let invitation = ada
        .ok("/invitations/create", json!({ "email": "carol@a.test" }))
        .await;
    let invitation_id = invitation["id"].as_str().unwrap().to_owned();
    let carol_token = fake.invitations()[0].token.clone();

    // Organization B: eve, its admin.
    let eve = workos_admin(&app.address, &fake, "eve@b.test", "Org B").await;
    let eve_me = eve.user.clone();
    let org_b = eve_me["currentOrganizationId"].as_str().unwrap().to_owned();

    let secrets = [
        "ada@a.test",
        "bob@a.test",
        "carol@a.test",
        "Org A",
        org_a.as_str(),
        link_a.as_str(),
        invitation_id.as_str(),
    ];
    let never_leaks = |value: &Value| {
        // A problem's `instance` echoes the caller's own request path; the rest must not know A.
        let mut value = value.clone();
        if let Some(map) = value.as_object_mut() {
            map.remove("instance");
        }
        let text = value.to_string();
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    };

    // Operations naming A's objects: 404.
    let by_id: Vec<(String, Value)> = vec![
        (format!("/organizations/{org_a}/get"), json!({})),
        (
            format!("/organizations/{org_a}/update"),
            json!({ "name": "Taken" }),
        ),
        (format!("/members/{bob_id}/update"), json!({ "role": "admin" })),
        (format!("/members/{ada_id}/update"), json!({ "role": "guest" })),
        (format!("/members/{bob_id}/remove"), json!({})),
        (format!("/members/{ada_id}/remove"), json!({})),
        (format!("/invitations/{invitation_id}/revoke"), json!({})),
        (
            "/auth/switch-organization".to_owned(),
            json!({ "organizationId": org_a }),
        ),
        ("/invitations/accept".to_owned(), json!({ "token": carol_token })),
    ];
    for (path, body) in &by_id {
        let problem = eve.fails(path, body.clone(), 404).await;
        never_leaks(&problem);
    }

    // Operations on "the current organization" only ever show B.
    for path in ["/members/list", "/invitations/list", "/invitations/link/get"] {
        let body = eve.ok(path, json!({})).await;
        never_leaks(&body);
    }
    let members = eve.ok("/members/list", json!({ "query": "a.test" })).await;
    assert_eq!(members["page"]["total"], 0);
    let me = eve.ok("/user/get", json!({})).await;
    never_leaks(&me);
    assert_eq!(me["currentOrganizationId"], org_b);
    let org = eve.ok(&format!("/organizations/{org_b}/get"), json!({})).await;
    never_leaks(&org);

    // Bob, a member of A, is refused A's admin operations with 403.
    for (path, body) in [
        (
            format!("/organizations/{org_a}/update"),
            json!({ "name": "Mine" }),
        ),
        (format!("/members/{ada_id}/update"), json!({ "role": "guest" })),
        (format!("/members/{ada_id}/remove"), json!({})),
        (format!("/invitations/{invitation_id}/revoke"), json!({})),
        ("/invitations/create".to_owned(), json!({ "email": "x@a.test" })),
        ("/invitations/list".to_owned(), json!({})),
        ("/invitations/link/get".to_owned(), json!({})),
        ("/invitations/link/rotate".to_owned(), json!({})),
    ] {
        let problem = bob.fails(&path, body, 403).await;
        assert_eq!(problem["type"], "https://qubital.app/errors/forbidden");
    }

    // Nothing in A changed.
    let org = ada.ok(&format!("/organizations/{org_a}/get"), json!({})).await;
    assert_eq!(org["name"], "Org A");
    let members = ada.ok("/members/list", json!({})).await;
    assert_eq!(members["page"]["total"], 2);
    let roles: Vec<(&str, &str)> = members["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, [("ada@a.test", "admin"), ("bob@a.test", "member")]);
    let invitations = ada.ok("/invitations/list", json!({})).await;
    assert_eq!(invitations["data"][0]["state"], "pending");
    let link = ada.ok("/invitations/link/get", json!({})).await;
    assert_eq!(link["inviteId"], link_a);
    bob.ok("/members/list", json!({})).await;
}
