//! The trait is enough: the flow the calendar feature will run (connect, create a tagged event,
//! sync, notice a change, disconnect) written once against `dyn CalendarProvider`, run for
//! Google (against the fake, configured from the CLI flags the fake hands out) and for a
//! second, in-memory provider written here with nothing but the crate's neutral types.

mod common;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use chrono::{Duration, Utc};
use clap::Parser;
use platform_calendar::{
    fake::FakeGoogle, CalendarError, CalendarProvider, Changes, EventPatch, EventStatus, EventTime,
    GoogleCalendar, GoogleCalendarSettings, NewEvent, Pkce, ProviderAccount, ProviderEvent, SendUpdates,
    Tokens, Url,
};

/// The registry the feature will keep.
type Registry = HashMap<&'static str, Arc<dyn CalendarProvider>>;

const TAG: &str = "qubital-event";

/// What the feature will do, knowing providers only by the trait. `consent` plays the user's
/// browser: given the consent URL, it returns the `code` the redirect carries.
async fn feature_flow(
    provider: &dyn CalendarProvider,
    consent: impl Fn(&Url) -> String,
    change_outside: impl Fn(&str),
) {
    let pkce = Pkce::generate();
    let url = provider.authorization_url("st", &pkce.challenge, provider.redirect_uri());
    let code = consent(&url);
    let tokens = provider
        .exchange_code(&code, &pkce.verifier, provider.redirect_uri())
        .await
        .unwrap();
    let refresh_token = tokens.refresh_token.expect("offline access");
    let access = provider.refresh(&refresh_token).await.unwrap().access_token;

    let mut event = NewEvent::new(
        "Team sync",
        EventTime::at(common::paris(2030, 6, 3, 9, 0), "Europe/Paris"),
        EventTime::at(common::paris(2030, 6, 3, 10, 0), "Europe/Paris"),
    );
    event.private_properties.insert(TAG.into(), "row-7".into());
    let created = provider
        .create_event(&access, "primary", &event, SendUpdates::All)
        .await
        .unwrap();

    let full = provider.list_changes(&access, "primary", None).await.unwrap();
    let ours: Vec<&ProviderEvent> = full
        .events
        .iter()
        .filter(|e| e.private_property(TAG) == Some("row-7"))
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].id, created.id);

    change_outside(&created.id);
    let changes = provider
        .list_changes(&access, "primary", Some(&full.next_sync_token))
        .await
        .unwrap();
    assert_eq!(changes.events.len(), 1);
    assert_eq!(changes.events[0].id, created.id);
    assert_eq!(changes.events[0].status, EventStatus::Cancelled);

    provider.revoke(&refresh_token).await.unwrap();
    assert!(matches!(
        provider.refresh(&refresh_token).await,
        Err(CalendarError::InvalidGrant)
    ));
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    google: GoogleCalendarSettings,
}

#[tokio::test]
async fn the_feature_flow_runs_on_any_provider_through_the_registry() {
    let google = FakeGoogle::start().await;
    // Configured the way the app will be: from its command line.
    let cli = Cli::try_parse_from(std::iter::once("qubital".to_owned()).chain(google.args())).unwrap();
    assert_eq!(cli.google.missing(), None);
    let google_provider = GoogleCalendar::from_settings(&cli.google).unwrap();
    let memory = Arc::new(MemoryCalendar::default());

    let mut registry: Registry = HashMap::new();
    for provider in [
        Arc::new(google_provider) as Arc<dyn CalendarProvider>,
        memory.clone(),
    ] {
        registry.insert(provider.name(), provider);
    }
    assert_eq!(registry.len(), 2);

    feature_flow(
        registry["google"].as_ref(),
        |url| google.authorize(url.as_str()).unwrap().code,
        |id| google.cancel_event(platform_calendar::fake::ACCOUNT_EMAIL, id),
    )
    .await;

    let memory_for_consent = memory.clone();
    feature_flow(
        registry["memory"].as_ref(),
        move |url| memory_for_consent.approve(url),
        |id| memory.cancel(id),
    )
    .await;
}

#[test]
fn providers_are_shareable_trait_objects() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Arc<dyn CalendarProvider>>();
    shareable::<CalendarError>();
    shareable::<Changes>();
}

