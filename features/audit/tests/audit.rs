//! The audit trail: every administrative operation writes its row (a table of operations, and
//! a check that every operation of the API is either in it or declared not administrative);
//! the list is for admins, filters, and never shows another organization's trail; the relay
//! delivers each event to WorkOS exactly once, through failures and lost answers.

extern crate qubital_auth;
extern crate qubital_organizations;
extern crate qubital_realtime;
extern crate qubital_recordings;
extern crate qubital_spaces;
extern crate qubital_uploads;

mod support;

use std::collections::{BTreeMap, BTreeSet};

use qubital_audit::Action;
use serde_json::{json, Value};
use support::*;

/// Operations that are not administrative changes, and why. Every operation of the API must be
/// here or in `AUDITED`: a new operation fails `every_operation_is_classified` until someone
/// decides.
const NOT_AUDITED: &[(&str, &str)] = &[
    // Reads.
    ("get-jwks", "read"),
    ("get-organization", "read"),
    (
        "get-invite-link",
        "read (creates the link on first read, no change of access)",
    ),
    ("list-invitations", "read"),
    ("list-members", "read"),
    ("list-recordings", "read"),
    ("list-space-layouts", "read"),
    ("list-space-tags", "read"),
    ("list-spaces", "read"),
    ("get-space", "read"),
    ("get-current-user", "read"),
    ("list-audit-logs", "read"),
    // Signing in and out, and the caller's own account.
    ("start-oauth", "sign-in"),
    ("finalize-oauth", "sign-in"),
    ("start-magic-auth", "sign-in"),
    ("finalize-magic-auth", "sign-in"),
    ("select-organization", "sign-in"),
    ("switch-organization", "sign-in"),
    ("sign-out", "sign-in"),
    (
        "sign-up",
        "sign-in (an invitation it accepts is recorded as invitation.accepted)",
    ),
    ("dev-sign-in", "development only"),
    ("update-profile", "the caller's own profile"),
    (
        "avatar-upload-ticket",
        "the caller's own profile (a ticket changes nothing)",
    ),
    ("avatar-finalize", "the caller's own profile"),
    ("remove-avatar", "the caller's own profile"),
    (
        "organization-logo-upload-ticket",
        "a ticket changes nothing; its finalize is audited",
    ),
    ("create-organization", "the caller's own new organization"),
    (
        "join-by-invite-link",
        "the caller joins with a link an admin shared",
    ),
    // Tokens and presence of the conference.
    ("get-conference-token", "token"),
    ("get-connection-token", "token"),
    ("get-router-token", "token"),
    (
        "update-recording-presence",
        "who is in a recorded zone, not a change of settings",
    ),
    // Machines.
    ("receive-livekit-webhook", "vendor webhook"),
    ("receive-workos-webhook", "vendor webhook"),
    ("worker-describe-member", "worker"),
    ("worker-check-space-access", "worker"),
    ("reconcile-recordings", "internal job trigger"),
    ("authorize-subscription", "Centrifugo's subscribe proxy (machine)"),
    // Chat and presence: conversation content and the caller's own status, not administration.
    ("create-dm", "chat"),
    ("create-group", "chat"),
    ("list-conversations", "chat"),
    ("add-conversation-members", "chat (a group's own membership)"),
    ("remove-conversation-member", "chat (a group's own membership)"),
    ("list-messages", "chat"),
    ("search-messages", "chat"),
    ("send-message", "chat"),
    ("edit-message", "chat"),
    (
        "delete-message",
        "chat (moderation of content, kept as a soft delete)",
    ),
    ("add-reaction", "chat"),
    ("remove-reaction", "chat"),
    ("update-read-cursor", "chat"),
    ("get-subscribe-token", "token"),
    ("send-typing", "chat"),
    ("send-presence-heartbeat", "the caller's own presence"),
    ("get-presence-snapshot", "read"),
    ("set-manual-status", "the caller's own presence"),
    // Calendar: the caller's own calendar connection and meetings.
    ("connect-calendar", "the caller's own calendar"),
    ("finish-calendar-connect", "the caller's own calendar"),
    ("disconnect-calendar", "the caller's own calendar"),
    ("list-calendar-connections", "read"),
    ("list-calendar-events", "read"),
    ("create-calendar-event", "the organizer's own meeting"),
    ("update-calendar-event", "the organizer's own meeting"),
    ("delete-calendar-event", "the organizer's own meeting"),
    // Guests: the guest's own steps, and reads. Invite, admit and deny are audited by the
    // guests feature (tested in features/guests/tests/guests.rs).
    ("join-as-guest", "the guest's own knock"),
    ("get-guest-status", "the guest's own poll"),
    ("list-guests", "read"),
    ("list-guest-invites", "read"),
    (
        "revoke-guest-invite",
        "audited as guest_invite.revoked; exercised in the guests tests",
    ),
    (
        "create-guest-invite",
        "audited as guest.invited; exercised in the guests tests",
    ),
    (
        "admit-guest",
        "audited as guest.admitted; exercised in the guests tests",
    ),
    (
        "deny-guest",
        "audited as guest.denied; exercised in the guests tests",
    ),
    ("healthz", "ops"),
    ("readyz", "ops"),
    ("metrics", "ops"),
];

