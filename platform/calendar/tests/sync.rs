//! Incremental sync and event writes against the fake: a sync token returns only what changed
//! after it, pages are followed, a dead token is `SyncTokenExpired`, writes carry `sendUpdates`.

mod common;

use chrono::NaiveDate;
use common::paris;
use platform_calendar::{
    fake::{FakeGoogle, Write, ACCOUNT_EMAIL},
    Attendee, CalendarError, CalendarProvider, EventPatch, EventStatus, EventTime, NewEvent, ResponseStatus,
    SendUpdates,
};
use serde_json::json;

fn paris_time(day: u32, hour: u32, minute: u32) -> EventTime {
    EventTime::at(paris(2030, 3, day, hour, minute), "Europe/Paris")
}

#[tokio::test]
async fn a_sync_token_returns_only_the_changes_since_it() {
    let google = FakeGoogle::start().await;
    let provider = google.provider();
    let tokens = common::connect(&google, &provider).await;
    let access = tokens.access_token.as_str();

    // An event the backend creates, tagged as ours, with an attendee.
    let mut standup = NewEvent::new("Standup", paris_time(4, 9, 0), paris_time(4, 9, 15));
    standup.description = Some("Daily".into());
    standup.attendees = vec![
        Attendee::invite("bob@example.com"),
        Attendee::invite(ACCOUNT_EMAIL),
    ];
    standup
        .private_properties
        .insert("qubital".into(), "space-1".into());
    let created = provider
        .create_event(access, "primary", &standup, SendUpdates::All)
        .await
        .expect("create");
    assert_eq!(created.status, EventStatus::Confirmed);
    assert_eq!(created.summary.as_deref(), Some("Standup"));
    assert_eq!(created.start, Some(paris_time(4, 9, 0)));
    assert_eq!(created.private_property("qubital"), Some("space-1"));
    assert!(created.html_link.is_some() && created.updated.is_some());
    assert_eq!(created.organizer_email.as_deref(), Some(ACCOUNT_EMAIL));
    let bob = created.attendee("bob@example.com").unwrap();
    assert_eq!(bob.response_status, ResponseStatus::NeedsAction);
    assert!(!bob.organizer);
    let ada = created.attendee(ACCOUNT_EMAIL).unwrap();
    assert!(ada.organizer && ada.is_self);

    // An all-day event the user adds in Google.
    let holiday = google.insert_event(
        ACCOUNT_EMAIL,
        json!({"summary": "Holiday", "start": {"date": "2030-03-10"}, "end": {"date": "2030-03-11"}}),
    );

    // The first sync is full.
    let full = provider
        .list_changes(access, "primary", None)
        .await
        .expect("full sync");
    assert_eq!(full.events.len(), 2);
    let by_id = full.by_id();
    assert_eq!(
        by_id[holiday.as_str()].start,
        Some(EventTime::Date(NaiveDate::from_ymd_opt(2030, 3, 10).unwrap()))
    );
    assert_eq!(by_id[created.id.as_str()], &created);

    // Nothing changed: nothing comes back.
    let quiet = provider
        .list_changes(access, "primary", Some(&full.next_sync_token))
        .await
        .expect("incremental sync");
    assert!(quiet.events.is_empty(), "{:?}", quiet.events);

    // Changes made in Google: the standup moves and Bob accepts; the holiday is deleted; a
    // lunch appears.
    google.move_event(
        ACCOUNT_EMAIL,
        &created.id,
        &paris_time(4, 10, 0),
        &paris_time(4, 10, 30),
    );
    google.set_response(
        ACCOUNT_EMAIL,
        &created.id,
        "bob@example.com",
        ResponseStatus::Accepted,
    );
    google.cancel_event(ACCOUNT_EMAIL, &holiday);
    let lunch = google.insert_event(
        ACCOUNT_EMAIL,
        json!({
            "summary": "Lunch",
            "start": {"dateTime": "2030-03-05T12:00:00+01:00", "timeZone": "Europe/Paris"},
            "end": {"dateTime": "2030-03-05T13:00:00+01:00", "timeZone": "Europe/Paris"}
        }),
    );

    let changes = provider
        .list_changes(access, "primary", Some(&quiet.next_sync_token))
        .await
        .expect("incremental sync");
    assert_eq!(changes.events.len(), 3, "{:?}", changes.events);
    let by_id = changes.by_id();
    let moved = by_id[created.id.as_str()];
    assert_eq!(moved.start, Some(paris_time(4, 10, 0)));
    assert_eq!(moved.end, Some(paris_time(4, 10, 30)));
    assert_eq!(
        moved.attendee("bob@example.com").unwrap().response_status,
        ResponseStatus::Accepted
    );
    assert_eq!(moved.private_property("qubital"), Some("space-1"));
    assert!(moved.updated > created.updated);
    let deleted = by_id[holiday.as_str()];
    assert_eq!(deleted.status, EventStatus::Cancelled);
    assert!(deleted.is_cancelled());
    assert_eq!(by_id[lunch.as_str()].summary.as_deref(), Some("Lunch"));
    // The older token still means "since then": it sees the same changes.
    let again = provider
        .list_changes(access, "primary", Some(&full.next_sync_token))
        .await
        .unwrap();
    assert_eq!(again.events.len(), 3);

    // Our own writes are changes too.
    let patched = provider
        .update_event(
            access,
            "primary",
            &created.id,
            &EventPatch {
                summary: Some("Standup (moved)".into()),
                location: Some("Room 4".into()),
                ..EventPatch::default()
            },
            SendUpdates::All,
        )
        .await
        .expect("patch");
    assert_eq!(patched.summary.as_deref(), Some("Standup (moved)"));
    assert_eq!(patched.location.as_deref(), Some("Room 4"));
    // A patch leaves what it does not name.
    assert_eq!(patched.description.as_deref(), Some("Daily"));
    assert_eq!(patched.start, Some(paris_time(4, 10, 0)));
    provider
        .delete_event(access, "primary", &lunch, SendUpdates::All)
        .await
        .expect("delete");
    let ours = provider
        .list_changes(access, "primary", Some(&changes.next_sync_token))
        .await
        .unwrap();
    let by_id = ours.by_id();
    assert_eq!(by_id.len(), 2);
    assert_eq!(by_id[created.id.as_str()].location.as_deref(), Some("Room 4"));
    assert!(by_id[lunch.as_str()].is_cancelled());

    // What Google was asked to do, and whom to notify.
    let all = Some("all".to_owned());
    let write = |method, event_id: &str| Write {
        method,
        calendar_id: ACCOUNT_EMAIL.into(),
        event_id: event_id.into(),
        send_updates: all.clone(),
    };
    assert_eq!(
        google.writes(),
        [
            write("insert", &created.id),
            write("patch", &created.id),
            write("delete", &lunch)
        ]
    );
    // Every listing asked for deletions and unexpanded recurring events.
    let lists: Vec<String> = google
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("GET /calendar/v3/calendars/primary/events"))
        .collect();
    assert_eq!(lists.len(), 5);
    assert!(lists
        .iter()
        .all(|c| c.contains("showDeleted=true") && c.contains("singleEvents=false")));
    assert_eq!(lists.iter().filter(|c| c.contains("syncToken=")).count(), 4);
}

