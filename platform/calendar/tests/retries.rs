//! Quota errors and outages: `429`, `403 rateLimitExceeded`/`userRateLimitExceeded` and 5xx are
//! retried with backoff, a bounded number of times, honouring `Retry-After`; other errors are not.

mod common;

use std::time::{Duration, Instant};

use platform_calendar::{
    fake::{Failure, FakeGoogle},
    CalendarError, CalendarProvider, GoogleCalendar, GoogleConfig, RetryPolicy,
};

const LIST: &str = "GET /calendar/v3/calendars/primary/events";

async fn setup(retry: RetryPolicy) -> (FakeGoogle, GoogleCalendar, String) {
    let google = FakeGoogle::start().await;
    let provider = GoogleCalendar::new(GoogleConfig {
        retry,
        ..google.config()
    })
    .unwrap();
    let access = common::connect(&google, &provider).await.access_token;
    (google, provider, access)
}

#[tokio::test]
async fn rate_limits_and_outages_are_retried_until_they_pass() {
    let (google, provider, access) = setup(RetryPolicy::fast()).await;
    for (failure, n) in [
        (Failure::TooManyRequests { retry_after: None }, 2),
        (Failure::RateLimitExceeded, 2),
        (Failure::UserRateLimitExceeded, 3),
        (Failure::BackendError, 4),
    ] {
        let before = google.count_calls(LIST);
        google.fail_next(n, failure.clone());
        provider
            .list_changes(&access, "primary", None)
            .await
            .unwrap_or_else(|e| panic!("{failure:?} x{n} was not retried away: {e:?}"));
        assert_eq!(google.count_calls(LIST) - before, n + 1, "{failure:?}");
    }
}

#[tokio::test]
async fn retries_are_bounded() {
    let policy = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(50),
    };
    let (google, provider, access) = setup(policy).await;

    google.fail_next(10, Failure::BackendError);
    let error = provider.list_changes(&access, "primary", None).await.unwrap_err();
    assert!(matches!(error, CalendarError::Unavailable(_)), "{error:?}");
    assert_eq!(google.count_calls(LIST), 3);

    let (google, provider, access) = setup(policy).await;
    google.fail_next(10, Failure::RateLimitExceeded);
    let error = provider.list_changes(&access, "primary", None).await.unwrap_err();
    assert!(
        matches!(error, CalendarError::RateLimited { retry_after: None }),
        "{error:?}"
    );
    assert_eq!(google.count_calls(LIST), 3);

    let (google, provider, access) = setup(RetryPolicy::never()).await;
    google.fail_next(1, Failure::TooManyRequests { retry_after: None });
    assert!(matches!(
        provider.list_changes(&access, "primary", None).await,
        Err(CalendarError::RateLimited { .. })
    ));
    assert_eq!(google.count_calls(LIST), 1);
}

#[tokio::test]
async fn other_forbidden_answers_are_not_retried() {
    let (google, provider, access) = setup(RetryPolicy::fast()).await;
    google.fail_next(
        3,
        Failure::Forbidden {
            reason: "dailyLimitExceeded".into(),
        },
    );
    let error = provider.list_changes(&access, "primary", None).await.unwrap_err();
    assert!(
        matches!(&error, CalendarError::Rejected { status: 403, reason, .. } if reason == "dailyLimitExceeded"),
        "{error:?}"
    );
    assert_eq!(google.count_calls(LIST), 1);
}

#[tokio::test]
async fn retry_after_is_honoured_and_a_long_one_ends_the_retries() {
    let (google, provider, access) = setup(RetryPolicy::fast()).await;
    google.fail_next(1, Failure::TooManyRequests { retry_after: Some(1) });
    let started = Instant::now();
    provider.list_changes(&access, "primary", None).await.unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert_eq!(google.count_calls(LIST), 2);

    // Longer than the policy's longest wait: the caller gets it, nothing sleeps.
    google.fail_next(
        1,
        Failure::TooManyRequests {
            retry_after: Some(120),
        },
    );
    let started = Instant::now();
    let error = provider.list_changes(&access, "primary", None).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        matches!(error, CalendarError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(120)),
        "{error:?}"
    );
    assert_eq!(google.count_calls(LIST), 3);
}

#[tokio::test]
async fn writes_are_retried_too() {
    let (google, provider, access) = setup(RetryPolicy::fast()).await;
    let event = platform_calendar::NewEvent::new(
        "Retry me",
        platform_calendar::EventTime::at(common::paris(2030, 1, 1, 9, 0), "Europe/Paris"),
        platform_calendar::EventTime::at(common::paris(2030, 1, 1, 10, 0), "Europe/Paris"),
    );
    google.fail_next(2, Failure::UserRateLimitExceeded);
    let created = provider
        .create_event(&access, "primary", &event, platform_calendar::SendUpdates::All)
        .await
        .unwrap();
    // Refused attempts created nothing: exactly one event.
    assert_eq!(
        google.event_ids(platform_calendar::fake::ACCOUNT_EMAIL),
        [created.id]
    );
    assert_eq!(
        google.count_calls("POST /calendar/v3/calendars/primary/events"),
        3
    );
}