/// The administrative operations and the action each records.
const AUDITED: &[(&str, Action)] = &[
    ("update-member-role", Action::MemberRoleUpdated),
    ("remove-member", Action::MemberRemoved),
    ("create-invitation", Action::InvitationCreated),
    ("revoke-invitation", Action::InvitationRevoked),
    ("accept-invitation", Action::InvitationAccepted),
    ("rotate-invite-link", Action::InviteLinkRotated),
    ("update-organization", Action::OrganizationUpdated),
    ("organization-logo-finalize", Action::OrganizationLogoUpdated),
    ("remove-organization-logo", Action::OrganizationLogoRemoved),
    ("create-space", Action::SpaceCreated),
    ("update-space", Action::SpaceUpdated),
    ("delete-space", Action::SpaceDeleted),
    ("create-space-tag", Action::SpaceTagCreated),
    ("delete-space-tag", Action::SpaceTagDeleted),
    ("start-recording", Action::RecordingStarted),
    ("stop-recording", Action::RecordingStopped),
    (
        "get-recording-download-link",
        Action::RecordingDownloadLinkCreated,
    ),
];

/// Actions not recorded by an operation of `AUDITED`: the guest actions are recorded by the
/// guests feature, whose own tests check their rows (this crate cannot drive guests without
/// depending on it).
const NOT_YET_LINKED: &[Action] = &[
    Action::GuestInvited,
    Action::GuestAdmitted,
    Action::GuestDenied,
    Action::GuestInviteRevoked,
];

/// One performed operation: what its row must say.
struct Expected {
    operation: &'static str,
    actor: String,
    target_type: &'static str,
    target_id: String,
}

fn id(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("an id: {value}"))
        .to_owned()
}

#[tokio::test]
async fn every_operation_is_classified() {
    let world = world().await;
    let spec: Value = world.app.get("/openapi.json").await.json().await.unwrap();
    let mut operations = BTreeSet::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            operations.insert(id(&operation["operationId"]));
        }
    }
    let audited: BTreeSet<String> = AUDITED.iter().map(|(op, _)| op.to_string()).collect();
    let not_audited: BTreeSet<String> = NOT_AUDITED.iter().map(|(op, _)| op.to_string()).collect();
    let unclassified: Vec<&String> = operations
        .iter()
        .filter(|op| !audited.contains(*op) && !not_audited.contains(*op))
        .collect();
    assert!(
        unclassified.is_empty(),
        "operations neither audited nor declared not administrative: {unclassified:?}"
    );
    let gone: Vec<&String> = audited.iter().filter(|op| !operations.contains(*op)).collect();
    assert!(
        gone.is_empty(),
        "audited operations missing from the API: {gone:?}"
    );
    // Every action is recorded by some operation, or waits for its feature.
    let covered: BTreeSet<&str> = AUDITED
        .iter()
        .map(|(_, a)| a.as_str())
        .chain(NOT_YET_LINKED.iter().map(|a| a.as_str()))
        .collect();
    for action in Action::ALL {
        assert!(
            covered.contains(action.as_str()),
            "{} is recorded by no operation",
            action.as_str()
        );
    }
}

