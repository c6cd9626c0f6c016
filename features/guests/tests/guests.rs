//! Guests, as the guest and the organization's members use them: an invitation, the lobby,
//! admission with a least-privilege conference token, and every refusal.

extern crate qubital_guests;

mod support;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use support::{
    app, create_space, invite, join, open_invite, problem_type, sign_in, status, Client, FakeLiveKit,
    LIVEKIT_SECRET,
};

fn now() -> i64 {
    Utc::now().timestamp()
}

fn instant(value: &Value) -> i64 {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap_or_else(|_| panic!("{value} is RFC 3339"))
        .timestamp()
}

/// The claims of a conference token, verified with the conference's secret (as LiveKit does).
fn claims(token: &str) -> Value {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(LIVEKIT_SECRET.as_bytes()),
        &validation,
    )
    .expect("a conference token signed with the conference's secret")
    .claims
}

/// Expires the invitation `id` now (as time would).
async fn expire(app: &qubital_testkit::TestApp, id: &str) {
    sqlx::query(
        "UPDATE guest_invites SET created_at = now() - interval '2 minutes',
                expires_at = now() - interval '1 second' WHERE id = $1::uuid",
    )
    .bind(id)
    .execute(app.db())
    .await
    .unwrap();
    sqlx::query("UPDATE guests SET expires_at = now() - interval '1 second' WHERE invite_id = $1::uuid")
        .bind(id)
        .execute(app.db())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_admitted_guest_gets_a_least_privilege_token_for_that_one_space() {
    let livekit = FakeLiveKit::start().await;
    let app = app(&livekit).spawn().await;
    let moderator = sign_in(&app.address, "mo@acme.test", "Acme", "moderator").await;
    let member = sign_in(&app.address, "mel@acme.test", "Acme", "member").await;
    let space = create_space(&moderator, "Main").await;
    let _other_space = create_space(&moderator, "Back office").await;

    let (created, url_space, token) = invite(
        &moderator,
        json!({"spaceId": space, "durationSeconds": 600, "admitBy": "anyone"}),
    )
    .await;
    assert_eq!(url_space, space);
    let invite_expiry = instant(&created["expiresAt"]);
    assert!((invite_expiry - now() - 600).abs() <= 2, "{created}");
    // The token is opaque: not a JWT, nothing readable in it.
    assert_eq!(token.matches('.').count(), 0, "{token}");
    let raw = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &token).unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(!text.contains(created["id"].as_str().unwrap()) && !text.contains(&space));

    // The guest knocks without a session, and gets none.
    let guest = Client::new(&app.address);
    let response = guest
        .send(
            "/guests/join",
            &json!({"spaceId": space, "inviteToken": token, "displayName": "  Vera Visitor "}),
        )
        .await;
    assert!(response.headers().get("set-cookie").is_none());
    let (code, joined) = support::read(response).await;
    assert_eq!(code, 200, "{joined}");
    let mut keys: Vec<&String> = joined.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["expiresAt", "guestId", "guestSecret", "status"],
        "nothing about the organization"
    );
    assert_eq!(joined["status"], "waiting");
    assert_eq!(instant(&joined["expiresAt"]), invite_expiry);
    let guest_id = joined["guestId"].as_str().unwrap();
    let secret = joined["guestSecret"].as_str().unwrap();

    let (code, waiting) = status(&guest, guest_id, secret).await;
    assert_eq!(code, 200, "{waiting}");
    assert_eq!(
        waiting,
        json!({"guestId": guest_id, "status": "waiting", "conference": null})
    );

    // The lobby, as a member sees it.
    let lobby = member.ok("/guests/list", json!({"status": "waiting"})).await;
    assert_eq!(lobby["page"]["total"], 1, "{lobby}");
    assert_eq!(lobby["data"][0]["id"], guest_id);
    assert_eq!(lobby["data"][0]["displayName"], "Vera Visitor");
    assert_eq!(lobby["data"][0]["spaceId"], space);

    let admitted = member.ok(&format!("/guests/{guest_id}/admit"), json!({})).await;
    assert_eq!(admitted["status"], "admitted");
    assert_eq!(admitted["decidedBy"], member.user_id());

    let response = guest
        .send(
            &format!("/guests/{guest_id}/status"),
            &json!({"guestSecret": secret}),
        )
        .await;
    assert!(response.headers().get("set-cookie").is_none());
    let (code, answer) = support::read(response).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["status"], "admitted");
    let conference = &answer["conference"];
    assert_eq!(conference["url"], livekit.url.as_str());
    let claims = claims(conference["token"].as_str().unwrap());
    assert_eq!(claims["exp"].as_i64().unwrap(), instant(&conference["expiresAt"]));
    assert!(
        claims["exp"].as_i64().unwrap() <= invite_expiry,
        "{claims} outlives the invite"
    );
    assert!(claims["exp"].as_i64().unwrap() >= invite_expiry - 5, "{claims}");
    assert_eq!(claims["sub"], format!("guest:{guest_id}"), "never a user id");
    assert_eq!(claims["name"], "Vera Visitor");
    let video = &claims["video"];
    assert_eq!(video["room"], space.as_str(), "that one space only");
    assert_eq!(video["roomJoin"], true);
    for grant in [
        "roomAdmin",
        "roomRecord",
        "roomCreate",
        "roomList",
        "ingressAdmin",
        "hidden",
        "recorder",
    ] {
        assert_ne!(video[grant], true, "{grant} in {video}");
    }
    assert_eq!(video["canPublishSources"], json!(["camera", "microphone"]));
    assert_eq!(video["canUpdateOwnMetadata"], false);
    let metadata: Value = serde_json::from_str(claims["metadata"].as_str().unwrap()).unwrap();
    assert_eq!(metadata["kind"], "guest");
    assert_eq!(metadata["guestId"], guest_id);
    assert!(metadata.get("organizationId").is_none() && metadata.get("userId").is_none());
}

