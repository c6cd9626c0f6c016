//! Calendar sync against the fake Google: connect, schedule, changes made in Google coming back
//! with the sync, a forced `410 Gone`, a revoked grant, disconnecting, and organizations kept
//! apart.

mod support;

use chrono::{DateTime, FixedOffset};
use platform_calendar::fake::Failure;
use platform_calendar::{EventTime, ResponseStatus};
use qubital_calendar::jobs::Outcome;
use serde_json::json;
use support::*;

fn paris_time(rfc3339: &str) -> EventTime {
    let at: DateTime<FixedOffset> = DateTime::parse_from_rfc3339(rfc3339).unwrap();
    EventTime::at(at, "Europe/Paris")
}

/// The provider id of the only event in Ada's Google calendar.
fn only_google_event(google: &FakeGoogle) -> String {
    let ids = google.event_ids(ACCOUNT_EMAIL);
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids[0].clone()
}

#[tokio::test]
async fn an_event_scheduled_here_lives_in_google_and_its_changes_there_come_back() {
    let google = FakeGoogle::start().await;
    let app = app(&google).await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let bob = sign_in(&app.address, "bob@acme.test", "Acme", "member").await;

    // Connect: tokens sealed at rest, never on the wire.
    let connection = connect_google(&ada, &google).await;
    assert_eq!(connection["provider"], "google");
    assert_eq!(connection["status"], "active");
    assert_eq!(connection["accountEmail"], ACCOUNT_EMAIL);
    let listed = ada.ok("/calendar/connections/list", json!({})).await;
    assert_eq!(listed["page"]["total"], 1);
    let keys: Vec<&String> = listed["data"][0].as_object().unwrap().keys().collect();
    assert!(
        !keys.iter().any(|k| k.to_lowercase().contains("token")),
        "{keys:?}"
    );
    let (sealed, refresh_token) = stored_refresh_token(&app).await;
    assert!(google.token_is_live(&refresh_token));
    assert!(!sealed
        .windows(refresh_token.len())
        .any(|w| w == refresh_token.as_bytes()));

    // Schedule: on Ada's calendar, with a join link and Bob invited.
    let space = create_space(&ada, "Boardroom").await;
    let event = create_event(&ada, &space, "Planning", 9, &[bob.user_id()]).await;
    let id = event["id"].as_str().unwrap().to_owned();
    assert_eq!(event["spaceId"], space);
    assert_eq!(event["title"], "Planning");
    assert_eq!(event["status"], "confirmed");
    assert_eq!(event["joinUrl"], format!("{JOIN_BASE}{space}"));
    assert_eq!(event["organizerId"], ada.user_id());
    assert_eq!(event["start"]["timeZone"], "Europe/Paris");
    assert_eq!(utc(&event["start"]["dateTime"]), "2030-03-04T09:00:00Z");
    assert_eq!(event["attendees"].as_array().unwrap().len(), 1);
    assert_eq!(event["attendees"][0]["userId"], bob.user_id());
    assert_eq!(event["attendees"][0]["email"], "bob@acme.test");
    assert_eq!(event["attendees"][0]["responseStatus"], "needs-action");
    let google_id = only_google_event(&google);
    let in_google = google.event(ACCOUNT_EMAIL, &google_id).unwrap();
    assert_eq!(in_google["summary"], "Planning");
    assert_eq!(in_google["location"], format!("{JOIN_BASE}{space}"));
    assert_eq!(in_google["start"]["timeZone"], "Europe/Paris");
    assert_eq!(
        in_google["extendedProperties"]["private"]["qubitalEventId"],
        id.as_str()
    );
    let writes = google.writes();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].method, "insert");
    assert_eq!(writes[0].send_updates.as_deref(), Some("all"));

    // The first sync is full and changes nothing; a second one is incremental.
    assert_eq!(
        sync(&app).await,
        vec![Outcome::Synced {
            full: true,
            changed: 0
        }]
    );
    assert_eq!(
        sync(&app).await,
        vec![Outcome::Synced {
            full: false,
            changed: 0
        }]
    );

    // In Google: Bob declines.
    google.set_response(
        ACCOUNT_EMAIL,
        &google_id,
        "bob@acme.test",
        ResponseStatus::Declined,
    );
    assert_eq!(
        sync(&app).await,
        vec![Outcome::Synced {
            full: false,
            changed: 1
        }]
    );
    let list = events(&bob).await;
    assert_eq!(find(&list, &id)["attendees"][0]["responseStatus"], "declined");
    assert_eq!(find(&list, &id)["title"], "Planning");
    // A window whose end is not after its start holds nothing; one over 366 days is refused.
    let window = |from: &str, to: &str| json!({"from": from, "to": to});
    let reversed = bob
        .ok(
            "/calendar/events/list",
            window("2030-04-01T00:00:00Z", "2030-03-01T00:00:00Z"),
        )
        .await;
    assert_eq!(reversed["page"]["total"], 0);
    bob.fails(
        "/calendar/events/list",
        window("2030-01-01T00:00:00Z", "2031-01-03T00:00:00Z"),
        422,
    )
    .await;

    // Ada moves it and edits the title.
    google.move_event(
        ACCOUNT_EMAIL,
        &google_id,
        &paris_time("2030-03-05T15:00:00+01:00"),
        &paris_time("2030-03-05T16:30:00+01:00"),
    );
    google.edit_event(ACCOUNT_EMAIL, &google_id, |event| {
        event.insert("summary".into(), json!("Planning (moved)"));
    });
    assert_eq!(
        sync(&app).await,
        vec![Outcome::Synced {
            full: false,
            changed: 1
        }]
    );

    // Visible here, to every member.
    let list = events(&bob).await;
    assert_eq!(list["page"]["total"], 1);
    let event = find(&list, &id);
    assert_eq!(event["title"], "Planning (moved)");
    assert_eq!(utc(&event["start"]["dateTime"]), "2030-03-05T14:00:00Z");
    assert_eq!(utc(&event["end"]["dateTime"]), "2030-03-05T15:30:00Z");
    assert_eq!(event["attendees"][0]["userId"], bob.user_id());
    assert_eq!(event["attendees"][0]["responseStatus"], "declined");

    // Re-running changes nothing.
    assert_eq!(
        sync(&app).await,
        vec![Outcome::Synced {
            full: false,
            changed: 0
        }]
    );

    // Cancelled in Google: cancelled here.
    google.cancel_event(ACCOUNT_EMAIL, &google_id);
    assert_eq!(
        sync(&app).await,
        vec![Outcome::Synced {
            full: false,
            changed: 1
        }]
    );
    let list = events(&ada).await;
    assert_eq!(find(&list, &id)["status"], "cancelled");

    // Events of Ada's calendar that this app did not create are never stored.
    google.insert_event(
        ACCOUNT_EMAIL,
        json!({"summary": "Dentist", "start": {"dateTime": "2030-03-06T10:00:00Z"},
               "end": {"dateTime": "2030-03-06T11:00:00Z"}}),
    );
    sync(&app).await;
    assert_eq!(events(&ada).await["page"]["total"], 1);
}

