//! The trait is enough: a second provider, written here against `platform_calendar`'s
//! `CalendarProvider` alone and registered with one `ProviderRegistration`, is connected,
//! scheduled on, synced and disconnected through the same operations as Google, with no change
//! to the feature.

mod support;

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, OnceLock},
};

use chrono::{DateTime, Duration, Utc};
use platform_calendar::{
    pkce, Attendee, CalendarError, CalendarProvider, Changes, EventPatch, EventStatus, EventTime, NewEvent,
    ProviderAccount, ProviderEvent, SendUpdates, Tokens, Url,
};
use qubital_calendar::{jobs::Outcome, providers::ProviderRegistration};
use serde_json::json;
use support::*;

/// An in-memory calendar provider called `memo`: OAuth with PKCE, one calendar, a change log
/// whose position is the sync token.
#[derive(Debug, Default)]
struct Memo {
    state: Mutex<MemoState>,
}

#[derive(Debug, Default)]
struct MemoState {
    /// code → PKCE challenge.
    codes: BTreeMap<String, String>,
    /// Live refresh and access tokens.
    refresh_tokens: Vec<String>,
    access_tokens: Vec<String>,
    events: BTreeMap<String, ProviderEvent>,
    /// Event ids in the order they changed.
    log: Vec<String>,
    counter: u64,
}

impl MemoState {
    fn next(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}-{}", self.counter)
    }

    fn changed(&mut self, event: ProviderEvent) {
        self.log.push(event.id.clone());
        self.events.insert(event.id.clone(), event);
    }

    fn authorized(&self, token: &str) -> Result<(), CalendarError> {
        if self.access_tokens.iter().any(|t| t == token) {
            Ok(())
        } else {
            Err(CalendarError::Unauthorized)
        }
    }

    fn tokens(&mut self, refresh: bool) -> Tokens {
        let access = self.next("access");
        self.access_tokens.push(access.clone());
        let refresh_token = refresh.then(|| {
            let token = self.next("refresh");
            self.refresh_tokens.push(token.clone());
            token
        });
        Tokens {
            access_token: access,
            refresh_token,
            expires_at: Utc::now() + Duration::hours(1),
            scopes: vec!["calendar".into()],
            account: Some(ProviderAccount {
                id: "memo-user".into(),
                email: Some("ada@memo.test".into()),
            }),
        }
    }
}

impl Memo {
    fn state(&self) -> std::sync::MutexGuard<'_, MemoState> {
        self.state.lock().unwrap()
    }

    /// The user's consent: a code for the authorization URL.
    fn consent(&self, url: &str) -> (String, String) {
        let url = Url::parse(url).unwrap();
        let query: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        let mut state = self.state();
        let code = state.next("code");
        state.codes.insert(code.clone(), query["challenge"].clone());
        (code, query["state"].clone())
    }

    /// The user moves an event in the provider's UI.
    fn move_event(&self, id: &str, start: DateTime<Utc>, end: DateTime<Utc>) {
        let mut state = self.state();
        let mut event = state.events[id].clone();
        event.start = Some(EventTime::at(start.fixed_offset(), "UTC"));
        event.end = Some(EventTime::at(end.fixed_offset(), "UTC"));
        event.updated = Some(Utc::now());
        state.changed(event);
    }
}

fn memo() -> &'static Arc<Memo> {
    static MEMO: OnceLock<Arc<Memo>> = OnceLock::new();
    MEMO.get_or_init(Default::default)
}

qubital_plugin::inventory::submit! {
    ProviderRegistration { name: "memo", build: |_| Ok(Some(memo().clone() as Arc<dyn CalendarProvider>)) }
}