#[tokio::test]
async fn a_long_invitation_still_gets_a_token_of_the_conference_lifetime() {
    let livekit = FakeLiveKit::start().await;
    let app = app(&livekit).spawn().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&admin, "Main").await;
    let (_, token) = open_invite(&admin, &space, 7 * 24 * 3600).await;
    let guest = Client::new(&app.address);
    let (guest_id, secret) = join(&guest, &space, &token, "Vera").await;
    admin.ok(&format!("/guests/{guest_id}/admit"), json!({})).await;
    let (_, answer) = status(&guest, &guest_id, &secret).await;
    let exp = claims(answer["conference"]["token"].as_str().unwrap())["exp"]
        .as_i64()
        .unwrap();
    assert!(
        (exp - now() - 600).abs() <= 2,
        "the conference token lifetime (10 min by default) bounds it"
    );
}

#[tokio::test]
async fn invitations_are_made_by_moderators_for_spaces_of_their_organization() {
    let livekit = FakeLiveKit::start().await;
    let app = app(&livekit).spawn().await;
    let moderator = sign_in(&app.address, "mo@acme.test", "Acme", "moderator").await;
    let member = sign_in(&app.address, "mel@acme.test", "Acme", "member").await;
    let org_guest = sign_in(&app.address, "gus@acme.test", "Acme", "guest").await;
    let outsider = sign_in(&app.address, "oz@globex.test", "Globex", "admin").await;
    let space = create_space(&moderator, "Main").await;
    let their_space = create_space(&outsider, "Theirs").await;
    let body = |space: &str| json!({"spaceId": space, "durationSeconds": 600, "admitBy": "anyone"});

    let refused = member.fails("/guests/invite", body(&space), 403).await;
    assert_eq!(problem_type(&refused), "forbidden");
    assert!(refused["detail"].as_str().unwrap().contains("InviteGuests"));
    let refused = moderator.fails("/guests/invite", body(&their_space), 404).await;
    assert_eq!(problem_type(&refused), "not-found");

    // Someone of another organization is invisible here: 404, naming the id.
    let refused = moderator
        .fails(
            "/guests/invite",
            json!({"spaceId": space, "durationSeconds": 600, "admitBy": "named", "admitterIds": [outsider.user_id()]}),
            404,
        )
        .await;
    assert_eq!(
        refused["errors"][0]["location"], "body.admitterIds[0]",
        "{refused}"
    );

    for (bad, location) in [
        (
            json!({"spaceId": space, "durationSeconds": 59, "admitBy": "anyone"}),
            "durationSeconds",
        ),
        (
            json!({"spaceId": space, "durationSeconds": 604_801, "admitBy": "anyone"}),
            "durationSeconds",
        ),
        (
            json!({"spaceId": space, "durationSeconds": 600, "admitBy": "named"}),
            "admitterIds",
        ),
        (
            json!({"spaceId": space, "durationSeconds": 600, "admitBy": "named", "admitterIds": []}),
            "admitterIds",
        ),
        (
            json!({"spaceId": space, "durationSeconds": 600, "admitBy": "anyone", "admitterIds": [member.user_id()]}),
            "admitterIds",
        ),
        // A member whose role may not admit: an organization guest.
        (
            json!({"spaceId": space, "durationSeconds": 600, "admitBy": "named", "admitterIds": [member.user_id(), org_guest.user_id()]}),
            "admitterIds[1]",
        ),
        (
            json!({"spaceId": space, "durationSeconds": 600, "admitBy": "everyone"}),
            "admitBy",
        ),
        (
            json!({"spaceId": space, "durationSeconds": 600, "admitBy": "anyone", "extra": 1}),
            "extra",
        ),
    ] {
        let refused = moderator.fails("/guests/invite", bad.clone(), 422).await;
        assert_eq!(problem_type(&refused), "validation", "{bad}");
        let errors = refused["errors"].to_string().to_lowercase();
        assert!(errors.contains(&location.to_lowercase()), "{bad}: {refused}");
    }
    let too_many: Vec<String> = (1..=21).map(|i| i.to_string()).collect();
    moderator
        .fails(
            "/guests/invite",
            json!({"spaceId": space, "durationSeconds": 600, "admitBy": "named", "admitterIds": too_many}),
            422,
        )
        .await;

    // Invitations are listed in their organization only.
    let (created, _, _) = invite(
        &moderator,
        json!({"spaceId": space, "durationSeconds": 600, "admitBy": "named", "admitterIds": [member.user_id()]}),
    )
    .await;
    let listed = moderator.ok("/guests/invites/list", json!({})).await;
    assert_eq!(listed["page"]["total"], 1);
    let listed = &listed["data"][0];
    assert_eq!(listed["id"], created["id"]);
    assert_eq!(listed["status"], "active");
    assert_eq!(listed["admitBy"], "named");
    assert_eq!(listed["admitterIds"], json!([member.user_id()]));
    assert_eq!(listed["createdBy"], moderator.user_id());
    assert_eq!(listed["revokedAt"], Value::Null);
    assert!(listed.get("inviteUrl").is_none(), "the token is shown once");
    let theirs = outsider.ok("/guests/invites/list", json!({})).await;
    assert_eq!(theirs["page"]["total"], 0);
    member.fails("/guests/invites/list", json!({}), 403).await;
    let id = created["id"].as_str().unwrap();
    let refused = outsider
        .fails(&format!("/guests/invites/{id}/revoke"), json!({}), 404)
        .await;
    assert_eq!(problem_type(&refused), "not-found");
    member
        .fails(&format!("/guests/invites/{id}/revoke"), json!({}), 403)
        .await;
}