#[tokio::test]
async fn every_administrative_operation_writes_its_audit_row() {
    // The local S3 (recordings, logos) must outlive the test: bound, not dropped.
    let World {
        app,
        workos,
        livekit,
        s3: _s3,
    } = world().await;
    let ada = workos_admin(&app.address, &workos, "ada@acme.test", "Acme").await;
    let ada_id = ada.user_id().to_owned();
    let org = ada.organization_id().to_owned();
    let mut done: Vec<Expected> = Vec::new();
    let mut expect = |operation: &'static str, actor: &str, target_type: &'static str, target_id: String| {
        done.push(Expected {
            operation,
            actor: actor.to_owned(),
            target_type,
            target_id,
        })
    };

    // The organization and its invite link.
    ada.ok(
        &format!("/organizations/{org}/update"),
        json!({ "name": "Acme Inc" }),
    )
    .await;
    expect("update-organization", &ada_id, "organization", org.clone());
    let logo = upload_logo(&ada).await;
    assert!(logo["logoUrl"].is_string(), "{logo}");
    expect("organization-logo-finalize", &ada_id, "organization", org.clone());
    ada.ok(&format!("/organizations/{org}/logo/remove"), json!({}))
        .await;
    expect("remove-organization-logo", &ada_id, "organization", org.clone());
    ada.ok("/invitations/link/rotate", json!({})).await;
    expect("rotate-invite-link", &ada_id, "invite_link", org.clone());

    // Invitations: sent and revoked; sent and accepted by an existing user.
    let carol = ada
        .ok("/invitations/create", json!({ "email": "carol@acme.test" }))
        .await;
    expect("create-invitation", &ada_id, "invitation", id(&carol["id"]));
    ada.ok(&format!("/invitations/{}/revoke", id(&carol["id"])), json!({}))
        .await;
    expect("revoke-invitation", &ada_id, "invitation", id(&carol["id"]));
    let erin_invite = ada
        .ok("/invitations/create", json!({ "email": "erin@else.test" }))
        .await;
    expect("create-invitation", &ada_id, "invitation", id(&erin_invite["id"]));
    let token = workos
        .invitations()
        .into_iter()
        .find(|i| i.email == "erin@else.test")
        .unwrap()
        .token;
    let erin = workos_admin(&app.address, &workos, "erin@else.test", "Erin's").await;
    let erin_id = erin.user_id().to_owned();
    erin.ok("/invitations/accept", json!({ "token": token })).await;
    expect(
        "accept-invitation",
        &erin_id,
        "invitation",
        id(&erin_invite["id"]),
    );

    // Members.
    ada.ok(
        &format!("/members/{erin_id}/update"),
        json!({ "role": "moderator" }),
    )
    .await;
    expect("update-member-role", &ada_id, "member", erin_id.clone());
    ada.ok(&format!("/members/{erin_id}/remove"), json!({})).await;
    expect("remove-member", &ada_id, "member", erin_id.clone());

    // Spaces and tags.
    let space = create_space(&ada, "Main").await;
    expect("create-space", &ada_id, "space", space.clone());
    ada.ok(&format!("/spaces/{space}/update"), json!({ "name": "Main hall" }))
        .await;
    expect("update-space", &ada_id, "space", space.clone());
    let tag = ada.ok("/space-tags/create", json!({ "name": "Floor 1" })).await;
    expect("create-space-tag", &ada_id, "space_tag", id(&tag["id"]));
    ada.ok(&format!("/space-tags/{}/delete", id(&tag["id"])), json!({}))
        .await;
    expect("delete-space-tag", &ada_id, "space_tag", id(&tag["id"]));

    // Recordings.
    let recording = id(&ada
        .ok(
            "/recordings/start",
            json!({"spaceId": space, "topic": "Weekly", "zone": "z"}),
        )
        .await["recordingId"]);
    expect("start-recording", &ada_id, "recording", recording.clone());
    ada.ok(&format!("/recordings/{recording}/stop"), json!({})).await;
    expect("stop-recording", &ada_id, "recording", recording.clone());
    assert!(!livekit.state.lock().unwrap().starts.is_empty());
    recording_completed(&app, &recording, &space).await;
    ada.ok(&format!("/recordings/{recording}/download-link"), json!({}))
        .await;
    expect(
        "get-recording-download-link",
        &ada_id,
        "recording",
        recording.clone(),
    );

    // Deleting the space last (the recording keeps existing without it).
    ada.ok(&format!("/spaces/{space}/delete"), json!({})).await;
    expect("delete-space", &ada_id, "space", space.clone());

    // Every audited operation was performed above…
    let performed: BTreeSet<&str> = done.iter().map(|e| e.operation).collect();
    for (operation, _) in AUDITED {
        assert!(
            performed.contains(operation),
            "{operation} is not exercised by this test"
        );
    }
    // …and each wrote its row: right action, actor, target, organization, request facts.
    let actions: BTreeMap<&str, Action> = AUDITED.iter().copied().collect();
    for expected in &done {
        let action = actions[expected.operation].as_str();
        let rows = entries(&ada, action).await;
        let row = rows
            .iter()
            .find(|row| {
                row["targets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["type"] == expected.target_type && t["id"] == expected.target_id.as_str())
            })
            .unwrap_or_else(|| {
                panic!(
                    "{} wrote no {action} row about {} {}: {rows:?}",
                    expected.operation, expected.target_type, expected.target_id
                )
            });
        assert_eq!(row["actor"]["type"], "user", "{row}");
        assert_eq!(row["actor"]["id"], expected.actor.as_str(), "{row}");
        assert!(row["requestId"].as_str().is_some_and(|r| !r.is_empty()), "{row}");
        assert_eq!(row["ipAddress"], "127.0.0.1", "{row}");
        assert!(row["occurredAt"].as_str().is_some(), "{row}");
    }
    // Nothing else was recorded: one row per operation.
    let all = trail(&ada, json!({ "limit": 100 })).await;
    assert_eq!(all["page"]["total"], done.len(), "{all}");
}

#[tokio::test]
async fn a_refused_change_writes_no_row_and_the_request_facts_are_kept() {
    let World { app, .. } = world().await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let bob = sign_in(&app.address, "bob@acme.test", "Acme", "member").await;
    // Refused (403) and failed (409) changes leave no trail.
    let space = create_space(&ada, "Main").await;
    bob.fails(&format!("/spaces/{space}/delete"), json!({}), 403)
        .await;
    ada.ok("/space-tags/create", json!({ "name": "A" })).await;
    ada.fails("/space-tags/create", json!({ "name": "a" }), 409).await;
    assert_eq!(entries(&ada, "space.deleted").await.len(), 0);
    assert_eq!(entries(&ada, "space_tag.created").await.len(), 1);

    // The request id and user agent the client sent are what the row says.
    let response = ada
        .http
        .post(ada.url("/space-tags/create"))
        .header("user-agent", "QubitalDesktop/3.1 (macOS 15)")
        .header("x-request-id", "req-audit-42")
        .json(&json!({ "name": "B" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let row = &entries(&ada, "space_tag.created").await[0];
    assert_eq!(row["requestId"], "req-audit-42", "{row}");
    assert_eq!(row["userAgent"], "QubitalDesktop/3.1 (macOS 15)", "{row}");
    assert_eq!(row["targets"][0]["name"], "B", "{row}");
}

#[tokio::test]
async fn the_list_filters_is_for_admins_and_stays_in_the_organization() {
    let World { app, .. } = world().await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let max = sign_in(&app.address, "max@acme.test", "Acme", "admin").await;
    let moderator = sign_in(&app.address, "mo@acme.test", "Acme", "moderator").await;
    let eve = sign_in(&app.address, "eve@evil.test", "Evil", "admin").await;

    let main = create_space(&ada, "Main").await;
    let side = create_space(&max, "Side").await;
    let tag = ada.ok("/space-tags/create", json!({ "name": "T" })).await;
    let evil = create_space(&eve, "Evil lair").await;

    // Admins only.
    let problem = moderator.fails("/audit-logs/list", json!({}), 403).await;
    assert!(problem["detail"].as_str().unwrap().contains("ViewAuditLogs"));

    // Everything of Acme, newest first; nothing of Evil.
    let all = trail(&ada, json!({})).await;
    assert_eq!(all["page"]["total"], 3, "{all}");
    let targets: Vec<&Value> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["targets"][0]["id"])
        .collect();
    assert_eq!(targets, [&tag["id"], &json!(side), &json!(main)]);
    assert!(!all.to_string().contains(&evil));
    let theirs = trail(&eve, json!({})).await;
    assert_eq!(theirs["page"]["total"], 1);
    // Another organization's ids find nothing.
    let cross = trail(&eve, json!({ "targetId": main })).await;
    assert_eq!(cross["page"]["total"], 0);

    // By actor, action, target type, target id.
    let by_max = trail(&ada, json!({ "actorId": max.user_id() })).await;
    assert_eq!(by_max["page"]["total"], 1);
    assert_eq!(by_max["data"][0]["targets"][0]["id"], side.as_str());
    let spaces = trail(&ada, json!({ "action": "space.created" })).await;
    assert_eq!(spaces["page"]["total"], 2);
    let tags = trail(&ada, json!({ "targetType": "space_tag" })).await;
    assert_eq!(tags["page"]["total"], 1);
    let one = trail(&ada, json!({ "targetId": main })).await;
    assert_eq!(one["page"]["total"], 1);
    assert_eq!(one["data"][0]["action"], "space.created");
    let both = trail(
        &ada,
        json!({ "targetType": "space", "targetId": main, "action": "space.deleted" }),
    )
    .await;
    assert_eq!(both["page"]["total"], 0);

    // By time: [from, until).
    let first_at = spaces["data"][1]["occurredAt"].as_str().unwrap().to_owned();
    let last_at = all["data"][0]["occurredAt"].as_str().unwrap().to_owned();
    let since_first = trail(&ada, json!({ "from": first_at })).await;
    assert_eq!(since_first["page"]["total"], 3);
    let before_last = trail(&ada, json!({ "from": first_at, "until": last_at })).await;
    assert_eq!(before_last["page"]["total"], 2);
    let future = trail(&ada, json!({ "from": "2999-01-01T00:00:00Z" })).await;
    assert_eq!(future["page"]["total"], 0);
    // An empty or reversed range holds nothing (a fact, not a bad request).
    let reversed = trail(&ada, json!({ "from": last_at, "until": first_at })).await;
    assert_eq!(reversed["page"]["total"], 0);
    let empty = trail(&ada, json!({ "from": first_at, "until": first_at })).await;
    assert_eq!(empty["page"]["total"], 0);

    // Paging.
    let page = trail(&ada, json!({ "limit": 1, "offset": 1 })).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["targets"][0]["id"], side.as_str());

    // Bad filters.
    let problem = ada.fails("/audit-logs/list", json!({ "actorId": 5 }), 422).await;
    assert_eq!(problem_type(&problem), "validation");
    ada.fails("/audit-logs/list", json!({ "action": "space.exploded" }), 422)
        .await;
    ada.fails("/audit-logs/list", json!({ "limit": 101 }), 422).await;
    ada.fails("/audit-logs/list", json!({ "targetType": "Space!" }), 422)
        .await;
    ada.fails("/audit-logs/list", json!({ "surprise": 1 }), 422).await;
}

#[tokio::test]
async fn the_relay_delivers_every_event_to_workos_exactly_once() {
    let World { app, workos, .. } = world().await;
    let ada = workos_admin(&app.address, &workos, "ada@acme.test", "Acme").await;
    let local = sign_in(&app.address, "lou@local.test", "Local only", "admin").await;
    let mut spaces = Vec::new();
    for i in 0..5 {
        spaces.push(create_space(&ada, &format!("Room {i}")).await);
    }
    create_space(&local, "Not in WorkOS").await;

    // WorkOS is down for a while: nothing is lost, the events wait.
    workos.fail_audit_events(100);
    let pass = qubital_audit::jobs::relay_once(&app.ctx).await.unwrap();
    assert_eq!(pass.sent, 0, "{pass:?}");
    assert!(workos.audit_events().is_empty());
    workos.fail_audit_events(0);
    // Back up, but the answers to the first two events are lost after WorkOS kept them.
    workos.lose_audit_answers(2);
    let requests_before = workos.audit_requests();
    let mut passes = 0;
    loop {
        // Failed events wait for their backoff; a test does not.
        sqlx::query("UPDATE audit_events SET relay_next_at = now() WHERE relay_state = 'pending'")
            .execute(app.db())
            .await
            .unwrap();
        let pass = qubital_audit::jobs::relay_once(&app.ctx).await.unwrap();
        passes += 1;
        if pass.sent + pass.skipped + pass.failed == 0 || passes > 10 {
            break;
        }
    }
    assert!(
        workos.audit_requests() > requests_before + 5,
        "the lost answers were retried"
    );

    // Exactly one WorkOS event per Acme event, keyed by our event id, in WorkOS's terms.
    let trail = trail(&ada, json!({ "limit": 100 })).await;
    let ours: BTreeSet<String> = trail["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| id(&e["id"]))
        .collect();
    assert_eq!(ours.len(), 5);
    let received = workos.audit_events();
    let keys: Vec<String> = received
        .iter()
        .map(|e| e.idempotency_key.clone().expect("an Idempotency-Key"))
        .collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert_eq!(keys.iter().cloned().collect::<BTreeSet<_>>(), ours);
    let workos_org = workos
        .organizations()
        .into_iter()
        .find(|(_, name)| name == "Acme")
        .unwrap()
        .0;
    for event in &received {
        let body = &event.body;
        assert_eq!(body["organization_id"], workos_org.as_str());
        assert_eq!(body["event"]["action"], "space.created");
        assert_eq!(body["event"]["actor"]["type"], "user");
        assert_eq!(body["event"]["actor"]["id"], ada.user_id());
        assert_eq!(body["event"]["targets"][0]["type"], "space");
        assert_eq!(body["event"]["context"]["location"], "127.0.0.1");
        assert!(body["event"]["metadata"]["request_id"].is_string(), "{body}");
        assert!(spaces.contains(&id(&body["event"]["targets"][0]["id"])));
    }

    // Nothing is pending; the local-only organization's event was skipped, not sent.
    let states: Vec<(String, i64)> =
        sqlx::query_as("SELECT relay_state, count(*) FROM audit_events GROUP BY 1 ORDER BY 1")
            .fetch_all(app.db())
            .await
            .unwrap();
    assert_eq!(states, [("relayed".to_owned(), 5), ("skipped".to_owned(), 1)]);
    // Another pass sends nothing again.
    let requests = workos.audit_requests();
    let pass = qubital_audit::jobs::relay_once(&app.ctx).await.unwrap();
    assert_eq!(pass, qubital_audit::jobs::Relayed::default());
    assert_eq!(workos.audit_requests(), requests);
}
