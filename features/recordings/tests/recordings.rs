//! Start, stop and list against a local LiveKit Egress service that checks tokens the way
//! LiveKit does: quota (402), conflict (409), the concurrent-start race, RBAC, tenant isolation,
//! validation, a disabled deployment.

extern crate qubital_auth;
extern crate qubital_realtime;
extern crate qubital_recordings;
extern crate qubital_spaces;

mod support;

use support::LiveKitApps as _;

use std::time::Duration;

use platform_livekit::livekit_protocol as proto;
use qubital_testkit::TestApp;
use serde_json::json;
use support::{create_space, problem_type, sign_in, start_recording, FakeLiveKit};

#[tokio::test]
async fn a_recording_is_started_listed_and_stopped_through_livekit() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    let moderator = sign_in(&app.address, "mo@acme.test", "Acme", "moderator").await;
    let member = sign_in(&app.address, "mel@acme.test", "Acme", "member").await;
    let space = create_space(&moderator, "Main").await;

    let started = moderator
        .ok(
            "/recordings/start",
            json!({"spaceId": space, "topic": "  Sprint planning ", "zone": "zone-1",
                   "participantIds": [moderator.user_id(), member.user_id(), member.user_id()]}),
        )
        .await;
    let id = started["recordingId"].as_str().unwrap().to_owned();
    assert_eq!(started["spaceId"], space.as_str());
    assert_eq!(started["topic"], "Sprint planning");
    assert_eq!(started["zone"], "zone-1");
    assert_eq!(started["status"], "active");
    assert_eq!(started["startedBy"], moderator.user_id());
    let mut participants = vec![moderator.user_id().to_owned(), member.user_id().to_owned()];
    participants.sort_by_key(|id| id.parse::<i64>().unwrap());
    assert_eq!(started["participantIds"], json!(participants));
    assert!(started.get("endedAt").is_none_or(|v| v.is_null()));
    // No vendor vocabulary on the wire.
    assert!(!started.to_string().to_lowercase().contains("egress"));

    // LiveKit was asked once, for the space's room, with an MP4 file into the bucket.
    {
        let state = livekit.state.lock().unwrap();
        assert_eq!(state.starts.len(), 1);
        let request = &state.starts[0];
        assert_eq!(request.room_name, space);
        let file = &request.file_outputs[0];
        assert_eq!(file.file_type, proto::EncodedFileType::Mp4 as i32);
        assert!(
            file.filepath.starts_with(&format!("recordings/{space}/")),
            "{}",
            file.filepath
        );
        match &file.output {
            Some(proto::encoded_file_output::Output::S3(s3)) => {
                assert_eq!(s3.bucket, "recordings-bucket");
                assert_eq!(s3.endpoint, "https://account.r2.example");
                assert_eq!(s3.access_key, "AKIDRECORDINGS");
                assert_eq!(s3.region, "auto");
                assert!(s3.force_path_style);
            }
            other => panic!("not an S3 upload: {other:?}"),
        }
        assert_eq!(state.egresses[&id].room_name, space);
    }

    // Members see it.
    let page = member.ok("/recordings/list", json!({})).await;
    assert_eq!(page["page"], json!({"limit": 20, "offset": 0, "total": 1}));
    assert_eq!(page["data"][0]["recordingId"], id.as_str());

    let stopped = moderator.ok(&format!("/recordings/{id}/stop"), json!({})).await;
    assert_eq!(stopped["status"], "ending");
    assert_eq!(
        livekit.state.lock().unwrap().egresses[&id].status,
        proto::EgressStatus::EgressEnding as i32
    );
    // Stopping twice is a conflict, not a second call.
    let (status, body) = moderator.post(&format!("/recordings/{id}/stop"), json!({})).await;
    assert_eq!((status, problem_type(&body)), (409, "recording-not-active"));

    // Once stopped, the zone may be recorded again.
    moderator
        .ok(
            "/recordings/start",
            json!({"spaceId": space, "topic": "Retro", "zone": "zone-1"}),
        )
        .await;
    assert_eq!(livekit.state.lock().unwrap().unauthenticated, 0);
}