#[tokio::test]
async fn updates_and_deletes_go_to_google_first_and_only_the_organizer_makes_them() {
    let google = FakeGoogle::start().await;
    let app = app(&google).await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let bob = sign_in(&app.address, "bob@acme.test", "Acme", "member").await;
    let cy = sign_in(&app.address, "cy@acme.test", "Acme", "member").await;
    connect_google(&ada, &google).await;
    let space = create_space(&ada, "Boardroom").await;
    let event = create_event(&ada, &space, "Planning", 9, &[bob.user_id()]).await;
    let id = event["id"].as_str().unwrap().to_owned();
    let google_id = only_google_event(&google);

    // Bob is invited, not the organizer.
    let problem = bob
        .fails(
            &format!("/calendar/events/{id}/update"),
            json!({"title": "Mine"}),
            403,
        )
        .await;
    assert_eq!(problem_type(&problem), "calendar-not-organizer");
    bob.fails(&format!("/calendar/events/{id}/delete"), json!({}), 403)
        .await;

    // Ada moves it and swaps Bob for Cy.
    let updated = ada
        .ok(
            &format!("/calendar/events/{id}/update"),
            json!({
                "title": "Planning v2",
                "start": paris("2030-03-04T10:00:00Z"),
                "end": paris("2030-03-04T11:00:00Z"),
                "attendeeIds": [cy.user_id()],
            }),
        )
        .await;
    assert_eq!(updated["title"], "Planning v2");
    assert_eq!(utc(&updated["start"]["dateTime"]), "2030-03-04T10:00:00Z");
    assert_eq!(updated["attendees"].as_array().unwrap().len(), 1);
    assert_eq!(updated["attendees"][0]["userId"], cy.user_id());
    let in_google = google.event(ACCOUNT_EMAIL, &google_id).unwrap();
    assert_eq!(in_google["summary"], "Planning v2");
    assert_eq!(in_google["attendees"][0]["email"], "cy@acme.test");

    // An end before the start, a non-member: refused before Google is asked.
    let problem = ada
        .fails(
            &format!("/calendar/events/{id}/update"),
            json!({"end": paris("2030-03-04T08:00:00Z")}),
            422,
        )
        .await;
    assert_eq!(problem_type(&problem), "validation");
    let stranger = sign_in(&app.address, "eve@globex.test", "Globex", "admin").await;
    ada.fails(
        &format!("/calendar/events/{id}/update"),
        json!({"attendeeIds": [stranger.user_id()]}),
        404,
    )
    .await;
    assert_eq!(google.writes().len(), 2, "insert + one patch");

    // Deleted there, then here.
    no_content(&ada, &format!("/calendar/events/{id}/delete")).await;
    assert_eq!(
        google.event(ACCOUNT_EMAIL, &google_id).unwrap()["status"],
        "cancelled"
    );
    assert_eq!(events(&ada).await["page"]["total"], 0);
    ada.fails(&format!("/calendar/events/{id}/delete"), json!({}), 404)
        .await;
}

