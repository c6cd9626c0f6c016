//! Participant, track and room webhooks: who is in a space's conference now, who was active on
//! which day, and the usage counters on `/metrics`, labelled by the organization's public id.
//! A redelivery or a reordered report never counts twice or rewinds the state.

extern crate qubital_auth;
extern crate qubital_realtime;
extern crate qubital_recordings;
extern crate qubital_spaces;

mod support;

use support::LiveKitApps as _;

use platform_livekit::livekit_protocol as proto;
use qubital_testkit::TestApp;
use serde_json::json;
use support::{
    create_space, deliver, deliver_signed, metric, participant_event, sign, sign_in, start_recording,
    FakeLiveKit, LIVEKIT_KEY,
};

async fn present(app: &TestApp, identity: &str) -> Option<bool> {
    sqlx::query_scalar("SELECT present FROM space_occupants WHERE identity = $1")
        .bind(identity)
        .fetch_optional(app.db())
        .await
        .unwrap()
}

fn track(id: &str, room: &str, identity: &str, source: proto::TrackSource) -> proto::WebhookEvent {
    let mut event = participant_event(id, "track_published", room, identity, 0, 0);
    event.track = Some(proto::TrackInfo {
        source: source as i32,
        ..Default::default()
    });
    event
}

#[tokio::test]
async fn an_identity_that_names_no_user_is_an_occupant_but_neither_listed_nor_active() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&ada, "Main").await;
    let now = chrono::Utc::now().timestamp();

    // A number no user has (a deleted user, a token minted elsewhere), a guest's identity, and
    // Ada, all in the room.
    for (i, identity) in ["987654321", "guest-1", ada.user_id()].into_iter().enumerate() {
        let joined = participant_event(
            &format!("EV_{i}"),
            "participant_joined",
            &space,
            identity,
            now,
            now,
        );
        assert_eq!(deliver_signed(&app, &joined).await, "applied", "{identity}");
        assert_eq!(present(&app, identity).await, Some(true), "{identity}");
    }
    let user: Option<i64> =
        sqlx::query_scalar("SELECT user_id FROM space_occupants WHERE identity = '987654321'")
            .fetch_one(app.db())
            .await
            .unwrap();
    assert_eq!(user, None);
    // Only Ada is a user in the space, and only she was active today.
    let shown = ada.ok(&format!("/spaces/{space}/get"), json!({})).await;
    assert_eq!(shown["occupantUserIds"], json!([ada.user_id()]));
    let active: Vec<i64> = sqlx::query_scalar("SELECT user_id FROM conference_activity_days")
        .fetch_all(app.db())
        .await
        .unwrap();
    assert_eq!(active, vec![ada.user_id().parse::<i64>().unwrap()]);
}