#[tokio::test]
async fn a_token_is_refused_when_forged_for_another_space_revoked_or_expired() {
    let livekit = FakeLiveKit::start().await;
    let app = app(&livekit).spawn().await;
    let moderator = sign_in(&app.address, "mo@acme.test", "Acme", "moderator").await;
    let member = sign_in(&app.address, "mel@acme.test", "Acme", "member").await;
    let space = create_space(&moderator, "Main").await;
    let other_space = create_space(&moderator, "Other").await;
    let guest = Client::new(&app.address);
    let knock =
        |space: &str, token: &str| json!({"spaceId": space, "inviteToken": token, "displayName": "Vera"});

    let (invite_id, token) = open_invite(&moderator, &space, 600).await;
    // Not a token of this server; a tampered one.
    for bad in ["bm90LWEtdG9rZW4", "x"] {
        let refused = guest.fails("/guests/join", knock(&space, bad), 404).await;
        assert_eq!(problem_type(&refused), "guest-invite-invalid", "{bad}");
    }
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let refused = guest
        .fails(
            "/guests/join",
            knock(&space, &String::from_utf8(tampered).unwrap()),
            404,
        )
        .await;
    assert_eq!(problem_type(&refused), "guest-invite-invalid");
    // A readable JWT is not a token either.
    let refused = guest
        .fails("/guests/join", knock(&space, "eyJhbGciOiJIUzI1NiJ9.e30.x"), 422)
        .await;
    assert_eq!(problem_type(&refused), "validation");
    // The token of one space does not open another.
    let refused = guest
        .fails("/guests/join", knock(&other_space, &token), 403)
        .await;
    assert_eq!(problem_type(&refused), "guest-invite-wrong-space");
    // A blank name.
    let refused = guest
        .fails(
            "/guests/join",
            json!({"spaceId": space, "inviteToken": token, "displayName": "   "}),
            422,
        )
        .await;
    assert!(refused["errors"].to_string().contains("displayName"));

    // One guest waits, one is admitted; then the invitation is revoked.
    let (waiting, _) = join(&guest, &space, &token, "Wanda").await;
    let (admitted, admitted_secret) = join(&guest, &space, &token, "Adam").await;
    member.ok(&format!("/guests/{admitted}/admit"), json!({})).await;
    let identity = format!("guest:{admitted}");
    livekit.set_room(
        &space,
        Some(&[(
            identity.as_str(),
            platform_livekit::livekit_protocol::participant_info::Kind::Standard,
        )]),
    );
    let revoked = moderator
        .ok(&format!("/guests/invites/{invite_id}/revoke"), json!({}))
        .await;
    assert_eq!(revoked["status"], "revoked");
    assert!(revoked["revokedAt"].is_string());
    // Revoking again changes nothing.
    let again = moderator
        .ok(&format!("/guests/invites/{invite_id}/revoke"), json!({}))
        .await;
    assert_eq!(again["revokedAt"], revoked["revokedAt"]);

    // The replayed token, the admitted guest's poll, a decision: all refused as revoked.
    let refused = guest.fails("/guests/join", knock(&space, &token), 410).await;
    assert_eq!(problem_type(&refused), "guest-invite-revoked");
    let (code, refused) = status(&guest, &admitted, &admitted_secret).await;
    assert_eq!((code, problem_type(&refused)), (410, "guest-invite-revoked"));
    let refused = member
        .fails(&format!("/guests/{waiting}/admit"), json!({}), 410)
        .await;
    assert_eq!(problem_type(&refused), "guest-invite-revoked");
    // The admitted guest is disconnected from the conference (in the background).
    for _ in 0..50 {
        if livekit
            .state
            .lock()
            .unwrap()
            .removed
            .contains(&(space.clone(), identity.clone()))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        livekit.state.lock().unwrap().removed,
        [(space.clone(), identity)],
        "only the admitted guest, from that space"
    );
    // The lobby shows guests of live invitations only.
    let lobby = member.ok("/guests/list", json!({})).await;
    assert_eq!(lobby["page"]["total"], 0, "{lobby}");

    // An expired invitation.
    let (invite_id, token) = open_invite(&moderator, &space, 60).await;
    let (early, early_secret) = join(&guest, &space, &token, "Early").await;
    expire(&app, &invite_id).await;
    let refused = guest.fails("/guests/join", knock(&space, &token), 410).await;
    assert_eq!(problem_type(&refused), "guest-invite-expired");
    let (code, refused) = status(&guest, &early, &early_secret).await;
    assert_eq!((code, problem_type(&refused)), (410, "guest-invite-expired"));
    let refused = member
        .fails(&format!("/guests/{early}/deny"), json!({}), 410)
        .await;
    assert_eq!(problem_type(&refused), "guest-invite-expired");
    let listed = moderator
        .ok("/guests/invites/list", json!({"spaceId": space}))
        .await;
    let mut statuses: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["expired", "revoked"]);
}