#[tokio::test]
async fn a_forced_410_resyncs_in_full_without_duplicates() {
    let google = FakeGoogle::start().await;
    let app = app(&google).await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    connect_google(&ada, &google).await;
    let space = create_space(&ada, "Boardroom").await;
    let first = create_event(&ada, &space, "First", 9, &[]).await;
    let second = create_event(&ada, &space, "Second", 12, &[]).await;
    assert_eq!(
        sync(&app).await,
        vec![Outcome::Synced {
            full: true,
            changed: 0
        }]
    );

    // Google forgets the sync token while the first event moves.
    let first_google = google
        .event_ids(ACCOUNT_EMAIL)
        .into_iter()
        .find(|id| google.event(ACCOUNT_EMAIL, id).unwrap()["summary"] == "First")
        .unwrap();
    google.move_event(
        ACCOUNT_EMAIL,
        &first_google,
        &paris_time("2030-03-04T18:00:00+01:00"),
        &paris_time("2030-03-04T19:00:00+01:00"),
    );
    google.force_410_next();
    assert_eq!(
        sync(&app).await,
        vec![Outcome::Synced {
            full: true,
            changed: 1
        }]
    );

    let list = events(&ada).await;
    assert_eq!(list["page"]["total"], 2, "{list}");
    assert_eq!(
        utc(&find(&list, first["id"].as_str().unwrap())["start"]["dateTime"]),
        "2030-03-04T17:00:00Z"
    );
    assert_eq!(find(&list, second["id"].as_str().unwrap())["title"], "Second");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM calendar_events")
        .fetch_one(app.db())
        .await
        .unwrap();
    assert_eq!(rows, 2);

    // And incremental again afterwards.
    assert_eq!(
        sync(&app).await,
        vec![Outcome::Synced {
            full: false,
            changed: 0
        }]
    );
}