#[tokio::test]
async fn a_stop_of_an_egress_livekit_already_ended_takes_livekits_state() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&admin, "Main").await;
    let id = start_recording(&admin, &space, "z").await;
    livekit.set(&id, |info| {
        info.status = proto::EgressStatus::EgressComplete as i32;
        info.ended_at = support::now_ns();
        info.file_results = vec![proto::FileInfo {
            duration: 65_000_000_000,
            location: "https://account.r2.example/recordings-bucket/x.mp4".into(),
            ..Default::default()
        }];
    });
    let stopped = admin.ok(&format!("/recordings/{id}/stop"), json!({})).await;
    assert_eq!(stopped["status"], "completed");
    assert_eq!(stopped["durationSeconds"], 65);
    assert!(stopped["endedAt"].is_string());
    let location: Option<String> =
        sqlx::query_scalar("SELECT file_location FROM recordings WHERE egress_id = $1")
            .bind(&id)
            .fetch_one(app.db())
            .await
            .unwrap();
    assert_eq!(
        location.as_deref(),
        Some("https://account.r2.example/recordings-bucket/x.mp4")
    );
}

/// The list needs the pool's only connection: it is served at once while LiveKit stalls.
async fn the_list_is_served(client: &qubital_testkit::Client, status: &str) {
    let page = client
        .ok_within(Duration::from_millis(900), "/recordings/list", json!({}))
        .await;
    assert_eq!(
        page["data"][0]["status"].as_str().unwrap_or("none"),
        status,
        "{page}"
    );
}

#[tokio::test]
async fn starting_and_stopping_hold_no_database_connection_while_livekit_answers() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().one_pooled_connection().spawn().await;
    let moderator = sign_in(&app.address, "mo@acme.test", "Acme", "moderator").await;
    let space = create_space(&moderator, "Main").await;

    livekit.state.lock().unwrap().start_delay = Duration::from_secs(2);
    let start = tokio::spawn({
        let moderator = moderator.clone();
        let body = json!({"spaceId": space, "topic": "T", "zone": "zone-1"});
        async move { moderator.post("/recordings/start", body).await }
    });
    while livekit.state.lock().unwrap().starts_received == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    the_list_is_served(&moderator, "none").await;
    let (status, started) = start.await.unwrap();
    assert_eq!(status, 200, "{started}");
    let id = started["recordingId"].as_str().unwrap().to_owned();

    livekit.state.lock().unwrap().stop_delay = Duration::from_secs(2);
    let stop = tokio::spawn({
        let (moderator, path) = (moderator.clone(), format!("/recordings/{id}/stop"));
        async move { moderator.post(&path, json!({})).await }
    });
    while livekit.state.lock().unwrap().stops_received == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    the_list_is_served(&moderator, "active").await;
    let (status, stopped) = stop.await.unwrap();
    assert_eq!(
        (status, stopped["status"].as_str()),
        (200, Some("ending")),
        "{stopped}"
    );
}

#[tokio::test]
async fn one_active_recording_per_zone_and_a_monthly_quota() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit
        .app()
        .arg("--recordings-monthly-quota")
        .arg("2")
        .spawn()
        .await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&admin, "Main").await;
    let start = |zone: &'static str| json!({"spaceId": space, "topic": "T", "zone": zone});

    admin.ok("/recordings/start", start("a")).await;
    let (status, body) = admin.post("/recordings/start", start("a")).await;
    assert_eq!((status, problem_type(&body)), (409, "recording-active"));
    admin.ok("/recordings/start", start("b")).await;
    let (status, body) = admin.post("/recordings/start", start("c")).await;
    assert_eq!((status, problem_type(&body)), (402, "recording-quota-exceeded"));
    // Refused starts never reached LiveKit.
    assert_eq!(livekit.state.lock().unwrap().starts.len(), 2);

    // Another organization has its own quota.
    let other = sign_in(&app.address, "olga@other.test", "Other", "admin").await;
    let other_space = create_space(&other, "Theirs").await;
    other
        .ok(
            "/recordings/start",
            json!({"spaceId": other_space, "topic": "T", "zone": "a"}),
        )
        .await;
}