#[tokio::test]
async fn only_allowed_members_decide_once_and_a_wrong_secret_learns_nothing() {
    let livekit = FakeLiveKit::start().await;
    let app = app(&livekit).spawn().await;
    let moderator = sign_in(&app.address, "mo@acme.test", "Acme", "moderator").await;
    let named = sign_in(&app.address, "nina@acme.test", "Acme", "member").await;
    let other_member = sign_in(&app.address, "otto@acme.test", "Acme", "member").await;
    let org_guest = sign_in(&app.address, "gus@acme.test", "Acme", "guest").await;
    let outsider = sign_in(&app.address, "oz@globex.test", "Globex", "admin").await;
    let space = create_space(&moderator, "Main").await;
    let (_, _, token) = invite(
        &moderator,
        json!({"spaceId": space, "durationSeconds": 600, "admitBy": "named", "admitterIds": [named.user_id()]}),
    )
    .await;
    let guest = Client::new(&app.address);
    let (first, first_secret) = join(&guest, &space, &token, "First").await;
    let (second, second_secret) = join(&guest, &space, &token, "Second").await;

    // Another organization does not see the guest at all.
    let refused = outsider
        .fails(&format!("/guests/{first}/admit"), json!({}), 404)
        .await;
    assert_eq!(problem_type(&refused), "not-found");
    assert_eq!(outsider.ok("/guests/list", json!({})).await["page"]["total"], 0);
    // An organization guest may not admit; a member the invitation does not name, neither
    // (nor a moderator).
    let refused = org_guest
        .fails(&format!("/guests/{first}/admit"), json!({}), 403)
        .await;
    assert_eq!(problem_type(&refused), "forbidden");
    org_guest.fails("/guests/list", json!({}), 403).await;
    for caller in [&other_member, &moderator] {
        let refused = caller
            .fails(&format!("/guests/{first}/admit"), json!({}), 403)
            .await;
        assert_eq!(problem_type(&refused), "guest-admitter-not-allowed");
    }

    named.ok(&format!("/guests/{first}/admit"), json!({})).await;
    let denied = named.ok(&format!("/guests/{second}/deny"), json!({})).await;
    assert_eq!(denied["status"], "denied");
    for (id, verb) in [(&first, "admit"), (&first, "deny"), (&second, "admit")] {
        let refused = named.fails(&format!("/guests/{id}/{verb}"), json!({}), 409).await;
        assert_eq!(problem_type(&refused), "guest-not-waiting");
    }
    let (code, answer) = status(&guest, &second, &second_secret).await;
    assert_eq!(code, 200);
    assert_eq!(
        answer,
        json!({"guestId": second, "status": "denied", "conference": null})
    );

    // Another guest's secret, an unknown guest: not found.
    let (code, refused) = status(&guest, &first, &second_secret).await;
    assert_eq!((code, problem_type(&refused)), (404, "not-found"));
    let (code, _) = status(&guest, &uuid::Uuid::new_v4().to_string(), &first_secret).await;
    assert_eq!(code, 404);
    let (code, answer) = status(&guest, &first, &first_secret).await;
    assert_eq!((code, &answer["status"]), (200, &json!("admitted")));
    let admitted = named.ok("/guests/list", json!({"status": "admitted"})).await;
    assert_eq!(admitted["page"]["total"], 1);
    assert_eq!(admitted["data"][0]["id"], first.as_str());
}