#[tokio::test]
async fn rate_limits_and_outages_are_retried_and_expired_access_tokens_refreshed() {
    let google = FakeGoogle::start().await;
    let app = app(&google).await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    connect_google(&ada, &google).await;
    let space = create_space(&ada, "Boardroom").await;

    // Quota and 5xx answers are retried with backoff inside the provider.
    google.fail_next(1, Failure::TooManyRequests { retry_after: Some(0) });
    google.fail_next(1, Failure::BackendError);
    create_event(&ada, &space, "Planning", 9, &[]).await;
    assert_eq!(google.event_ids(ACCOUNT_EMAIL).len(), 1);
    google.fail_next(1, Failure::RateLimitExceeded);
    assert_eq!(
        sync(&app).await,
        vec![Outcome::Synced {
            full: true,
            changed: 0
        }]
    );

    // An access token Google no longer takes is refreshed once, then the call goes through.
    let refreshes = google.count_calls("POST /token");
    google.expire_access_tokens();
    create_event(&ada, &space, "Review", 11, &[]).await;
    assert_eq!(google.count_calls("POST /token"), refreshes + 1);
    assert_eq!(events(&ada).await["page"]["total"], 2);
}

#[tokio::test]
async fn a_revoked_grant_breaks_the_connection_and_the_next_read_says_so() {
    let google = FakeGoogle::start().await;
    let app = app(&google).await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    connect_google(&ada, &google).await;
    let space = create_space(&ada, "Boardroom").await;

    // Ada removes the app's access in her Google account.
    google.revoke_account(ACCOUNT_EMAIL);
    assert_eq!(sync(&app).await, vec![Outcome::Broken]);
    let listed = ada.ok("/calendar/connections/list", json!({})).await;
    assert_eq!(listed["data"][0]["status"], "broken");
    assert!(listed["data"][0]["brokenAt"].is_string());
    let problem = ada
        .fails(
            "/calendar/events/create",
            json!({"spaceId": space, "title": "x", "start": paris("2030-03-04T09:00:00Z"),
                   "end": paris("2030-03-04T10:00:00Z")}),
            409,
        )
        .await;
    assert_eq!(problem_type(&problem), "calendar-connection-broken");
    // A broken connection is not synced again…
    assert_eq!(sync(&app).await, vec![]);

    // …until Ada connects again.
    let repaired = connect_google(&ada, &google).await;
    assert_eq!(repaired["status"], "active");
    assert_eq!(repaired["id"], listed["data"][0]["id"]);
    create_event(&ada, &space, "Back", 9, &[]).await;
}

#[tokio::test]
async fn disconnect_revokes_at_google_and_forgets_the_tokens() {
    let google = FakeGoogle::start().await;
    let app = app(&google).await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    connect_google(&ada, &google).await;
    let space = create_space(&ada, "Boardroom").await;
    create_event(&ada, &space, "Planning", 9, &[]).await;
    let (_, refresh_token) = stored_refresh_token(&app).await;

    no_content(&ada, "/calendar/google/disconnect").await;
    assert!(!google.token_is_live(&refresh_token));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM calendar_connections")
        .fetch_one(app.db())
        .await
        .unwrap();
    assert_eq!(rows, 0);
    assert_eq!(
        ada.ok("/calendar/connections/list", json!({})).await["page"]["total"],
        0
    );
    assert_eq!(events(&ada).await["page"]["total"], 0);
    ada.fails("/calendar/google/disconnect", json!({}), 404).await;
    let problem = ada
        .fails(
            "/calendar/events/create",
            json!({"spaceId": space, "title": "x", "start": paris("2030-03-04T09:00:00Z"),
                   "end": paris("2030-03-04T10:00:00Z")}),
            409,
        )
        .await;
    assert_eq!(problem_type(&problem), "calendar-not-connected");
}

