//! The reconcile pass: recordings stuck unfinished take LiveKit's state; running ones are left
//! alone; ones LiveKit no longer knows fail.

extern crate qubital_auth;
extern crate qubital_realtime;
extern crate qubital_recordings;
extern crate qubital_spaces;

mod support;

use support::LiveKitApps as _;

use platform_livekit::livekit_protocol as proto;
use qubital_recordings::jobs::reconcile_once;
use serde_json::json;
use support::{create_space, sign_in, start_recording, FakeLiveKit};

#[tokio::test]
async fn stuck_recordings_take_livekits_state() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&admin, "Main").await;
    let mut ids = Vec::new();
    for zone in ["done", "running", "lost", "fresh"] {
        ids.push(
            admin
                .ok(
                    "/recordings/start",
                    json!({"spaceId": space, "topic": zone, "zone": zone}),
                )
                .await["recordingId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    livekit.set(&ids[0], |info| {
        info.status = proto::EgressStatus::EgressComplete as i32;
        info.ended_at = support::now_ns();
        info.file_results = vec![proto::FileInfo {
            duration: 30_000_000_000,
            location: "s3://recordings-bucket/done.mp4".into(),
            ..Default::default()
        }];
    });
    livekit.state.lock().unwrap().egresses.remove(&ids[2]);
    livekit.set(&ids[3], |info| {
        info.status = proto::EgressStatus::EgressComplete as i32
    });
    // All but the last have had no news for ten minutes.
    sqlx::query("UPDATE recordings SET updated_at = now() - interval '10 minutes' WHERE egress_id = ANY($1)")
        .bind(&ids[..3])
        .execute(app.db())
        .await
        .unwrap();

    assert_eq!(reconcile_once(&app.ctx).await.unwrap(), 2);
    let status = |id: String| {
        let db = app.db().clone();
        async move {
            sqlx::query_as::<_, (String, Option<i64>, Option<String>)>(
                "SELECT status, duration_ms, error FROM recordings WHERE egress_id = $1",
            )
            .bind(id)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    assert_eq!(
        status(ids[0].clone()).await,
        ("completed".into(), Some(30_000), None)
    );
    assert_eq!(status(ids[1].clone()).await.0, "active");
    assert_eq!(
        status(ids[2].clone()).await,
        ("failed".into(), None, Some("unknown to LiveKit".into()))
    );
    // Not quiet long enough: not asked about.
    assert_eq!(status(ids[3].clone()).await.0, "active");
    // A second pass changes nothing.
    assert_eq!(reconcile_once(&app.ctx).await.unwrap(), 0);
}

const RECONCILE_TOKEN: &str = "reconcile-token-for-the-scheduler-0123456789";

async fn call(app: &qubital_testkit::TestApp, authorization: Option<&str>) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new().post(app.url("/internal/recordings/reconcile"));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    support::read(request.send().await.unwrap()).await
}

#[tokio::test]
async fn the_internal_endpoint_runs_a_pass_for_the_holder_of_the_token() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit
        .app()
        .arg("--recordings-reconcile-token")
        .arg(RECONCILE_TOKEN)
        .spawn()
        .await;
    let admin = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let space = create_space(&admin, "Main").await;
    let id = start_recording(&admin, &space, "z").await;
    livekit.set(&id, |info| {
        info.status = proto::EgressStatus::EgressComplete as i32
    });
    sqlx::query("UPDATE recordings SET updated_at = now() - interval '10 minutes'")
        .execute(app.db())
        .await
        .unwrap();

    let wrong = format!("Bearer {}x", RECONCILE_TOKEN);
    for authorization in [None, Some(RECONCILE_TOKEN), Some("Bearer "), Some(wrong.as_str())] {
        let (status, problem) = call(&app, authorization).await;
        assert_eq!(
            (status, support::problem_type(&problem)),
            (401, "invalid-token"),
            "{authorization:?}"
        );
    }
    // A session cookie is not the token either (sent as the cross-site check wants a cookie
    // request: declared JSON).
    let (status, _) = support::read(
        admin
            .http
            .post(app.url("/internal/recordings/reconcile"))
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    let status_of = || async {
        sqlx::query_scalar::<_, String>("SELECT status FROM recordings")
            .fetch_one(app.db())
            .await
            .unwrap()
    };
    assert_eq!(status_of().await, "active");

    let bearer = format!("Bearer {RECONCILE_TOKEN}");
    let (status, answer) = call(&app, Some(&bearer)).await;
    assert_eq!((status, answer), (200, json!({"updated": 1})));
    assert_eq!(status_of().await, "completed");
    let (_, answer) = call(&app, Some(&bearer)).await;
    assert_eq!(answer, json!({"updated": 0}));
}

#[tokio::test]
async fn without_a_token_the_internal_endpoint_is_disabled() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    let (status, problem) = call(&app, Some("Bearer anything-at-all-anything-at-all")).await;
    assert_eq!(
        (status, support::problem_type(&problem)),
        (503, "integration-disabled")
    );
}

