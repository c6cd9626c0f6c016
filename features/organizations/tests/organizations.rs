//! Organizations, members, invitations and the invite link, against a local WorkOS fake.

extern crate qubital_organizations;
extern crate qubital_users;

mod support;

use qubital_auth::test_support::{authorize, sign_in, web_sign_in, workos_admin};
use serde_json::{json, Value};
use support::*;

fn org_id(user: &Value) -> String {
    user["currentOrganizationId"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn admins_rename_the_organization_in_step_with_workos() {
    let (app, fake) = app_with_workos().await;
    let ada = workos_admin(&app.address, &fake, "ada@acme.test", "Acme").await;
    let me = ada.user.clone();
    let id = org_id(&me);

    let org = ada.ok(&format!("/organizations/{id}/get"), json!({})).await;
    assert_eq!(org["name"], "Acme");
    assert_eq!(org["initialized"], true);
    assert_eq!(org["id"], id);

    let org = ada
        .ok(
            &format!("/organizations/{id}/update"),
            json!({ "name": " Acme Inc " }),
        )
        .await;
    assert_eq!(org["name"], "Acme Inc");
    let workos_org = fake.memberships()[0].organization_id.clone();
    assert_eq!(fake.organization_name(&workos_org).as_deref(), Some("Acme Inc"));

    for bad in [
        json!({ "name": "" }),
        json!({ "name": "x".repeat(101) }),
        json!({}),
        json!({ "name": ["x"] }),
    ] {
        ada.fails(&format!("/organizations/{id}/update"), bad, 422).await;
    }

    // A member can read but not rename.
    let bob = app.browser();
    let result = web_sign_in(&bob, &fake, "bob@acme.test").await;
    let link = ada.ok("/invitations/link/get", json!({})).await;
    bob.ok(
        "/auth/sign-up",
        json!({ "signUpId": result["signUpId"], "inviteId": link["inviteId"] }),
    )
    .await;
    bob.ok(&format!("/organizations/{id}/get"), json!({})).await;
    let problem = bob
        .fails(
            &format!("/organizations/{id}/update"),
            json!({ "name": "Mine" }),
            403,
        )
        .await;
    assert!(problem["detail"].as_str().unwrap().contains("ManageOrganization"));
    assert_eq!(fake.organization_name(&workos_org).as_deref(), Some("Acme Inc"));
}

#[tokio::test]
async fn creating_an_organization_switches_into_it() {
    let (app, fake) = app_with_workos().await;
    // WorkOS session: created in WorkOS too.
    let ada = workos_admin(&app.address, &fake, "ada@acme.test", "Acme").await;
    let first = ada.user.clone();
    let second = ada.ok("/organizations/create", json!({ "name": "Second" })).await;
    assert_ne!(org_id(&first), org_id(&second));
    assert_eq!(second["organizationMemberships"].as_array().unwrap().len(), 2);
    let workos_orgs = fake.state.lock().unwrap().organizations.len();
    assert_eq!(workos_orgs, 2);
    let current = ada.ok("/user/get", json!({})).await;
    assert_eq!(org_id(&current), org_id(&second));

    // Development session: local only.
    let dev = sign_in(&app.address, "dev@local.test", "Local", "admin").await;
    let created = dev
        .ok("/organizations/create", json!({ "name": "Local Two" }))
        .await;
    let role = created["organizationMemberships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["organization"]["id"] == created["currentOrganizationId"])
        .unwrap()["role"]
        .clone();
    assert_eq!(role, "admin");
    assert_eq!(fake.state.lock().unwrap().organizations.len(), 2);
    dev.fails("/organizations/create", json!({ "name": "  " }), 422)
        .await;
}

#[tokio::test]
async fn members_are_listed_searched_and_paged() {
    let app = qubital_testkit::spawn_app().await;
    let ada = sign_in(&app.address, "ada@team.test", "Team", "admin").await;
    for name in ["bob", "carol", "dave", "zed"] {
        sign_in(&app.address, &format!("{name}@team.test"), "Team", "member").await;
    }
    // Someone elsewhere is never listed.
    sign_in(&app.address, "bob@elsewhere.test", "Elsewhere", "admin").await;

    let page = ada.ok("/members/list", json!({})).await;
    assert_eq!(page["page"], json!({ "limit": 20, "offset": 0, "total": 5 }));
    let names: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ada", "bob", "carol", "dave", "zed"]);
    assert_eq!(page["data"][0]["role"], "admin");
    assert_eq!(page["data"][1]["role"], "member");
    assert_eq!(page["data"][1]["presenceStatus"], "offline");
    assert_eq!(page["data"][1]["email"], "bob@team.test");

    let found = ada.ok("/members/list", json!({ "query": "BOB" })).await;
    assert_eq!(found["page"]["total"], 1);
    assert_eq!(found["data"][0]["email"], "bob@team.test");
    let found = ada.ok("/members/list", json!({ "query": "team.test" })).await;
    assert_eq!(found["page"]["total"], 5);
    let found = ada.ok("/members/list", json!({ "query": "%" })).await;
    assert_eq!(found["page"]["total"], 0, "wildcards are literal");

    // Display names count for the search.
    ada.ok("/user/update", json!({ "displayName": "Captain" })).await;
    let found = ada.ok("/members/list", json!({ "query": "capt" })).await;
    assert_eq!(found["data"][0]["displayName"], "Captain");

    let paged = ada.ok("/members/list", json!({ "limit": 2, "offset": 2 })).await;
    assert_eq!(paged["page"], json!({ "limit": 2, "offset": 2, "total": 5 }));
    assert_eq!(paged["data"].as_array().unwrap().len(), 2);
    let past = ada.ok("/members/list", json!({ "offset": 50 })).await;
    assert_eq!(past["page"]["total"], 5);
    assert!(past["data"].as_array().unwrap().is_empty());
    for bad in [
        json!({ "limit": 0 }),
        json!({ "limit": 101 }),
        json!({ "offset": -1 }),
        json!({ "limit": "ten" }),
        json!({ "query": "q".repeat(201) }),
    ] {
        ada.fails("/members/list", bad, 422).await;
    }
}

#[tokio::test]
async fn roles_change_in_step_with_workos_and_the_last_admin_stays() {
    let (app, fake) = app_with_workos().await;
    let ada = workos_admin(&app.address, &fake, "ada@acme.test", "Acme").await;
    let ada_me = ada.user.clone();
    let bob = app.browser();
    let result = web_sign_in(&bob, &fake, "bob@acme.test").await;
    let link = ada.ok("/invitations/link/get", json!({})).await;
    let bob_me = bob
        .ok(
            "/auth/sign-up",
            json!({ "signUpId": result["signUpId"], "inviteId": link["inviteId"] }),
        )
        .await;
    let (ada_id, bob_id) = (ada_me["id"].as_str().unwrap(), bob_me["id"].as_str().unwrap());
    let bob_workos = fake
        .memberships()
        .into_iter()
        .find(|m| m.role_slug == "member")
        .unwrap();

    let member = ada
        .ok(
            &format!("/members/{bob_id}/update"),
            json!({ "role": "moderator" }),
        )
        .await;
    assert_eq!(member["role"], "moderator");
    assert_eq!(member["id"], bob_id);
    let slug = fake
        .memberships()
        .into_iter()
        .find(|m| m.id == bob_workos.id)
        .unwrap()
        .role_slug;
    assert_eq!(slug, "moderator");
    // The change applies to bob's next request (no stale role in his token).
    let problem = bob
        .fails(
            &format!("/members/{ada_id}/update"),
            json!({ "role": "member" }),
            403,
        )
        .await;
    assert!(problem["detail"].as_str().unwrap().contains("EditUser"));

    let problem = ada
        .fails(
            &format!("/members/{ada_id}/update"),
            json!({ "role": "member" }),
            409,
        )
        .await;
    assert_eq!(problem["type"], "https://qubital.app/errors/last-admin");
    let problem = ada
        .fails(&format!("/members/{ada_id}/remove"), json!({}), 409)
        .await;
    assert_eq!(problem["type"], "https://qubital.app/errors/last-admin");

    ada.ok(&format!("/members/{bob_id}/update"), json!({ "role": "admin" }))
        .await;
    ada.ok(&format!("/members/{ada_id}/update"), json!({ "role": "member" }))
        .await;
    bob.fails(
        &format!("/members/{bob_id}/update"),
        json!({ "role": "guest" }),
        409,
    )
    .await;

    bob.fails("/members/999999/update", json!({ "role": "guest" }), 404)
        .await;
    bob.fails("/members/not-a-number/update", json!({ "role": "guest" }), 404)
        .await;
    bob.fails(
        &format!("/members/{ada_id}/update"),
        json!({ "role": "owner" }),
        422,
    )
    .await;
    bob.fails(&format!("/members/{ada_id}/update"), json!({}), 422)
        .await;
}

#[tokio::test]
async fn removing_a_member_ends_their_sessions_in_that_organization() {
    let (app, fake) = app_with_workos().await;
    let ada = workos_admin(&app.address, &fake, "ada@acme.test", "Acme").await;
    let bob = workos_admin(&app.address, &fake, "bob@acme.test", "Bob's own").await;
    let joined = join_by_link(&ada, &bob).await;
    let bob_id = joined["id"].as_str().unwrap().to_owned();
    assert_eq!(fake.memberships().len(), 3);
    bob.ok("/members/list", json!({})).await;

    let response = ada.send(&format!("/members/{bob_id}/remove"), &json!({})).await;
    assert_eq!(response.status(), 204);
    assert_eq!(fake.memberships().len(), 2, "removed in WorkOS too");
    let response = bob.send("/members/list", &json!({})).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        qubital_testkit::problem(response).await["type"],
        "https://qubital.app/errors/session-ended"
    );
    let list = ada.ok("/members/list", json!({})).await;
    assert_eq!(list["page"]["total"], 1);
    ada.fails(&format!("/members/{bob_id}/remove"), json!({}), 404)
        .await;

    // Bob's other organization is untouched: he signs in there again.
    let again = web_sign_in(&bob, &fake, "bob@acme.test").await;
    assert_eq!(again["status"], "signed-in", "{again}");
    assert_eq!(
        again["user"]["organizationMemberships"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn invitations_go_through_workos_and_are_listed_revoked_and_accepted() {
    let (app, fake) = app_with_workos().await;
    let ada = workos_admin(&app.address, &fake, "ada@acme.test", "Acme").await;
    let ada_me = ada.user.clone();

    let invite = ada
        .ok(
            "/invitations/create",
            json!({ "email": "Carol@Acme.test", "role": "moderator" }),
        )
        .await;
    assert_eq!(invite["state"], "pending");
    assert_eq!(invite["role"], "moderator");
    assert_eq!(invite["invitedBy"], ada_me["id"]);
    let sent = fake.invitations();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].role_slug, "moderator");
    assert!(
        !invite.to_string().contains(&sent[0].id),
        "no WorkOS ids on the wire"
    );

    let problem = ada
        .fails("/invitations/create", json!({ "email": "carol@acme.test" }), 409)
        .await;
    assert_eq!(problem["type"], "https://qubital.app/errors/invitation-pending");
    let problem = ada
        .fails("/invitations/create", json!({ "email": "ada@acme.test" }), 409)
        .await;
    assert_eq!(problem["type"], "https://qubital.app/errors/already-member");
    ada.fails("/invitations/create", json!({ "email": "nope" }), 422)
        .await;
    ada.fails(
        "/invitations/create",
        json!({ "email": "x@y.test", "role": "root" }),
        422,
    )
    .await;

    let list = ada.ok("/invitations/list", json!({})).await;
    assert_eq!(list["page"]["total"], 1);
    assert_eq!(list["data"][0]["id"], invite["id"]);

    let id = invite["id"].as_str().unwrap();
    let revoked = ada.ok(&format!("/invitations/{id}/revoke"), json!({})).await;
    assert_eq!(revoked["state"], "revoked");
    assert_eq!(fake.invitations()[0].state, "revoked");
    let problem = ada
        .fails(&format!("/invitations/{id}/revoke"), json!({}), 409)
        .await;
    assert_eq!(
        problem["type"],
        "https://qubital.app/errors/invitation-not-pending"
    );
    ada.fails("/invitations/not-a-uuid/revoke", json!({}), 404).await;

    // A new user signs up through an invitation and gets its role.
    let invite = ada
        .ok(
            "/invitations/create",
            json!({ "email": "dave@acme.test", "role": "moderator" }),
        )
        .await;
    let token = fake
        .invitations()
        .into_iter()
        .find(|i| i.email == "dave@acme.test")
        .unwrap()
        .token;
    let dave = app.browser();
    let result = web_sign_in(&dave, &fake, "dave@acme.test").await;
    assert_eq!(result["status"], "sign-up-required");
    let me = dave
        .ok(
            "/auth/sign-up",
            json!({ "signUpId": result["signUpId"], "invitationToken": token }),
        )
        .await;
    assert_eq!(me["currentOrganizationId"], ada_me["currentOrganizationId"]);
    assert_eq!(me["organizationMemberships"][0]["role"], "moderator");
    let list = ada.ok("/invitations/list", json!({})).await;
    let accepted = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == invite["id"])
        .unwrap();
    assert_eq!(accepted["state"], "accepted");

    // An existing user (in another organization) accepts while signed in; someone else's
    // invitation is not theirs.
    ada.ok("/invitations/create", json!({ "email": "erin@else.test" }))
        .await;
    let token = fake
        .invitations()
        .into_iter()
        .find(|i| i.email == "erin@else.test")
        .unwrap()
        .token;
    let frank = workos_admin(&app.address, &fake, "frank@else.test", "Frank's").await;
    frank
        .fails("/invitations/accept", json!({ "token": token }), 404)
        .await;
    let erin = workos_admin(&app.address, &fake, "erin@else.test", "Erin's").await;
    let me = erin.ok("/invitations/accept", json!({ "token": token })).await;
    assert_eq!(me["currentOrganizationId"], ada_me["currentOrganizationId"]);
    assert_eq!(me["organizationMemberships"].as_array().unwrap().len(), 2);
    let problem = erin
        .fails("/invitations/accept", json!({ "token": token }), 409)
        .await;
    assert_eq!(
        problem["type"],
        "https://qubital.app/errors/invitation-not-pending"
    );
    erin.fails("/invitations/accept", json!({ "token": "unknown" }), 404)
        .await;

    // Members cannot see or send invitations.
    let problem = dave.fails("/invitations/list", json!({}), 403).await;
    assert!(problem["detail"].as_str().unwrap().contains("InviteMember"));
    dave.fails("/invitations/create", json!({ "email": "x@y.test" }), 403)
        .await;
}

#[tokio::test]
async fn the_invite_link_admits_members_until_it_is_rotated() {
    let (app, fake) = app_with_workos().await;
    let ada = workos_admin(&app.address, &fake, "ada@acme.test", "Acme").await;
    let ada_me = ada.user.clone();
    let link = ada.ok("/invitations/link/get", json!({})).await;
    let again = ada.ok("/invitations/link/get", json!({})).await;
    assert_eq!(link, again, "stable until rotated");

    let bob = workos_admin(&app.address, &fake, "bob@b.test", "Bob's").await;
    let me = bob
        .ok("/invitations/link/join", json!({ "inviteId": link["inviteId"] }))
        .await;
    assert_eq!(me["currentOrganizationId"], ada_me["currentOrganizationId"]);
    let role = me["organizationMemberships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["organization"]["id"] == me["currentOrganizationId"])
        .unwrap()["role"]
        .clone();
    assert_eq!(role, "member");
    assert_eq!(fake.memberships().len(), 3, "joined in WorkOS too");
    // Joining again just switches.
    bob.ok("/invitations/link/join", json!({ "inviteId": link["inviteId"] }))
        .await;
    bob.fails("/invitations/link/get", json!({}), 403).await;
    bob.fails("/invitations/link/rotate", json!({}), 403).await;

    let rotated = ada.ok("/invitations/link/rotate", json!({})).await;
    assert_ne!(rotated, link);
    let carol = workos_admin(&app.address, &fake, "carol@c.test", "Carol's").await;
    carol
        .fails(
            "/invitations/link/join",
            json!({ "inviteId": link["inviteId"] }),
            404,
        )
        .await;
    carol
        .ok(
            "/invitations/link/join",
            json!({ "inviteId": rotated["inviteId"] }),
        )
        .await;

    // Development sessions join local organizations through links too.
    let dev_admin = sign_in(&app.address, "root@local.test", "Local", "admin").await;
    let local_link = dev_admin.ok("/invitations/link/get", json!({})).await;
    let dev_member = sign_in(&app.address, "m@local.test", "Elsewhere", "admin").await;
    dev_member
        .ok(
            "/invitations/link/join",
            json!({ "inviteId": local_link["inviteId"] }),
        )
        .await;
    // A WorkOS session cannot enter a local-only organization.
    let problem = carol
        .fails(
            "/invitations/link/join",
            json!({ "inviteId": local_link["inviteId"] }),
            409,
        )
        .await;
    assert_eq!(
        problem["type"],
        "https://qubital.app/errors/organization-not-in-workos"
    );
}

#[tokio::test]
async fn an_invitation_token_carried_through_oauth_joins_at_sign_in() {
    let (app, fake) = app_with_workos().await;
    let ada = workos_admin(&app.address, &fake, "ada@acme.test", "Acme").await;
    let ada_me = ada.user.clone();
    let invite = ada
        .ok(
            "/invitations/create",
            json!({ "email": "gina@acme.test", "role": "moderator" }),
        )
        .await;
    let token = fake.invitations()[0].token.clone();

    let gina = app.browser();
    let started = gina
        .ok(
            "/auth/start-oauth",
            json!({ "client": "web", "invitationToken": token }),
        )
        .await;
    fake.sign_in_as("gina@acme.test");
    let (code, state) = authorize(started["authorizationUrl"].as_str().unwrap()).await;
    let result = gina
        .ok("/auth/finalize-oauth", json!({ "code": code, "state": state }))
        .await;
    assert_eq!(result["status"], "signed-in", "{result}");
    assert_eq!(
        result["user"]["currentOrganizationId"],
        ada_me["currentOrganizationId"]
    );
    assert_eq!(result["user"]["organizationMemberships"][0]["role"], "moderator");
    let list = ada.ok("/invitations/list", json!({})).await;
    assert_eq!(list["data"][0]["id"], invite["id"]);
    assert_eq!(list["data"][0]["state"], "accepted");
}

/// A member's `presenceStatus` in the list is the presence feature's effective status: online
/// while heartbeats arrive, a manual status wins, and nobody else's status leaks across
/// organizations.
#[tokio::test]
async fn member_lists_show_each_members_effective_presence() {
    let app = qubital_testkit::spawn_app().await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let bob = sign_in(&app.address, "bob@acme.test", "Acme", "member").await;
    let status_of = |page: &Value, email: &str| -> String {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["email"] == email)
            .unwrap_or_else(|| panic!("{email} in {page}"))["presenceStatus"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let page = ada.ok("/members/list", json!({})).await;
    assert_eq!(status_of(&page, "bob@acme.test"), "offline");

    let (code, _) = bob.post("/presence/heartbeat", json!({})).await;
    assert_eq!(code, 204);
    let page = ada.ok("/members/list", json!({})).await;
    assert_eq!(status_of(&page, "bob@acme.test"), "online");
    assert_eq!(status_of(&page, "ada@acme.test"), "offline");

    let (code, _) = bob
        .post("/presence/status/update", json!({"status": "busy"}))
        .await;
    assert_eq!(code, 204);
    let page = ada.ok("/members/list", json!({})).await;
    assert_eq!(status_of(&page, "bob@acme.test"), "busy");
}