#[tokio::test]
async fn joins_are_rate_limited_per_address_and_per_invitation() {
    let livekit = FakeLiveKit::start().await;
    let app = app(&livekit)
        .arg("--guest-join-rate-limit-per-ip")
        .arg("4")
        .arg("--guest-join-rate-limit-per-invite")
        .arg("2")
        .spawn()
        .await;
    let moderator = sign_in(&app.address, "mo@acme.test", "Acme", "moderator").await;
    let space = create_space(&moderator, "Main").await;
    let (_, token) = open_invite(&moderator, &space, 600).await;
    let (_, other_token) = open_invite(&moderator, &space, 600).await;
    let guest = Client::new(&app.address);
    // The limits count one-minute windows: start early in one, so that the attempts below never
    // straddle two windows (which would reset the counts halfway).
    let second = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 60;
    if second > 40 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - second)).await;
    }

    join(&guest, &space, &token, "One").await;
    join(&guest, &space, &token, "Two").await;
    let body = |token: &str| json!({"spaceId": space, "inviteToken": token, "displayName": "Three"});
    let response = guest.send("/guests/join", &body(&token)).await;
    assert_eq!(response.headers()["retry-after"], "60");
    let (code, refused) = support::read(response).await;
    assert_eq!(
        (code, problem_type(&refused)),
        (429, "rate-limited"),
        "per invitation"
    );
    // Another invitation from the same address still gets in…
    join(&guest, &space, &other_token, "Four").await;
    // …until the address has spent its budget (every attempt counts).
    let (code, refused) = guest.post("/guests/join", body(&other_token)).await;
    assert_eq!(
        (code, problem_type(&refused)),
        (429, "rate-limited"),
        "per address"
    );
    let (code, _) = guest.post("/guests/join", body("garbage")).await;
    assert_eq!(code, 429, "the address limit comes before the token is opened");
}