async fn occupancy(app: &qubital_testkit::TestApp, room: &str) -> Vec<(String, bool)> {
    sqlx::query_as(
        "SELECT o.identity, o.present FROM space_occupants o JOIN rooms r ON r.id = o.room_id
         WHERE r.room_id = $1::uuid ORDER BY o.identity",
    )
    .bind(room)
    .fetch_all(app.db())
    .await
    .unwrap()
}

#[tokio::test]
async fn occupancy_lost_to_missing_webhooks_is_corrected_from_the_room_service() {
    use platform_livekit::livekit_protocol::participant_info::Kind;
    use qubital_recordings::jobs::reconcile_occupancy_once;

    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let bob = sign_in(&app.address, "bob@acme.test", "Acme", "member").await;
    let cy = sign_in(&app.address, "cy@acme.test", "Acme", "member").await;
    let main = create_space(&ada, "Main").await;
    let closed = create_space(&ada, "Closed").await;
    let recent = create_space(&ada, "Recent").await;
    let at = chrono::Utc::now().timestamp();
    // Ada and Bob joined Main; Ada joined Closed and Recent. Their leaves never arrived.
    for (i, (room, who)) in [
        (&main, ada.user_id()),
        (&main, bob.user_id()),
        (&closed, ada.user_id()),
        (&recent, ada.user_id()),
    ]
    .into_iter()
    .enumerate()
    {
        let event = support::participant_event(&format!("EV_{i}"), "participant_joined", room, who, at, at);
        assert_eq!(support::deliver_signed(&app, &event).await, "applied");
    }
    // Ten minutes pass without news, except in Recent (which is therefore not asked about).
    // (Ageing the rows here, not dating the events back, keeps the app's own reconcile job,
    // which runs at boot, from seeing them first.)
    sqlx::query(
        "UPDATE space_occupants SET changed_at = changed_at - interval '10 minutes'
         WHERE room_id <> (SELECT id FROM rooms WHERE room_id = $1::uuid)",
    )
    .bind(&recent)
    .execute(app.db())
    .await
    .unwrap();
    // LiveKit: Bob left Main, Cy is in it (her join was lost), and so is the recorder;
    // Closed is gone altogether.
    livekit.set_room(
        &main,
        Some(&[
            (ada.user_id(), Kind::Standard),
            (cy.user_id(), Kind::Standard),
            ("EG_recorder", Kind::Egress),
        ]),
    );
    livekit.set_room(&closed, None);
    livekit.set_room(&recent, Some(&[(ada.user_id(), Kind::Standard)]));

    assert_eq!(reconcile_occupancy_once(&app.ctx).await.unwrap(), 3);
    let mut expected = vec![
        (ada.user_id().to_owned(), true),
        (bob.user_id().to_owned(), false),
        (cy.user_id().to_owned(), true),
    ];
    expected.sort();
    assert_eq!(occupancy(&app, &main).await, expected);
    assert_eq!(
        occupancy(&app, &closed).await,
        vec![(ada.user_id().to_owned(), false)]
    );
    assert_eq!(
        occupancy(&app, &recent).await,
        vec![(ada.user_id().to_owned(), true)]
    );
    // Cy counts as active today although her join was never reported.
    let cy_active: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM conference_activity_days WHERE user_id = $1)")
            .bind(cy.user_id().parse::<i64>().unwrap())
            .fetch_one(app.db())
            .await
            .unwrap();
    assert!(cy_active);
    // Every room-service request carried a valid roomAdmin token for its room.
    assert_eq!(livekit.state.lock().unwrap().room_unauthenticated, 0);

    // Asked again later (Recent included), nothing is left to correct.
    sqlx::query("UPDATE space_occupants SET changed_at = changed_at - interval '10 minutes'")
        .execute(app.db())
        .await
        .unwrap();
    assert_eq!(reconcile_occupancy_once(&app.ctx).await.unwrap(), 0);
}