#[tokio::test]
async fn participant_and_track_events_feed_occupancy_activity_and_counters_once() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let bob = sign_in(&app.address, "bob@acme.test", "Acme", "member").await;
    let org = ada.organization_id().to_owned();
    let space = create_space(&ada, "Main").await;
    let joins = "qubital_conference_participant_joins_total";
    let t0 = chrono::Utc::now().timestamp() - 600;

    // Bob joined ten minutes ago (reported just now: news older than two minutes would be
    // the app's own reconcile job's to check); LiveKit's retry of the same event is recognised.
    let joined = participant_event("EV_j1", "participant_joined", &space, bob.user_id(), t0, t0 + 590);
    assert_eq!(deliver_signed(&app, &joined).await, "applied");
    assert_eq!(deliver_signed(&app, &joined).await, "duplicate");
    assert_eq!(metric(&app, joins, &[("org_id", &org)]).await, Some(1.0));
    assert_eq!(present(&app, bob.user_id()).await, Some(true));
    // The space shows him in it, to the members of its organization.
    let shown = ada.ok(&format!("/spaces/{space}/get"), json!({})).await;
    assert_eq!(shown["occupantUserIds"], json!([bob.user_id()]));
    let listed = ada.ok("/spaces/list", json!({})).await;
    assert_eq!(listed["data"][0]["occupantUserIds"], json!([bob.user_id()]));
    let received = "qubital_livekit_webhook_events_received_total";
    assert_eq!(
        metric(
            &app,
            received,
            &[("org_id", &org), ("event", "participant_joined")]
        )
        .await,
        Some(2.0),
        "every verified delivery is received, redeliveries included"
    );

    // The recorder joins the room too, as an egress participant: not a person.
    let mut recorder = participant_event("EV_j2", "participant_joined", &space, "EG_rec", t0, t0);
    recorder.participant.as_mut().unwrap().kind = proto::participant_info::Kind::Egress as i32;
    assert_eq!(deliver_signed(&app, &recorder).await, "ignored");
    assert_eq!(metric(&app, joins, &[("org_id", &org)]).await, Some(1.0));

    // Publications by source.
    for (i, source) in [
        proto::TrackSource::Camera,
        proto::TrackSource::Microphone,
        proto::TrackSource::ScreenShare,
        proto::TrackSource::Camera,
    ]
    .into_iter()
    .enumerate()
    {
        let event = track(&format!("EV_t{i}"), &space, bob.user_id(), source);
        assert_eq!(deliver_signed(&app, &event).await, "applied");
    }
    let publications = "qubital_conference_track_publications_total";
    for (source, count) in [("camera", 2.0), ("microphone", 1.0), ("screen_share", 1.0)] {
        assert_eq!(
            metric(&app, publications, &[("org_id", &org), ("source", source)]).await,
            Some(count),
            "{source}"
        );
    }

    // Bob leaves ten minutes after joining: 600 participant-seconds.
    let left = participant_event("EV_l1", "participant_left", &space, bob.user_id(), t0, t0 + 600);
    assert_eq!(deliver_signed(&app, &left).await, "applied");
    assert_eq!(deliver_signed(&app, &left).await, "duplicate");
    assert_eq!(present(&app, bob.user_id()).await, Some(false));
    let shown = ada.ok(&format!("/spaces/{space}/get"), json!({})).await;
    assert_eq!(shown["occupantUserIds"], json!([]));
    assert_eq!(
        metric(
            &app,
            "qubital_conference_participant_leaves_total",
            &[("org_id", &org)]
        )
        .await,
        Some(1.0)
    );
    assert_eq!(
        metric(
            &app,
            "qubital_conference_participant_seconds_total",
            &[("org_id", &org)]
        )
        .await,
        Some(600.0)
    );
    // A join reported late (older than the leave) is counted (it is a join) but does not bring
    // him back.
    let late = participant_event("EV_j3", "participant_joined", &space, bob.user_id(), t0, t0 + 300);
    deliver_signed(&app, &late).await;
    assert_eq!(present(&app, bob.user_id()).await, Some(false));

    // Ada joins, then the room closes: nobody is left in it.
    let joined = participant_event(
        "EV_j4",
        "participant_joined",
        &space,
        ada.user_id(),
        t0 + 700,
        t0 + 700,
    );
    deliver_signed(&app, &joined).await;
    assert_eq!(present(&app, ada.user_id()).await, Some(true));
    let finished = proto::WebhookEvent {
        id: "EV_r1".into(),
        event: "room_finished".into(),
        room: Some(proto::Room {
            name: space.clone(),
            ..Default::default()
        }),
        created_at: t0 + 800,
        ..Default::default()
    };
    assert_eq!(deliver_signed(&app, &finished).await, "applied");
    assert_eq!(present(&app, ada.user_id()).await, Some(false));

    // Both were active today (UTC), once each however often they joined.
    let active: Vec<String> =
        sqlx::query_scalar("SELECT user_id::text FROM conference_activity_days ORDER BY user_id")
            .fetch_all(app.db())
            .await
            .unwrap();
    let mut expected = vec![ada.user_id().to_owned(), bob.user_id().to_owned()];
    expected.sort_by_key(|id| id.parse::<i64>().unwrap());
    assert_eq!(active, expected);

    // A room no space owns (another deployment's, a deleted space): accepted, not attributed.
    let stranger = participant_event(
        "EV_j5",
        "participant_joined",
        "7d4c6a2e-0000-4000-8000-000000000000",
        "999",
        t0,
        t0,
    );
    assert_eq!(deliver_signed(&app, &stranger).await, "ignored");
    assert!(
        metric(
            &app,
            received,
            &[("org_id", "unknown"), ("event", "participant_joined")]
        )
        .await
        .unwrap()
            >= 1.0
    );
    // Bob's two joins and Ada's; the stranger is not Acme's.
    assert_eq!(metric(&app, joins, &[("org_id", &org)]).await, Some(3.0));

    // Refused deliveries are counted by reason, never attributed.
    let rejected = "qubital_livekit_webhook_events_rejected_total";
    let before = metric(&app, rejected, &[("reason", "signature")])
        .await
        .unwrap_or(0.0);
    let body = serde_json::to_string(&participant_event(
        "EV_x",
        "participant_joined",
        &space,
        "1",
        t0,
        t0,
    ))
    .unwrap();
    let forged = sign(&body, LIVEKIT_KEY, "not-the-secret-not-the-secret-not-the");
    assert_eq!(deliver(&app, &body, Some(&forged)).await.0, 401);
    let after = metric(&app, rejected, &[("reason", "signature")]).await.unwrap();
    assert!(after >= before + 1.0);
}