#[tokio::test]
async fn every_page_is_read_and_the_sync_token_comes_from_the_last() {
    let google = FakeGoogle::start().await;
    google.set_page_size(2);
    let provider = google.provider();
    let access = common::connect(&google, &provider).await.access_token;
    let ids: Vec<String> = (1..=5)
        .map(|day| {
            google.insert_event(
                ACCOUNT_EMAIL,
                json!({
                    "summary": format!("Day {day}"),
                    "start": {"date": format!("2030-04-0{day}")},
                    "end": {"date": format!("2030-04-0{}", day + 1)}
                }),
            )
        })
        .collect();
    let full = provider.list_changes(&access, "primary", None).await.unwrap();
    let mut got: Vec<&str> = full.events.iter().map(|e| e.id.as_str()).collect();
    got.sort();
    let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(got, want);
    let calls = google.calls();
    let lists: Vec<&String> = calls.iter().filter(|c| c.starts_with("GET /calendar")).collect();
    assert_eq!(lists.len(), 3, "{lists:?}");
    assert_eq!(lists.iter().filter(|c| c.contains("pageToken=")).count(), 2);

    for id in &ids[..3] {
        google.cancel_event(ACCOUNT_EMAIL, id);
    }
    let changes = provider
        .list_changes(&access, "primary", Some(&full.next_sync_token))
        .await
        .unwrap();
    assert_eq!(changes.events.len(), 3);
    assert!(changes.events.iter().all(|e| e.is_cancelled()));
    assert_eq!(google.count_calls("GET /calendar"), 5);
}

#[tokio::test]
async fn an_expired_sync_token_asks_for_a_full_sync() {
    let google = FakeGoogle::start().await;
    let provider = google.provider();
    let access = common::connect(&google, &provider).await.access_token;
    let id = google.insert_event(
        ACCOUNT_EMAIL,
        json!({"summary": "A", "start": {"date": "2030-01-01"}, "end": {"date": "2030-01-02"}}),
    );
    let full = provider.list_changes(&access, "primary", None).await.unwrap();

    google.force_410_next();
    let error = provider
        .list_changes(&access, "primary", Some(&full.next_sync_token))
        .await
        .unwrap_err();
    assert!(matches!(error, CalendarError::SyncTokenExpired), "{error:?}");
    // A 410 is not retried: one call.
    assert_eq!(google.count_calls("GET /calendar"), 2);
    // The token stays dead.
    assert!(matches!(
        provider
            .list_changes(&access, "primary", Some(&full.next_sync_token))
            .await,
        Err(CalendarError::SyncTokenExpired)
    ));

    // The full resync brings everything back and a working token.
    let resync = provider.list_changes(&access, "primary", None).await.unwrap();
    assert_eq!(resync.events.len(), 1);
    assert_eq!(resync.events[0].id, id);
    provider
        .list_changes(&access, "primary", Some(&resync.next_sync_token))
        .await
        .expect("the new token works");

    google.invalidate_sync_tokens();
    assert!(matches!(
        provider
            .list_changes(&access, "primary", Some(&resync.next_sync_token))
            .await,
        Err(CalendarError::SyncTokenExpired)
    ));
}