#[tokio::test]
async fn concurrent_starts_for_one_zone_produce_exactly_one_recording() {
    let livekit = FakeLiveKit::start().await;
    livekit.state.lock().unwrap().start_delay = Duration::from_millis(150);
    let app = livekit.app().spawn().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&admin, "Main").await;
    let body = json!({"spaceId": space, "topic": "Race", "zone": "stage"});
    let answers =
        futures::future::join_all((0..6).map(|_| admin.post("/recordings/start", body.clone()))).await;
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(
        answers
            .iter()
            .all(|(s, b)| *s == 200 || (*s == 409 && problem_type(b) == "recording-active")),
        "{answers:?}"
    );
    assert_eq!(livekit.state.lock().unwrap().starts.len(), 1);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM recordings")
        .fetch_one(app.db())
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn permissions_follow_the_role_table() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let member = sign_in(&app.address, "mel@acme.test", "Acme", "member").await;
    let guest = sign_in(&app.address, "gus@acme.test", "Acme", "guest").await;
    let space = create_space(&admin, "Main").await;
    let id = start_recording(&admin, &space, "z").await;

    let (status, body) = member
        .post(
            "/recordings/start",
            json!({"spaceId": space, "topic": "T", "zone": "y"}),
        )
        .await;
    assert_eq!((status, problem_type(&body)), (403, "forbidden"));
    let (status, _) = member.post(&format!("/recordings/{id}/stop"), json!({})).await;
    assert_eq!(status, 403);
    let (status, _) = guest.post("/recordings/list", json!({})).await;
    assert_eq!(status, 403);
    member.ok("/recordings/list", json!({})).await;

    // Without a session: 401.
    let response = reqwest::Client::new()
        .post(app.url("/recordings/list"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn another_organizations_recordings_and_spaces_are_not_found() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let olga = sign_in(&app.address, "olga@other.test", "Other", "admin").await;
    let space = create_space(&ada, "Main").await;
    let id = ada
        .ok(
            "/recordings/start",
            json!({"spaceId": space, "topic": "Secret", "zone": "z"}),
        )
        .await["recordingId"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, body) = olga.post(&format!("/recordings/{id}/stop"), json!({})).await;
    assert_eq!((status, problem_type(&body)), (404, "not-found"));
    let (status, _) = olga
        .post(
            "/recordings/start",
            json!({"spaceId": space, "topic": "T", "zone": "other"}),
        )
        .await;
    assert_eq!(status, 404);
    let page = olga.ok("/recordings/list", json!({})).await;
    assert_eq!(page["page"]["total"], 0);
    // A participant from another organization is not a member here.
    let (status, body) = ada
        .post(
            "/recordings/start",
            json!({"spaceId": space, "topic": "T", "zone": "y", "participantIds": [olga.user_id()]}),
        )
        .await;
    assert_eq!((status, problem_type(&body)), (404, "not-found"));
    assert_eq!(body["errors"][0]["location"], "body.participantIds[0]");
    // The recording is still active for its owner.
    assert_eq!(
        ada.ok("/recordings/list", json!({})).await["data"][0]["status"],
        "active"
    );
}

#[tokio::test]
async fn the_list_filters_by_name_people_and_dates_newest_first_with_pages() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let bob = sign_in(&app.address, "bob@acme.test", "Acme", "member").await;
    let space = create_space(&ada, "Main").await;
    let mut ids = Vec::new();
    for (i, (topic, people)) in [
        ("Sprint 100% planning", vec![ada.user_id()]),
        ("Design review", vec![ada.user_id(), bob.user_id()]),
        ("sprint retro", vec![bob.user_id()]),
    ]
    .into_iter()
    .enumerate()
    {
        let zone = format!("zone-{i}");
        ids.push(
            ada.ok(
                "/recordings/start",
                json!({"spaceId": space, "topic": topic, "zone": zone, "participantIds": people}),
            )
            .await["recordingId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // Distinct start times, the first one last month.
    for (i, id) in ids.iter().enumerate() {
        sqlx::query(
            "UPDATE recordings SET started_at = now() - make_interval(days => $2) WHERE egress_id = $1",
        )
        .bind(id)
        .bind(((2 - i as i32) * 10) + 1)
        .execute(app.db())
        .await
        .unwrap();
    }
    let recording_ids = |page: &serde_json::Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["recordingId"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = bob.ok("/recordings/list", json!({})).await;
    assert_eq!(
        recording_ids(&all),
        [ids[2].clone(), ids[1].clone(), ids[0].clone()]
    );

    let sprint = bob.ok("/recordings/list", json!({"name": "SPRINT"})).await;
    assert_eq!(recording_ids(&sprint), [ids[2].clone(), ids[0].clone()]);
    // Wildcards are literal.
    let percent = bob.ok("/recordings/list", json!({"name": "100%"})).await;
    assert_eq!(recording_ids(&percent), [ids[0].clone()]);
    let none = bob.ok("/recordings/list", json!({"name": "_"})).await;
    assert_eq!(none["page"]["total"], 0);

    let with_bob = bob
        .ok("/recordings/list", json!({"people": [bob.user_id()]}))
        .await;
    assert_eq!(recording_ids(&with_bob), [ids[2].clone(), ids[1].clone()]);
    let with_both = bob
        .ok(
            "/recordings/list",
            json!({"people": [bob.user_id(), ada.user_id()]}),
        )
        .await;
    assert_eq!(recording_ids(&with_both), [ids[1].clone()]);

    let from = (chrono::Utc::now() - chrono::Duration::days(15)).to_rfc3339();
    let to = (chrono::Utc::now() - chrono::Duration::days(5)).to_rfc3339();
    let span = bob.ok("/recordings/list", json!({"from": from, "to": to})).await;
    assert_eq!(recording_ids(&span), [ids[1].clone()]);
    // A reversed span holds nothing (a fact, not a bad request).
    let reversed = bob.ok("/recordings/list", json!({"from": to, "to": from})).await;
    assert_eq!(reversed["page"]["total"], 0);

    let page = bob.ok("/recordings/list", json!({"limit": 2, "offset": 1})).await;
    assert_eq!(recording_ids(&page), [ids[1].clone(), ids[0].clone()]);
    assert_eq!(page["page"], json!({"limit": 2, "offset": 1, "total": 3}));
    let beyond = bob.ok("/recordings/list", json!({"offset": 10})).await;
    assert_eq!(
        (beyond["data"].as_array().unwrap().len(), &beyond["page"]["total"]),
        (0, &json!(3))
    );

    for (body, location) in [
        (json!({"limit": 0}), "body"),
        (json!({"limit": 101}), "body"),
        (json!({"offset": -1}), "body"),
        (json!({"people": ["abc"]}), "body.people[0]"),
        (json!({"from": "yesterday"}), "body"),
        (json!({"unknown": 1}), ""),
    ] {
        let (status, problem) = bob.post("/recordings/list", body.clone()).await;
        assert_eq!((status, problem_type(&problem)), (422, "validation"), "{body}");
        if !location.is_empty() {
            assert!(
                problem["errors"].to_string().contains(location),
                "{body}: {problem}"
            );
        }
    }
}

#[tokio::test]
async fn bad_start_requests_are_4xx_problems() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&admin, "Main").await;
    for (body, location) in [
        (json!({"spaceId": space, "topic": " ", "zone": "z"}), "body.topic"),
        (
            json!({"spaceId": space, "topic": "x".repeat(201), "zone": "z"}),
            "body.topic",
        ),
        (
            json!({"spaceId": space, "topic": "a\u{0007}b", "zone": "z"}),
            "body.topic",
        ),
        (
            json!({"spaceId": space, "topic": "T", "zone": "has space"}),
            "body.zone",
        ),
        (
            json!({"spaceId": space, "topic": "T", "zone": "../x"}),
            "body.zone",
        ),
        (
            json!({"spaceId": space, "topic": "T", "zone": "z".repeat(65)}),
            "body.zone",
        ),
        (
            json!({"spaceId": space, "topic": "T", "zone": "z", "participantIds": ["x"]}),
            "body.participantIds[0]",
        ),
        (
            json!({"spaceId": "not-a-uuid", "topic": "T", "zone": "z"}),
            "body",
        ),
        (json!({"topic": "T", "zone": "z"}), "body"),
        (
            json!({"spaceId": space, "topic": "T", "zone": "z", "egressId": "x"}),
            "",
        ),
    ] {
        let (status, problem) = admin.post("/recordings/start", body.clone()).await;
        assert_eq!(
            (status, problem_type(&problem)),
            (422, "validation"),
            "{body}: {problem}"
        );
        assert!(
            problem["errors"].to_string().contains(location),
            "{body}: {problem}"
        );
    }
    let (status, _) = admin
        .post(
            "/recordings/start",
            json!({"spaceId": "00000000-0000-4000-8000-000000000000", "topic": "T", "zone": "z"}),
        )
        .await;
    assert_eq!(status, 404);
    // A participant who is no member here is a reference to nothing visible: 404, naming it.
    let (status, problem) = admin
        .post(
            "/recordings/start",
            json!({"spaceId": space, "topic": "T", "zone": "z", "participantIds": ["999999"]}),
        )
        .await;
    assert_eq!((status, problem_type(&problem)), (404, "not-found"), "{problem}");
    assert_eq!(problem["errors"][0]["location"], "body.participantIds[0]");
    let response = admin
        .http
        .post(app.url("/recordings/start"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let (status, body) = admin.post("/recordings/EG_unknown/stop", json!({})).await;
    assert_eq!((status, problem_type(&body)), (404, "not-found"));
    assert!(livekit.state.lock().unwrap().starts.is_empty());
}

#[tokio::test]
async fn a_token_livekit_refuses_records_nothing() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit
        .app_with_secret("a-different-secret-that-livekit-does-not-know")
        .spawn()
        .await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&admin, "Main").await;
    let (status, body) = admin
        .post(
            "/recordings/start",
            json!({"spaceId": space, "topic": "T", "zone": "z"}),
        )
        .await;
    assert_eq!((status, problem_type(&body)), (503, "integration-unavailable"));
    assert!(!body.to_string().to_lowercase().contains("livekit"));
    assert_eq!(livekit.state.lock().unwrap().unauthenticated, 1);
    assert_eq!(admin.ok("/recordings/list", json!({})).await["page"]["total"], 0);
}

#[tokio::test]
async fn without_storage_development_disables_recording() {
    let livekit = FakeLiveKit::start().await;
    let app = TestApp::builder()
        .arg("--livekit-url")
        .arg(livekit.url.clone())
        .arg("--livekit-api-key")
        .arg(support::LIVEKIT_KEY)
        .arg("--livekit-api-secret")
        .arg(support::LIVEKIT_SECRET)
        .spawn()
        .await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&admin, "Main").await;
    let (status, body) = admin
        .post(
            "/recordings/start",
            json!({"spaceId": space, "topic": "T", "zone": "z"}),
        )
        .await;
    assert_eq!((status, problem_type(&body)), (503, "integration-disabled"));
    admin.ok("/recordings/list", json!({})).await;
}
