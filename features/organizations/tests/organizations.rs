//! Organizations, members, invitations and the invite link, against a local WorkOS fake.

extern crate qubital_organizations;
extern crate qubital_users;

#[path = "../../auth/tests/support/mod.rs"]
mod support;

use serde_json::{json, Value};
use support::*;

fn org_id(user: &Value) -> String {
    user["currentOrganizationId"].as_str().unwrap().to_owned()
}

/// `bob` joins `admin`'s current organization through its invite link.
async fn join_by_link(
    app: &qubital_testkit::TestApp,
    admin: &reqwest::Client,
    member: &reqwest::Client,
) -> Value {
    let link = ok(app, admin, "/invitations/link/get", &json!({})).await;
    ok(
        app,
        member,
        "/invitations/link/join",
        &json!({ "inviteId": link["inviteId"] }),
    )
    .await
}

#[tokio::test]
async fn admins_rename_the_organization_in_step_with_workos() {
    let (app, fake) = app_with_workos().await;
    let ada = browser();
    let me = workos_admin(&app, &ada, &fake, "ada@acme.test", "Acme").await;
    let id = org_id(&me);

    let org = ok(&app, &ada, &format!("/organizations/{id}/get"), &json!({})).await;
    assert_eq!(org["name"], "Acme");
    assert_eq!(org["initialized"], true);
    assert_eq!(org["id"], id);

    let org = ok(
        &app,
        &ada,
        &format!("/organizations/{id}/update"),
        &json!({ "name": " Acme Inc " }),
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
        fails(&app, &ada, &format!("/organizations/{id}/update"), &bad, 422).await;
    }

    // A member can read but not rename.
    let bob = browser();
    let result = web_sign_in(&app, &bob, &fake, "bob@acme.test").await;
    let link = ok(&app, &ada, "/invitations/link/get", &json!({})).await;
    ok(
        &app,
        &bob,
        "/auth/sign-up",
        &json!({ "signUpId": result["signUpId"], "inviteId": link["inviteId"] }),
    )
    .await;
    ok(&app, &bob, &format!("/organizations/{id}/get"), &json!({})).await;
    let problem = fails(
        &app,
        &bob,
        &format!("/organizations/{id}/update"),
        &json!({ "name": "Mine" }),
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
    let ada = browser();
    let first = workos_admin(&app, &ada, &fake, "ada@acme.test", "Acme").await;
    let second = ok(&app, &ada, "/organizations/create", &json!({ "name": "Second" })).await;
    assert_ne!(org_id(&first), org_id(&second));
    assert_eq!(second["organizationMemberships"].as_array().unwrap().len(), 2);
    let workos_orgs = fake.state.lock().unwrap().organizations.len();
    assert_eq!(workos_orgs, 2);
    let current = ok(&app, &ada, "/user/get", &json!({})).await;
    assert_eq!(org_id(&current), org_id(&second));

    // Development session: local only.
    let dev = browser();
    dev_sign_in(&app, &dev, "dev@local.test", "Local").await;
    let created = ok(
        &app,
        &dev,
        "/organizations/create",
        &json!({ "name": "Local Two" }),
    )
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
    fails(&app, &dev, "/organizations/create", &json!({ "name": "  " }), 422).await;
}

#[tokio::test]
async fn members_are_listed_searched_and_paged() {
    let app = qubital_testkit::spawn_app().await;
    let ada = browser();
    dev_sign_in(&app, &ada, "ada@team.test", "Team").await;
    for name in ["bob", "carol", "dave", "zed"] {
        dev_sign_in(&app, &browser(), &format!("{name}@team.test"), "Team").await;
    }
    // Someone elsewhere is never listed.
    dev_sign_in(&app, &browser(), "bob@elsewhere.test", "Elsewhere").await;

    let page = ok(&app, &ada, "/members/list", &json!({})).await;
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

    let found = ok(&app, &ada, "/members/list", &json!({ "query": "BOB" })).await;
    assert_eq!(found["page"]["total"], 1);
    assert_eq!(found["data"][0]["email"], "bob@team.test");
    let found = ok(&app, &ada, "/members/list", &json!({ "query": "team.test" })).await;
    assert_eq!(found["page"]["total"], 5);
    let found = ok(&app, &ada, "/members/list", &json!({ "query": "%" })).await;
    assert_eq!(found["page"]["total"], 0, "wildcards are literal");

    // Display names count for the search.
    ok(&app, &ada, "/user/update", &json!({ "displayName": "Captain" })).await;
    let found = ok(&app, &ada, "/members/list", &json!({ "query": "capt" })).await;
    assert_eq!(found["data"][0]["displayName"], "Captain");

    let paged = ok(&app, &ada, "/members/list", &json!({ "limit": 2, "offset": 2 })).await;
    assert_eq!(paged["page"], json!({ "limit": 2, "offset": 2, "total": 5 }));
    assert_eq!(paged["data"].as_array().unwrap().len(), 2);
    let past = ok(&app, &ada, "/members/list", &json!({ "offset": 50 })).await;
    assert_eq!(past["page"]["total"], 5);
    assert!(past["data"].as_array().unwrap().is_empty());
    for bad in [
        json!({ "limit": 0 }),
        json!({ "limit": 101 }),
        json!({ "offset": -1 }),
        json!({ "limit": "ten" }),
        json!({ "query": "q".repeat(201) }),
    ] {
        fails(&app, &ada, "/members/list", &bad, 422).await;
    }
}

#[tokio::test]
async fn roles_change_in_step_with_workos_and_the_last_admin_stays() {
    let (app, fake) = app_with_workos().await;
    let ada = browser();
    let ada_me = workos_admin(&app, &ada, &fake, "ada@acme.test", "Acme").await;
    let bob = browser();
    let result = web_sign_in(&app, &bob, &fake, "bob@acme.test").await;
    let link = ok(&app, &ada, "/invitations/link/get", &json!({})).await;
    let bob_me = ok(
        &app,
        &bob,
        "/auth/sign-up",
        &json!({ "signUpId": result["signUpId"], "inviteId": link["inviteId"] }),
    )
    .await;
    let (ada_id, bob_id) = (ada_me["id"].as_str().unwrap(), bob_me["id"].as_str().unwrap());
    let bob_workos = fake
        .memberships()
        .into_iter()
        .find(|m| m.role_slug == "member")
        .unwrap();

    let member = ok(
        &app,
        &ada,
        &format!("/members/{bob_id}/update"),
        &json!({ "role": "moderator" }),
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
    let problem = fails(
        &app,
        &bob,
        &format!("/members/{ada_id}/update"),
        &json!({ "role": "member" }),
        403,
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("EditUser"));

    let problem = fails(
        &app,
        &ada,
        &format!("/members/{ada_id}/update"),
        &json!({ "role": "member" }),
        409,
    )
    .await;
    assert_eq!(problem["type"], "https://qubital.app/errors/last-admin");
    let problem = fails(&app, &ada, &format!("/members/{ada_id}/remove"), &json!({}), 409).await;
    assert_eq!(problem["type"], "https://qubital.app/errors/last-admin");

    ok(
        &app,
        &ada,
        &format!("/members/{bob_id}/update"),
        &json!({ "role": "admin" }),
    )
    .await;
    ok(
        &app,
        &ada,
        &format!("/members/{ada_id}/update"),
        &json!({ "role": "member" }),
    )
    .await;
    fails(
        &app,
        &bob,
        &format!("/members/{bob_id}/update"),
        &json!({ "role": "guest" }),
        409,
    )
    .await;

    fails(
        &app,
        &bob,
        "/members/999999/update",
        &json!({ "role": "guest" }),
        404,
    )
    .await;
    fails(
        &app,
        &bob,
        "/members/not-a-number/update",
        &json!({ "role": "guest" }),
        404,
    )
    .await;
    fails(
        &app,
        &bob,
        &format!("/members/{ada_id}/update"),
        &json!({ "role": "owner" }),
        422,
    )
    .await;
    fails(&app, &bob, &format!("/members/{ada_id}/update"), &json!({}), 422).await;
}

#[tokio::test]
async fn removing_a_member_ends_their_sessions_in_that_organization() {
    let (app, fake) = app_with_workos().await;
    let ada = browser();
    workos_admin(&app, &ada, &fake, "ada@acme.test", "Acme").await;
    let bob = browser();
    workos_admin(&app, &bob, &fake, "bob@acme.test", "Bob's own").await;
    let joined = join_by_link(&app, &ada, &bob).await;
    let bob_id = joined["id"].as_str().unwrap().to_owned();
    assert_eq!(fake.memberships().len(), 3);
    ok(&app, &bob, "/members/list", &json!({})).await;

    let response = post(&app, &ada, &format!("/members/{bob_id}/remove"), &json!({})).await;
    assert_eq!(response.status(), 204);
    assert_eq!(fake.memberships().len(), 2, "removed in WorkOS too");
    let response = post(&app, &bob, "/members/list", &json!({})).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        qubital_testkit::problem(response).await["type"],
        "https://qubital.app/errors/session-ended"
    );
    let list = ok(&app, &ada, "/members/list", &json!({})).await;
    assert_eq!(list["page"]["total"], 1);
    fails(&app, &ada, &format!("/members/{bob_id}/remove"), &json!({}), 404).await;

    // Bob's other organization is untouched: he signs in there again.
    let again = web_sign_in(&app, &bob, &fake, "bob@acme.test").await;
    assert_eq!(again["status"], "signed-in", "{again}");
    assert_eq!(
        again["user"]["organizationMemberships"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn invitations_go_through_workos_and_are_listed_revoked_and_accepted() {
    let (app, fake) = app_with_workos().await;
    let ada = browser();
    let ada_me = workos_admin(&app, &ada, &fake, "ada@acme.test", "Acme").await;

    let invite = ok(
        &app,
        &ada,
        "/invitations/create",
        &json!({ "email": "Carol@Acme.test", "role": "moderator" }),
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

    let problem = fails(
        &app,
        &ada,
        "/invitations/create",
        &json!({ "email": "carol@acme.test" }),
        409,
    )
    .await;
    assert_eq!(problem["type"], "https://qubital.app/errors/invitation-pending");
    let problem = fails(
        &app,
        &ada,
        "/invitations/create",
        &json!({ "email": "ada@acme.test" }),
        409,
    )
    .await;
    assert_eq!(problem["type"], "https://qubital.app/errors/already-member");
    fails(
        &app,
        &ada,
        "/invitations/create",
        &json!({ "email": "nope" }),
        422,
    )
    .await;
    fails(
        &app,
        &ada,
        "/invitations/create",
        &json!({ "email": "x@y.test", "role": "root" }),
        422,
    )
    .await;

    let list = ok(&app, &ada, "/invitations/list", &json!({})).await;
    assert_eq!(list["page"]["total"], 1);
    assert_eq!(list["data"][0]["id"], invite["id"]);

    let id = invite["id"].as_str().unwrap();
    let revoked = ok(&app, &ada, &format!("/invitations/{id}/revoke"), &json!({})).await;
    assert_eq!(revoked["state"], "revoked");
    assert_eq!(fake.invitations()[0].state, "revoked");
    let problem = fails(&app, &ada, &format!("/invitations/{id}/revoke"), &json!({}), 409).await;
    assert_eq!(
        problem["type"],
        "https://qubital.app/errors/invitation-not-pending"
    );
    fails(&app, &ada, "/invitations/not-a-uuid/revoke", &json!({}), 404).await;

    // A new user signs up through an invitation and gets its role.
    let invite = ok(
        &app,
        &ada,
        "/invitations/create",
        &json!({ "email": "dave@acme.test", "role": "moderator" }),
    )
    .await;
    let token = fake
        .invitations()
        .into_iter()
        .find(|i| i.email == "dave@acme.test")
        .unwrap()
        .token;
    let dave = browser();
    let result = web_sign_in(&app, &dave, &fake, "dave@acme.test").await;
    assert_eq!(result["status"], "sign-up-required");
    let me = ok(
        &app,
        &dave,
        "/auth/sign-up",
        &json!({ "signUpId": result["signUpId"], "invitationToken": token }),
    )
    .await;
    assert_eq!(me["currentOrganizationId"], ada_me["currentOrganizationId"]);
    assert_eq!(me["organizationMemberships"][0]["role"], "moderator");
    let list = ok(&app, &ada, "/invitations/list", &json!({})).await;
    let accepted = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == invite["id"])
        .unwrap();
    assert_eq!(accepted["state"], "accepted");

    // An existing user (in another organization) accepts while signed in; someone else's
    // invitation is not theirs.
    ok(
        &app,
        &ada,
        "/invitations/create",
        &json!({ "email": "erin@else.test" }),
    )
    .await;
    let token = fake
        .invitations()
        .into_iter()
        .find(|i| i.email == "erin@else.test")
        .unwrap()
        .token;
    let frank = browser();
    workos_admin(&app, &frank, &fake, "frank@else.test", "Frank's").await;
    fails(
        &app,
        &frank,
        "/invitations/accept",
        &json!({ "token": token }),
        404,
    )
    .await;
    let erin = browser();
    workos_admin(&app, &erin, &fake, "erin@else.test", "Erin's").await;
    let me = ok(&app, &erin, "/invitations/accept", &json!({ "token": token })).await;
    assert_eq!(me["currentOrganizationId"], ada_me["currentOrganizationId"]);
    assert_eq!(me["organizationMemberships"].as_array().unwrap().len(), 2);
    let problem = fails(
        &app,
        &erin,
        "/invitations/accept",
        &json!({ "token": token }),
        409,
    )
    .await;
    assert_eq!(
        problem["type"],
        "https://qubital.app/errors/invitation-not-pending"
    );
    fails(
        &app,
        &erin,
        "/invitations/accept",
        &json!({ "token": "unknown" }),
        404,
    )
    .await;

    // Members cannot see or send invitations.
    let problem = fails(&app, &dave, "/invitations/list", &json!({}), 403).await;
    assert!(problem["detail"].as_str().unwrap().contains("InviteMember"));
    fails(
        &app,
        &dave,
        "/invitations/create",
        &json!({ "email": "x@y.test" }),
        403,
    )
    .await;
}

#[tokio::test]
async fn the_invite_link_admits_members_until_it_is_rotated() {
    let (app, fake) = app_with_workos().await;
    let ada = browser();
    let ada_me = workos_admin(&app, &ada, &fake, "ada@acme.test", "Acme").await;
    let link = ok(&app, &ada, "/invitations/link/get", &json!({})).await;
    let again = ok(&app, &ada, "/invitations/link/get", &json!({})).await;
    assert_eq!(link, again, "stable until rotated");

    let bob = browser();
    workos_admin(&app, &bob, &fake, "bob@b.test", "Bob's").await;
    let me = ok(
        &app,
        &bob,
        "/invitations/link/join",
        &json!({ "inviteId": link["inviteId"] }),
    )
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
    ok(
        &app,
        &bob,
        "/invitations/link/join",
        &json!({ "inviteId": link["inviteId"] }),
    )
    .await;
    fails(&app, &bob, "/invitations/link/get", &json!({}), 403).await;
    fails(&app, &bob, "/invitations/link/rotate", &json!({}), 403).await;

    let rotated = ok(&app, &ada, "/invitations/link/rotate", &json!({})).await;
    assert_ne!(rotated, link);
    let carol = browser();
    workos_admin(&app, &carol, &fake, "carol@c.test", "Carol's").await;
    fails(
        &app,
        &carol,
        "/invitations/link/join",
        &json!({ "inviteId": link["inviteId"] }),
        404,
    )
    .await;
    ok(
        &app,
        &carol,
        "/invitations/link/join",
        &json!({ "inviteId": rotated["inviteId"] }),
    )
    .await;

    // Development sessions join local organizations through links too.
    let dev_admin = browser();
    dev_sign_in(&app, &dev_admin, "root@local.test", "Local").await;
    let local_link = ok(&app, &dev_admin, "/invitations/link/get", &json!({})).await;
    let dev_member = browser();
    dev_sign_in(&app, &dev_member, "m@local.test", "Elsewhere").await;
    ok(
        &app,
        &dev_member,
        "/invitations/link/join",
        &json!({ "inviteId": local_link["inviteId"] }),
    )
    .await;
    // A WorkOS session cannot enter a local-only organization.
    let problem = fails(
        &app,
        &carol,
        "/invitations/link/join",
        &json!({ "inviteId": local_link["inviteId"] }),
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
    let ada = browser();
    let ada_me = workos_admin(&app, &ada, &fake, "ada@acme.test", "Acme").await;
    let invite = ok(
        &app,
        &ada,
        "/invitations/create",
        &json!({ "email": "gina@acme.test", "role": "moderator" }),
    )
    .await;
    let token = fake.invitations()[0].token.clone();

    let gina = browser();
    let started = ok(
        &app,
        &gina,
        "/auth/start-oauth",
        &json!({ "client": "web", "invitationToken": token }),
    )
    .await;
    fake.sign_in_as("gina@acme.test");
    let (code, state) = authorize(started["authorizationUrl"].as_str().unwrap()).await;
    let result = ok(
        &app,
        &gina,
        "/auth/finalize-oauth",
        &json!({ "code": code, "state": state }),
    )
    .await;
    assert_eq!(result["status"], "signed-in", "{result}");
    assert_eq!(
        result["user"]["currentOrganizationId"],
        ada_me["currentOrganizationId"]
    );
    assert_eq!(result["user"]["organizationMemberships"][0]["role"], "moderator");
    let list = ok(&app, &ada, "/invitations/list", &json!({})).await;
    assert_eq!(list["data"][0]["id"], invite["id"]);
    assert_eq!(list["data"][0]["state"], "accepted");
}