#[tokio::test]
async fn another_organization_sees_nothing_and_changes_nothing() {
    let google = FakeGoogle::start().await;
    let app = app(&google).await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let eve = sign_in(&app.address, "eve@globex.test", "Globex", "admin").await;
    connect_google(&ada, &google).await;
    let space = create_space(&ada, "Boardroom").await;
    let event = create_event(&ada, &space, "Planning", 9, &[]).await;
    let id = event["id"].as_str().unwrap();

    assert_eq!(events(&eve).await["page"]["total"], 0);
    let problem = eve
        .fails(
            &format!("/calendar/events/{id}/update"),
            json!({"title": "Mine"}),
            404,
        )
        .await;
    assert_eq!(problem_type(&problem), "not-found");
    eve.fails(&format!("/calendar/events/{id}/delete"), json!({}), 404)
        .await;
    assert_eq!(
        eve.ok("/calendar/connections/list", json!({})).await["page"]["total"],
        0
    );
    // Acme's space is not Globex's, even to a connected member.
    google.sign_in_as("eve@example.com");
    connect_google(&eve, &google).await;
    let problem = eve
        .fails(
            "/calendar/events/create",
            json!({"spaceId": space, "title": "x", "start": paris("2030-03-04T09:00:00Z"),
                   "end": paris("2030-03-04T10:00:00Z")}),
            404,
        )
        .await;
    assert_eq!(problem_type(&problem), "not-found");
    assert_eq!(google.event_ids("eve@example.com").len(), 0);
    assert_eq!(events(&ada).await["data"][0]["title"], "Planning");
}

#[tokio::test]
async fn a_connect_is_bound_to_the_member_and_the_browser() {
    let google = FakeGoogle::start().await;
    let app = app(&google).await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;

    // The same member in another browser (no connect cookie there).
    let url = start_connect(&ada, "google").await;
    let consent = google.authorize(&url).unwrap();
    let ada_elsewhere = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let problem = ada_elsewhere
        .fails(
            "/calendar/google/callback",
            json!({"code": consent.code, "state": consent.state}),
            400,
        )
        .await;
    assert_eq!(problem_type(&problem), "calendar-connect-invalid");
    // The state was used up: not even the right browser can replay it.
    ada.fails(
        "/calendar/google/callback",
        json!({"code": consent.code, "state": consent.state}),
        400,
    )
    .await;

    // Another member in the same browser (the cookie is there, the member is not the one).
    let url = start_connect(&ada, "google").await;
    let consent = google.authorize(&url).unwrap();
    ada.ok(
        "/auth/dev/sign-in",
        json!({"email": "bob@acme.test", "organizationName": "Acme", "role": "member"}),
    )
    .await;
    ada.fails(
        "/calendar/google/callback",
        json!({"code": consent.code, "state": consent.state}),
        400,
    )
    .await;

    // An unknown provider is 404; nothing was connected.
    ada.fails("/calendar/outlook/connect", json!({}), 404).await;
    assert_eq!(
        ada.ok("/calendar/connections/list", json!({})).await["page"]["total"],
        0
    );
    // The URL asked for offline access with PKCE.
    assert!(url.contains("access_type=offline") && url.contains("code_challenge_method=S256"));
}

#[tokio::test]
async fn without_google_settings_google_is_not_offered() {
    let app = app_builder(vec![]).spawn().await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let problem = ada.fails("/calendar/google/connect", json!({}), 503).await;
    assert_eq!(problem_type(&problem), "integration-disabled");
}

#[tokio::test]
async fn the_sync_job_brings_changes_back_within_one_interval() {
    let google = FakeGoogle::start().await;
    let app = app_syncing_every(10, google.args()).spawn().await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let bob = sign_in(&app.address, "bob@acme.test", "Acme", "member").await;
    connect_google(&ada, &google).await;
    let space = create_space(&ada, "Boardroom").await;
    let event = create_event(&ada, &space, "Planning", 9, &[bob.user_id()]).await;
    let id = event["id"].as_str().unwrap().to_owned();
    google.set_response(
        ACCOUNT_EMAIL,
        &only_google_event(&google),
        "bob@acme.test",
        ResponseStatus::Accepted,
    );

    // Nobody syncs by hand: the job does, 10 s after the connect (and every 10 s after).
    let started = std::time::Instant::now();
    loop {
        let list = events(&ada).await;
        if find(&list, &id)["attendees"][0]["responseStatus"] == "accepted" {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(45),
            "not synced: {list}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}