/// A provider with no vendor behind it, built from the crate's neutral types alone.
#[derive(Debug, Default)]
struct MemoryCalendar {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    codes: HashMap<String, String>,
    refresh_tokens: Vec<String>,
    revoked: Vec<String>,
    events: Vec<(u64, ProviderEvent)>,
    seq: u64,
}

impl MemoryCalendar {
    /// The consent screen: remembers the challenge, hands out a code.
    fn approve(&self, url: &Url) -> String {
        let challenge = url
            .query_pairs()
            .find(|(k, _)| k == "challenge")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        let code = format!("code-{challenge}");
        self.state.lock().unwrap().codes.insert(code.clone(), challenge);
        code
    }

    fn cancel(&self, id: &str) {
        let mut state = self.state.lock().unwrap();
        state.seq += 1;
        let seq = state.seq;
        let entry = state.events.iter_mut().find(|(_, e)| e.id == id).unwrap();
        entry.0 = seq;
        entry.1.status = EventStatus::Cancelled;
    }

    fn tokens(&self, refresh_token: Option<String>) -> Tokens {
        Tokens {
            access_token: "memory-access".into(),
            refresh_token,
            expires_at: Utc::now() + Duration::hours(1),
            scopes: vec!["events".into()],
            account: Some(ProviderAccount {
                id: "m-1".into(),
                email: None,
            }),
        }
    }
}

#[async_trait::async_trait]
impl CalendarProvider for MemoryCalendar {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn redirect_uri(&self) -> &str {
        "http://127.0.0.1/calendar/memory/callback"
    }

    fn authorization_url(&self, state: &str, pkce_challenge: &str, redirect_uri: &str) -> Url {
        let mut url = Url::parse("memory://consent").unwrap();
        url.query_pairs_mut()
            .append_pair("state", state)
            .append_pair("challenge", pkce_challenge)
            .append_pair("redirect_uri", redirect_uri);
        url
    }

    async fn exchange_code(&self, code: &str, verifier: &str, _: &str) -> Result<Tokens, CalendarError> {
        let mut state = self.state.lock().unwrap();
        match state.codes.remove(code) {
            Some(challenge) if challenge == platform_calendar::pkce::challenge_s256(verifier) => {
                state.refresh_tokens.push("memory-refresh".into());
                Ok(self.tokens(Some("memory-refresh".into())))
            }
            _ => Err(CalendarError::InvalidGrant),
        }
    }

    async fn refresh(&self, refresh_token: &str) -> Result<Tokens, CalendarError> {
        let state = self.state.lock().unwrap();
        if state.refresh_tokens.iter().any(|t| t == refresh_token)
            && !state.revoked.iter().any(|t| t == refresh_token)
        {
            Ok(self.tokens(None))
        } else {
            Err(CalendarError::InvalidGrant)
        }
    }

    async fn revoke(&self, token: &str) -> Result<(), CalendarError> {
        self.state.lock().unwrap().revoked.push(token.to_owned());
        Ok(())
    }

    async fn list_changes(
        &self,
        _: &str,
        _: &str,
        sync_token: Option<&str>,
    ) -> Result<Changes, CalendarError> {
        let state = self.state.lock().unwrap();
        let since: u64 = match sync_token {
            None => 0,
            Some(token) => token.parse().map_err(|_| CalendarError::SyncTokenExpired)?,
        };
        Ok(Changes {
            events: state
                .events
                .iter()
                .filter(|(seq, _)| *seq > since)
                .map(|(_, e)| e.clone())
                .collect(),
            next_sync_token: state.seq.to_string(),
        })
    }

    async fn create_event(
        &self,
        _: &str,
        _: &str,
        event: &NewEvent,
        _: SendUpdates,
    ) -> Result<ProviderEvent, CalendarError> {
        let mut state = self.state.lock().unwrap();
        state.seq += 1;
        let created = ProviderEvent {
            id: format!("m{}", state.seq),
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
            organizer_email: None,
            private_properties: event.private_properties.clone(),
            updated: Some(Utc::now()),
            html_link: None,
        };
        let seq = state.seq;
        state.events.push((seq, created.clone()));
        Ok(created)
    }

    async fn update_event(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: &EventPatch,
        _: SendUpdates,
    ) -> Result<ProviderEvent, CalendarError> {
        Err(CalendarError::NotFound)
    }

    async fn delete_event(&self, _: &str, _: &str, id: &str, _: SendUpdates) -> Result<(), CalendarError> {
        self.cancel(id);
        Ok(())
    }
}
