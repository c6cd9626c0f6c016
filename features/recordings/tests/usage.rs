//! The usage gauges: weekly/monthly active users (distinct users over UTC days kept in the
//! database) and people in conferences now, per organization. One test in this binary: the
//! gauges are process-wide and every app's usage job replaces them.

extern crate qubital_auth;
extern crate qubital_realtime;
extern crate qubital_recordings;
extern crate qubital_spaces;

mod support;

use support::LiveKitApps as _;

use qubital_recordings::{jobs, metrics::OrgUsage};
use support::{create_space, deliver_signed, metric, participant_event, sign_in, FakeLiveKit};

#[tokio::test]
async fn active_users_and_present_participants_are_measured_per_organization() {
    let livekit = FakeLiveKit::start().await;
    let app = livekit.app().spawn().await;
    // The app's own `recordings.usage` job runs at boot and then every minute: let its first
    // run finish, so it cannot overwrite the gauges this test refreshes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while metric(&app, "qubital_job_runs_total", &[("job", "recordings.usage")])
        .await
        .is_none()
    {
        assert!(std::time::Instant::now() < deadline, "the usage job never ran");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let bob = sign_in(&app.address, "bob@acme.test", "Acme", "member").await;
    let cy = sign_in(&app.address, "cy@acme.test", "Acme", "member").await;
    let eve = sign_in(&app.address, "eve@evil.test", "Evil", "admin").await;
    let acme = ada.organization_id().to_owned();
    let evil = eve.organization_id().to_owned();
    let space = create_space(&ada, "Main").await;
    let now = chrono::Utc::now().timestamp();

    // Ada is in the conference now; Bob was active 10 days ago, Cy 40 days ago (out of both
    // windows); Evil has had nobody.
    let joined = participant_event("EV_1", "participant_joined", &space, ada.user_id(), now, now);
    assert_eq!(deliver_signed(&app, &joined).await, "applied");
    for (user, days_ago) in [(bob.user_id(), 10), (cy.user_id(), 40)] {
        sqlx::query(
            "INSERT INTO conference_activity_days (org_id, day, user_id)
             SELECT m.org_id, (now() AT TIME ZONE 'UTC')::date - $2, m.user_id
             FROM user_organizations m WHERE m.user_id = $1",
        )
        .bind(user.parse::<i64>().unwrap())
        .bind(days_ago)
        .execute(app.db())
        .await
        .unwrap();
    }

    let measured = jobs::measure_usage(&app.ctx).await.unwrap();
    assert_eq!(
        measured,
        vec![OrgUsage {
            org_id: acme.clone(),
            weekly_active_users: 1,
            monthly_active_users: 2,
            participants_now: 1,
        }]
    );
    jobs::refresh_usage(&app.ctx).await.unwrap();
    let active = "qubital_conference_active_users";
    assert_eq!(
        metric(&app, active, &[("org_id", &acme), ("window", "7d")]).await,
        Some(1.0)
    );
    assert_eq!(
        metric(&app, active, &[("org_id", &acme), ("window", "30d")]).await,
        Some(2.0)
    );
    let now_in = "qubital_conference_participants";
    assert_eq!(metric(&app, now_in, &[("org_id", &acme)]).await, Some(1.0));
    assert_eq!(metric(&app, active, &[("org_id", &evil)]).await, None);

    // Ada leaves: nobody is in a conference, the active users stay.
    let left = participant_event("EV_2", "participant_left", &space, ada.user_id(), now, now + 60);
    assert_eq!(deliver_signed(&app, &left).await, "applied");
    jobs::refresh_usage(&app.ctx).await.unwrap();
    assert_eq!(metric(&app, now_in, &[("org_id", &acme)]).await, Some(0.0));
    assert_eq!(
        metric(&app, active, &[("org_id", &acme), ("window", "7d")]).await,
        Some(1.0)
    );

    // An organization with no activity left in 30 days loses its series.
    sqlx::query("DELETE FROM conference_activity_days")
        .execute(app.db())
        .await
        .unwrap();
    sqlx::query("DELETE FROM space_occupants")
        .execute(app.db())
        .await
        .unwrap();
    jobs::refresh_usage(&app.ctx).await.unwrap();
    assert_eq!(metric(&app, active, &[("org_id", &acme)]).await, None);
    assert_eq!(metric(&app, now_in, &[("org_id", &acme)]).await, None);
}