#[async_trait::async_trait]
impl CalendarProvider for Memo {
    fn name(&self) -> &'static str {
        "memo"
    }

    fn redirect_uri(&self) -> &str {
        "https://app.qubital.test/calendar/memo/callback"
    }

    fn authorization_url(&self, state: &str, pkce_challenge: &str, redirect_uri: &str) -> Url {
        let mut url = Url::parse("https://memo.test/consent").unwrap();
        url.query_pairs_mut()
            .append_pair("state", state)
            .append_pair("challenge", pkce_challenge)
            .append_pair("redirect_uri", redirect_uri);
        url
    }

    async fn exchange_code(
        &self,
        code: &str,
        verifier: &str,
        _redirect_uri: &str,
    ) -> Result<Tokens, CalendarError> {
        let mut state = self.state();
        match state.codes.remove(code) {
            Some(challenge) if challenge == pkce::challenge_s256(verifier) => Ok(state.tokens(true)),
            _ => Err(CalendarError::InvalidGrant),
        }
    }

    async fn refresh(&self, refresh_token: &str) -> Result<Tokens, CalendarError> {
        let mut state = self.state();
        if !state.refresh_tokens.iter().any(|t| t == refresh_token) {
            return Err(CalendarError::InvalidGrant);
        }
        Ok(state.tokens(false))
    }

    async fn revoke(&self, token: &str) -> Result<(), CalendarError> {
        let mut state = self.state();
        state.refresh_tokens.retain(|t| t != token);
        state.access_tokens.clear();
        Ok(())
    }

    async fn list_changes(
        &self,
        access_token: &str,
        _calendar_id: &str,
        sync_token: Option<&str>,
    ) -> Result<Changes, CalendarError> {
        let state = self.state();
        state.authorized(access_token)?;
        let from = sync_token.map_or(0, |t| t.parse::<usize>().unwrap());
        let mut ids: Vec<&String> = state.log[from..].iter().collect();
        ids.dedup();
        Ok(Changes {
            events: ids.into_iter().map(|id| state.events[id].clone()).collect(),
            next_sync_token: state.log.len().to_string(),
        })
    }

    async fn create_event(
        &self,
        access_token: &str,
        _calendar_id: &str,
        event: &NewEvent,
        _send_updates: SendUpdates,
    ) -> Result<ProviderEvent, CalendarError> {
        let mut state = self.state();
        state.authorized(access_token)?;
        let id = event.id.clone().unwrap_or_else(|| state.next("event"));
        if state.events.contains_key(&id) {
            return Err(CalendarError::AlreadyExists);
        }
        let stored = ProviderEvent {
            id,
            status: EventStatus::Confirmed,
            summary: event.summary.clone(),
            description: event.description.clone(),
            location: event.location.clone(),
            start: Some(event.start.clone()),
            end: Some(event.end.clone()),
            recurrence: event.recurrence.clone(),
            recurring_event_id: None,
            original_start: None,
            attendees: event.attendees.clone(),
            organizer_email: Some("ada@memo.test".into()),
            private_properties: event.private_properties.clone(),
            updated: Some(Utc::now()),
            html_link: Some("https://memo.test/event".into()),
        };
        state.changed(stored.clone());
        Ok(stored)
    }

    async fn update_event(
        &self,
        access_token: &str,
        _calendar_id: &str,
        event_id: &str,
        patch: &EventPatch,
        _send_updates: SendUpdates,
    ) -> Result<ProviderEvent, CalendarError> {
        let mut state = self.state();
        state.authorized(access_token)?;
        let mut event = state
            .events
            .get(event_id)
            .cloned()
            .ok_or(CalendarError::NotFound)?;
        if let Some(summary) = &patch.summary {
            event.summary = Some(summary.clone());
        }
        if let Some(start) = &patch.start {
            event.start = Some(start.clone());
        }
        if let Some(end) = &patch.end {
            event.end = Some(end.clone());
        }
        if let Some(attendees) = &patch.attendees {
            event.attendees = attendees
                .iter()
                .map(|a| Attendee::invite(a.email.clone()))
                .collect();
        }
        event.updated = Some(Utc::now());
        state.changed(event.clone());
        Ok(event)
    }

    async fn delete_event(
        &self,
        access_token: &str,
        _calendar_id: &str,
        event_id: &str,
        _send_updates: SendUpdates,
    ) -> Result<(), CalendarError> {
        let mut state = self.state();
        state.authorized(access_token)?;
        let mut event = state
            .events
            .get(event_id)
            .cloned()
            .ok_or(CalendarError::NotFound)?;
        event.status = EventStatus::Cancelled;
        state.changed(event);
        Ok(())
    }
}

#[tokio::test]
async fn a_second_provider_needs_only_the_trait_and_a_registration() {
    // No Google settings: only `memo` is offered.
    let app = app_builder(vec![]).spawn().await;
    let ada = sign_in(&app.address, "ada@acme.test", "Acme", "admin").await;
    let bob = sign_in(&app.address, "bob@acme.test", "Acme", "member").await;

    // Connect through the same operations.
    let url = start_connect(&ada, "memo").await;
    let (code, state) = memo().consent(&url);
    // A wrong code is refused by the provider.
    let refused = ada
        .fails(
            "/calendar/memo/callback",
            json!({"code": "nope", "state": state}),
            409,
        )
        .await;
    assert_eq!(problem_type(&refused), "calendar-access-refused");
    let url = start_connect(&ada, "memo").await;
    let (code2, state) = memo().consent(&url);
    assert_ne!(code, code2);
    let connection = ada
        .ok("/calendar/memo/callback", json!({"code": code2, "state": state}))
        .await;
    assert_eq!(connection["provider"], "memo");
    assert_eq!(connection["accountEmail"], "ada@memo.test");

    // Schedule: the event is at the provider, tagged.
    let space = create_space(&ada, "Boardroom").await;
    let event = create_event(&ada, &space, "Retro", 14, &[bob.user_id()]).await;
    let id = event["id"].as_str().unwrap().to_owned();
    let provider_id = {
        let state = memo().state();
        assert_eq!(state.events.len(), 1);
        let stored = state.events.values().next().unwrap();
        assert_eq!(stored.private_property("qubitalEventId"), Some(id.as_str()));
        assert_eq!(
            stored.location.as_deref(),
            Some(format!("{JOIN_BASE}{space}").as_str())
        );
        assert_eq!(stored.attendees[0].email, "bob@acme.test");
        stored.id.clone()
    };

    // A change at the provider comes back with the sync.
    assert_eq!(
        sync(&app).await,
        vec![Outcome::Synced {
            full: true,
            changed: 0
        }]
    );
    let start = DateTime::parse_from_rfc3339("2030-03-07T08:00:00Z")
        .unwrap()
        .to_utc();
    memo().move_event(&provider_id, start, start + Duration::minutes(45));
    assert_eq!(
        sync(&app).await,
        vec![Outcome::Synced {
            full: false,
            changed: 1
        }]
    );
    let list = events(&bob).await;
    let synced = find(&list, &id);
    assert_eq!(utc(&synced["start"]["dateTime"]), "2030-03-07T08:00:00Z");
    assert_eq!(utc(&synced["end"]["dateTime"]), "2030-03-07T08:45:00Z");
    assert_eq!(synced["htmlLink"], "https://memo.test/event");

    // Disconnect revokes at the provider.
    no_content(&ada, "/calendar/memo/disconnect").await;
    assert!(memo().state().refresh_tokens.is_empty());
    assert_eq!(events(&ada).await["page"]["total"], 0);
    // Google is known but not configured here.
    let problem = ada.fails("/calendar/google/connect", json!({}), 503).await;
    assert_eq!(problem_type(&problem), "integration-disabled");
}