#[tokio::test]
async fn all_day_recurring_and_caller_identified_events() {
    let google = FakeGoogle::start().await;
    let provider = google.provider();
    let access = common::connect(&google, &provider).await.access_token;

    // A weekly meeting with a caller-chosen id, which makes the creation safe to retry.
    let id = platform_calendar::event_id_from_bytes(b"qubital-meeting-42");
    let mut weekly = NewEvent::new("Weekly", paris_time(7, 9, 0), paris_time(7, 10, 0));
    weekly.id = Some(id.clone());
    weekly.recurrence = vec!["RRULE:FREQ=WEEKLY;BYDAY=TH".into()];
    let created = provider
        .create_event(&access, "primary", &weekly, SendUpdates::None)
        .await
        .unwrap();
    assert_eq!(created.id, id);
    assert_eq!(created.recurrence, weekly.recurrence);
    assert!(matches!(
        provider
            .create_event(&access, "primary", &weekly, SendUpdates::None)
            .await,
        Err(CalendarError::AlreadyExists)
    ));
    assert_eq!(google.writes()[0].send_updates.as_deref(), Some("none"));

    // A recurring event needs a time zone, as Google insists.
    let mut zoneless = weekly.clone();
    zoneless.id = None;
    zoneless.start = EventTime::DateTime {
        at: paris(2030, 3, 7, 9, 0),
        time_zone: None,
    };
    let error = provider
        .create_event(&access, "primary", &zoneless, SendUpdates::None)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CalendarError::Rejected { status: 400, reason, .. } if reason == "required"),
        "{error:?}"
    );

    // A timed event turned into an all-day one (the patch must null the old dateTime).
    let day = |d| EventTime::Date(NaiveDate::from_ymd_opt(2030, 3, d).unwrap());
    let all_day = provider
        .update_event(
            &access,
            "primary",
            &id,
            &EventPatch {
                start: Some(day(7)),
                end: Some(day(8)),
                attendees: Some(vec![Attendee {
                    optional: true,
                    display_name: Some("Bob".into()),
                    ..Attendee::invite("bob@example.com")
                }]),
                private_properties: [("qubital".to_owned(), "m-42".to_owned())].into(),
                ..EventPatch::default()
            },
            SendUpdates::ExternalOnly,
        )
        .await
        .expect("patch to all-day");
    assert_eq!((&all_day.start, &all_day.end), (&Some(day(7)), &Some(day(8))));
    let bob = all_day.attendee("BOB@example.com").unwrap();
    assert!(bob.optional);
    assert_eq!(bob.display_name.as_deref(), Some("Bob"));
    assert_eq!(all_day.private_property("qubital"), Some("m-42"));
    let stored = google.event(ACCOUNT_EMAIL, &id).unwrap();
    assert_eq!(stored["start"], json!({"date": "2030-03-07"}));
    assert_eq!(google.writes()[1].send_updates.as_deref(), Some("externalOnly"));

    // And back to a timed event.
    let timed = provider
        .update_event(
            &access,
            "primary",
            &id,
            &EventPatch {
                start: Some(paris_time(7, 14, 0)),
                end: Some(paris_time(7, 15, 0)),
                ..EventPatch::default()
            },
            SendUpdates::All,
        )
        .await
        .expect("patch to timed");
    assert_eq!(timed.start, Some(paris_time(7, 14, 0)));
    // An end before the start is Google's `timeRangeEmpty`.
    let error = provider
        .update_event(
            &access,
            "primary",
            &id,
            &EventPatch {
                end: Some(paris_time(7, 13, 0)),
                ..EventPatch::default()
            },
            SendUpdates::All,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CalendarError::Rejected { reason, .. } if reason == "timeRangeEmpty"),
        "{error:?}"
    );

    // Deleting: once is fine, twice is NotFound (Google's 410 `deleted`), as is an unknown id.
    provider
        .delete_event(&access, "primary", &id, SendUpdates::All)
        .await
        .unwrap();
    assert!(matches!(
        provider
            .delete_event(&access, "primary", &id, SendUpdates::All)
            .await,
        Err(CalendarError::NotFound)
    ));
    assert!(matches!(
        provider
            .update_event(
                &access,
                "primary",
                "nosuchevent",
                &EventPatch::default(),
                SendUpdates::All
            )
            .await,
        Err(CalendarError::NotFound)
    ));
    // Another account's calendar is out of reach.
    assert!(matches!(
        provider
            .list_changes(&access, "someone-else@example.com", None)
            .await,
        Err(CalendarError::NotFound)
    ));
    // The calendar can also be named by its address.
    let by_address = provider.list_changes(&access, ACCOUNT_EMAIL, None).await.unwrap();
    assert!(by_address.by_id()[id.as_str()].is_cancelled());
}