#[tokio::test]
async fn old_guests_and_invitations_are_pruned() {
    let livekit = FakeLiveKit::start().await;
    let app = app(&livekit).spawn().await;
    let moderator = sign_in(&app.address, "mo@acme.test", "Acme", "moderator").await;
    let space = create_space(&moderator, "Main").await;
    let (old, old_token) = open_invite(&moderator, &space, 600).await;
    let (_, live_token) = open_invite(&moderator, &space, 600).await;
    let guest = Client::new(&app.address);
    join(&guest, &space, &old_token, "Old").await;
    let (live_guest, _) = join(&guest, &space, &live_token, "Live").await;
    assert_eq!(app.prune("guests").await, 0, "nothing is old yet");

    sqlx::query(
        "UPDATE guest_invites SET created_at = now() - interval '40 days',
                expires_at = now() - interval '31 days' WHERE id = $1::uuid",
    )
    .bind(&old)
    .execute(app.db())
    .await
    .unwrap();
    sqlx::query("UPDATE guests SET expires_at = now() - interval '31 days' WHERE invite_id = $1::uuid")
        .bind(&old)
        .execute(app.db())
        .await
        .unwrap();
    assert_eq!(app.prune("guests").await, 2, "the old invitation and its guest");
    let left: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM guests")
        .fetch_all(app.db())
        .await
        .unwrap();
    assert_eq!(left, [live_guest.parse::<uuid::Uuid>().unwrap()]);
    let listed = moderator.ok("/guests/invites/list", json!({})).await;
    assert_eq!(listed["page"]["total"], 1);
}

/// Inviting a guest, admitting, denying and revoking are administrative changes: each writes its
/// audit row (actor, targets) in its own transaction.
#[tokio::test]
async fn invitations_and_decisions_are_audited() {
    let livekit = FakeLiveKit::start().await;
    let app = app(&livekit).spawn().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&admin, "Main").await;
    let (created, _, token) = invite(
        &admin,
        json!({"spaceId": space, "durationSeconds": 600, "admitBy": "anyone"}),
    )
    .await;
    let invite_id = created["id"].as_str().unwrap().to_owned();
    let (admitted, _) = join(&Client::new(&app.address), &space, &token, "Vera").await;
    let (denied, _) = join(&Client::new(&app.address), &space, &token, "Otto").await;
    admin.ok(&format!("/guests/{admitted}/admit"), json!({})).await;
    admin.ok(&format!("/guests/{denied}/deny"), json!({})).await;

    let row = |action: &'static str| {
        let admin = &admin;
        async move {
            let rows = admin.ok("/audit-logs/list", json!({"action": action})).await;
            assert_eq!(rows["page"]["total"], 1, "{action}: {rows}");
            rows["data"][0].clone()
        }
    };
    let targets = |row: &Value| -> Vec<(String, String)> {
        row["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["type"].as_str().unwrap().to_owned(),
                    t["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let invited = row("guest.invited").await;
    assert_eq!(invited["actor"]["id"], admin.user_id(), "{invited}");
    assert!(targets(&invited).contains(&("guest_invite".into(), invite_id.clone())));
    assert!(targets(&invited).contains(&("space".into(), space.clone())));
    let admit = row("guest.admitted").await;
    assert!(
        targets(&admit).contains(&("guest".into(), admitted.clone())),
        "{admit}"
    );
    let deny = row("guest.denied").await;
    assert!(
        targets(&deny).contains(&("guest".into(), denied.clone())),
        "{deny}"
    );

    admin
        .ok(&format!("/guests/invites/{invite_id}/revoke"), json!({}))
        .await;
    // Revoking again changes nothing, and records nothing (`row` expects exactly one).
    admin
        .ok(&format!("/guests/invites/{invite_id}/revoke"), json!({}))
        .await;
    let revoked = row("guest_invite.revoked").await;
    assert!(
        targets(&revoked).contains(&("guest_invite".into(), invite_id.clone())),
        "{revoked}"
    );
}