#[tokio::test]
async fn recordings_started_and_failed_are_counted_by_organization_once() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let org = ada.organization_id().to_owned();
    let space = create_space(&ada, "Main").await;
    let id = start_recording(&ada, &space, "z").await;
    assert_eq!(
        metric(&app, "qubital_recordings_started_total", &[("org_id", &org)]).await,
        Some(1.0)
    );
    let failed = proto::WebhookEvent {
        id: "EV_f".into(),
        event: "egress_ended".into(),
        egress_info: Some(proto::EgressInfo {
            egress_id: id.clone(),
            room_name: space.clone(),
            status: proto::EgressStatus::EgressFailed as i32,
            error: "boom".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(deliver_signed(&app, &failed).await, "applied");
    let mut again = failed.clone();
    again.id = "EV_f2".into();
    assert_eq!(deliver_signed(&app, &again).await, "ignored");
    assert_eq!(
        metric(&app, "qubital_recordings_failed_total", &[("org_id", &org)]).await,
        Some(1.0)
    );
    assert_eq!(
        metric(
            &app,
            "qubital_livekit_webhook_events_received_total",
            &[("org_id", &org), ("event", "egress_ended")]
        )
        .await,
        Some(2.0)
    );
}

#[tokio::test]
async fn housekeeping_prunes_only_what_has_expired() {
    let app = FakeLiveKit::start().await.app().spawn().await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&ada, "Main").await;
    let db = app.db();
    let org_id: i64 = sqlx::query_scalar("SELECT id FROM organizations")
        .fetch_one(db)
        .await
        .unwrap();
    let user_id: i64 = ada.user_id().parse().unwrap();
    sqlx::query(
        "INSERT INTO livekit_webhook_events (event_id, event, received_at) VALUES
             ('EV_old', 'participant_joined', now() - interval '8 days'),
             ('EV_new', 'participant_joined', now() - interval '6 days')",
    )
    .execute(db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO conference_activity_days (org_id, day, user_id) VALUES
             ($1, current_date - 40, $2), ($1, current_date - 29, $2)",
    )
    .bind(org_id)
    .bind(user_id)
    .execute(db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO space_occupants (room_id, identity, present, joined_at, changed_at)
         SELECT r.id, v.identity, v.present, now() - v.joined, now() - v.changed
         FROM rooms r, (VALUES ('gone', false, interval '9 days', interval '8 days'),
                               ('recent', false, interval '2 days', interval '1 day'),
                               ('still-here', true, interval '9 days', interval '9 days'))
                       AS v (identity, present, joined, changed)
         WHERE r.room_id = $1::uuid",
    )
    .bind(&space)
    .execute(db)
    .await
    .unwrap();

    // (The app's own hourly jobs run the same code at boot; whichever runs last finds less.)
    let deleted = app.prune("recordings").await;
    assert!(deleted <= 2, "{deleted}");
    // The spaces feature prunes its departed occupants.
    let departed = app.prune("spaces").await;
    assert!(departed <= 1, "{departed}");
    let left: Vec<String> = sqlx::query_scalar(
        "SELECT event_id FROM livekit_webhook_events
         UNION ALL SELECT (current_date - day)::text FROM conference_activity_days
         UNION ALL SELECT identity FROM space_occupants ORDER BY 1",
    )
    .fetch_all(db)
    .await
    .unwrap();
    assert_eq!(left, ["29", "EV_new", "recent", "still-here"]);
    // Idempotent.
    assert_eq!(app.prune("recordings").await, 0);
    assert_eq!(app.prune("spaces").await, 0);
}
