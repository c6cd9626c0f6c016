//! Google's JSON, as documented for the OAuth 2.0 endpoints and the Calendar API v3 `Event`
//! resource, and its translation to and from the neutral model. Nothing here leaves the crate.
//!
//! Reading is lenient where Google may add values (an unknown status or response reads as the
//! most neutral known one) and strict where a wrong guess would corrupt data (a time that does
//! not parse fails the call).

use std::collections::BTreeMap;

use base64::{
    engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD},
    Engine,
};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::{
    Attendee, CalendarError, EventPatch, EventStatus, EventTime, NewEvent, ProviderAccount, ProviderEvent,
    ResponseStatus,
};

/// A successful answer of the token endpoint (authorization-code and refresh-token grants).
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub access_token: String,
    /// Seconds.
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    /// Space-separated.
    #[serde(default)]
    pub scope: String,
    /// Present when `openid` was granted.
    pub id_token: Option<String>,
}

/// An OAuth error answer (RFC 6749 §5.2), which the token and revoke endpoints both use.
#[derive(Deserialize, Default)]
pub(crate) struct OAuthError {
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub error_description: String,
}

/// A Calendar API error answer: `{"error": {"code", "message", "errors": [{"reason", …}]}}`.
#[derive(Deserialize, Default)]
pub(crate) struct ApiErrorBody {
    #[serde(default)]
    pub error: ApiError,
}

#[derive(Deserialize, Default)]
pub(crate) struct ApiError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub errors: Vec<ApiErrorItem>,
    /// The gRPC-style status newer answers carry (`PERMISSION_DENIED`).
    #[serde(default)]
    pub status: String,
}

#[derive(Deserialize, Default)]
pub(crate) struct ApiErrorItem {
    #[serde(default)]
    pub reason: String,
}

impl ApiErrorBody {
    pub fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// The first `errors[].reason`, else the `status`.
    pub fn reason(&self) -> &str {
        self.error
            .errors
            .iter()
            .map(|e| e.reason.as_str())
            .find(|r| !r.is_empty())
            .unwrap_or(&self.error.status)
    }
}

/// One page of `events.list`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventsPage {
    #[serde(default)]
    pub items: Vec<WireEvent>,
    pub next_page_token: Option<String>,
    pub next_sync_token: Option<String>,
}

/// The `Event` resource, the fields the model carries.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireEvent {
    pub id: String,
    pub status: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub start: Option<WireTime>,
    pub end: Option<WireTime>,
    #[serde(default)]
    pub recurrence: Vec<String>,
    pub recurring_event_id: Option<String>,
    pub original_start_time: Option<WireTime>,
    #[serde(default)]
    pub attendees: Vec<WireAttendee>,
    pub organizer: Option<WirePerson>,
    pub extended_properties: Option<WireExtendedProperties>,
    pub updated: Option<String>,
    pub html_link: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireTime {
    pub date: Option<String>,
    pub date_time: Option<String>,
    pub time_zone: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireAttendee {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub response_status: Option<String>,
    #[serde(default)]
    pub organizer: bool,
    #[serde(default, rename = "self")]
    pub is_self: bool,
    #[serde(default)]
    pub optional: bool,
}

#[derive(Deserialize)]
pub(crate) struct WirePerson {
    pub email: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct WireExtendedProperties {
    #[serde(default)]
    pub private: BTreeMap<String, String>,
}

fn undecodable(what: &str, value: &str) -> CalendarError {
    CalendarError::Unavailable(format!("Google sent an unreadable {what}: {value:?}"))
}

impl WireTime {
    fn into_model(self) -> Result<EventTime, CalendarError> {
        match (self.date, self.date_time) {
            (_, Some(date_time)) => {
                let at = DateTime::parse_from_rfc3339(&date_time)
                    .map_err(|_| undecodable("dateTime", &date_time))?;
                Ok(EventTime::DateTime {
                    at,
                    time_zone: self.time_zone.filter(|z| !z.is_empty()),
                })
            }
            (Some(date), None) => NaiveDate::parse_from_str(&date, "%Y-%m-%d")
                .map(EventTime::Date)
                .map_err(|_| undecodable("date", &date)),
            (None, None) => Err(undecodable("event time", "neither date nor dateTime")),
        }
    }
}

fn status(value: Option<&str>) -> EventStatus {
    match value {
        Some("cancelled") => EventStatus::Cancelled,
        Some("tentative") => EventStatus::Tentative,
        // Google's default, and the safest reading of a value it may add later.
        _ => EventStatus::Confirmed,
    }
}

fn response_status(value: Option<&str>) -> ResponseStatus {
    match value {
        Some("accepted") => ResponseStatus::Accepted,
        Some("declined") => ResponseStatus::Declined,
        Some("tentative") => ResponseStatus::Tentative,
        _ => ResponseStatus::NeedsAction,
    }
}

impl WireEvent {
    pub fn into_model(self) -> Result<ProviderEvent, CalendarError> {
        let updated = self
            .updated
            .map(|u| {
                DateTime::parse_from_rfc3339(&u)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| undecodable("updated", &u))
            })
            .transpose()?;
        Ok(ProviderEvent {
            id: self.id,
            status: status(self.status.as_deref()),
            summary: self.summary,
            description: self.description,
            location: self.location,
            start: self.start.map(WireTime::into_model).transpose()?,
            end: self.end.map(WireTime::into_model).transpose()?,
            recurrence: self.recurrence,
            recurring_event_id: self.recurring_event_id,
            original_start: self.original_start_time.map(WireTime::into_model).transpose()?,
            // An attendee without an address (Google only says "if available") cannot be
            // matched to anyone: left out.
            attendees: self
                .attendees
                .into_iter()
                .filter_map(|a| {
                    Some(Attendee {
                        email: a.email.filter(|e| !e.is_empty())?,
                        display_name: a.display_name,
                        response_status: response_status(a.response_status.as_deref()),
                        organizer: a.organizer,
                        is_self: a.is_self,
                        optional: a.optional,
                    })
                })
                .collect(),
            organizer_email: self.organizer.and_then(|o| o.email),
            private_properties: self.extended_properties.map(|p| p.private).unwrap_or_default(),
            updated,
            html_link: self.html_link,
        })
    }
}

/// An `EventDateTime`. In a patch the other representation is nulled explicitly: Google merges
/// a patched object field by field, so turning a timed event into an all-day one (or back)
/// would otherwise keep the old `dateTime` (or `date`) beside the new one.
fn time_json(time: &EventTime, for_patch: bool) -> Value {
    let mut object = Map::new();
    match time {
        EventTime::Date(date) => {
            object.insert("date".into(), json!(date.format("%Y-%m-%d").to_string()));
            if for_patch {
                object.insert("dateTime".into(), Value::Null);
                object.insert("timeZone".into(), Value::Null);
            }
        }
        EventTime::DateTime { at, time_zone } => {
            object.insert(
                "dateTime".into(),
                json!(at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            );
            match time_zone {
                Some(zone) => {
                    object.insert("timeZone".into(), json!(zone));
                }
                None if for_patch => {
                    object.insert("timeZone".into(), Value::Null);
                }
                None => {}
            }
            if for_patch {
                object.insert("date".into(), Value::Null);
            }
        }
    }
    Value::Object(object)
}

fn attendees_json(attendees: &[Attendee]) -> Value {
    attendees
        .iter()
        .map(|a| {
            let mut object = Map::new();
            object.insert("email".into(), json!(a.email));
            if let Some(name) = &a.display_name {
                object.insert("displayName".into(), json!(name));
            }
            if a.optional {
                object.insert("optional".into(), json!(true));
            }
            object.insert("responseStatus".into(), json!(a.response_status.as_str()));
            Value::Object(object)
        })
        .collect()
}

fn put_text(object: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(value) = value {
        object.insert(key.into(), json!(value));
    }
}

fn put_private(object: &mut Map<String, Value>, properties: &BTreeMap<String, String>) {
    if !properties.is_empty() {
        object.insert("extendedProperties".into(), json!({ "private": properties }));
    }
}

/// The body of `events.insert`.
pub(crate) fn insert_body(event: &NewEvent) -> Value {
    let mut object = Map::new();
    put_text(&mut object, "id", &event.id);
    put_text(&mut object, "summary", &event.summary);
    put_text(&mut object, "description", &event.description);
    put_text(&mut object, "location", &event.location);
    object.insert("start".into(), time_json(&event.start, false));
    object.insert("end".into(), time_json(&event.end, false));
    if !event.recurrence.is_empty() {
        object.insert("recurrence".into(), json!(event.recurrence));
    }
    if !event.attendees.is_empty() {
        object.insert("attendees".into(), attendees_json(&event.attendees));
    }
    put_private(&mut object, &event.private_properties);
    Value::Object(object)
}

/// The body of `events.patch`: only what the patch sets.
pub(crate) fn patch_body(patch: &EventPatch) -> Value {
    let mut object = Map::new();
    put_text(&mut object, "summary", &patch.summary);
    put_text(&mut object, "description", &patch.description);
    put_text(&mut object, "location", &patch.location);
    if let Some(start) = &patch.start {
        object.insert("start".into(), time_json(start, true));
    }
    if let Some(end) = &patch.end {
        object.insert("end".into(), time_json(end, true));
    }
    if let Some(status) = patch.status {
        object.insert("status".into(), json!(status.as_str()));
    }
    if let Some(recurrence) = &patch.recurrence {
        object.insert("recurrence".into(), json!(recurrence));
    }
    if let Some(attendees) = &patch.attendees {
        object.insert("attendees".into(), attendees_json(attendees));
    }
    put_private(&mut object, &patch.private_properties);
    Value::Object(object)
}

/// The account in an ID token from the token endpoint. Its signature is not checked: the token
/// came straight from Google's token endpoint over TLS, which OpenID Connect Core (§3.1.3.7)
/// accepts in place of signature validation. Only `sub` and `email` are read.
pub(crate) fn account_from_id_token(id_token: &str) -> Option<ProviderAccount> {
    #[derive(Deserialize)]
    struct Claims {
        sub: String,
        email: Option<String>,
    }
    let payload = id_token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .or_else(|_| URL_SAFE.decode(payload))
        .ok()?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    Some(ProviderAccount {
        id: claims.sub,
        email: claims.email.filter(|e| !e.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn reads_the_documented_event_resource() {
        let wire: WireEvent = serde_json::from_value(json!({
            "kind": "calendar#event",
            "etag": "\"3181161784712000\"",
            "id": "abc123",
            "status": "tentative",
            "htmlLink": "https://www.google.com/calendar/event?eid=YWJjMTIz",
            "created": "2024-05-01T08:00:00.000Z",
            "updated": "2024-05-01T09:30:15.123Z",
            "summary": "Planning",
            "start": {"dateTime": "2024-05-02T10:00:00+02:00", "timeZone": "Europe/Paris"},
            "end": {"dateTime": "2024-05-02T11:00:00+02:00", "timeZone": "Europe/Paris"},
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=TH"],
            "organizer": {"email": "ada@example.com", "self": true},
            "attendees": [
                {"email": "ada@example.com", "organizer": true, "self": true, "responseStatus": "accepted"},
                {"email": "bob@example.com", "responseStatus": "declined", "optional": true},
                {"email": "eve@example.com", "responseStatus": "somethingNew"},
                {"displayName": "Room without an address", "resource": true}
            ],
            "extendedProperties": {"private": {"qubital": "1"}, "shared": {"x": "y"}},
            "reminders": {"useDefault": true}
        }))
        .unwrap();
        let event = wire.into_model().unwrap();
        assert_eq!(event.status, EventStatus::Tentative);
        let paris = chrono::FixedOffset::east_opt(7200).unwrap();
        assert_eq!(
            event.start,
            Some(EventTime::at(
                paris.with_ymd_and_hms(2024, 5, 2, 10, 0, 0).unwrap(),
                "Europe/Paris"
            ))
        );
        assert_eq!(
            event.updated,
            Some(Utc.with_ymd_and_hms(2024, 5, 1, 9, 30, 15).unwrap() + chrono::Duration::milliseconds(123))
        );
        assert_eq!(event.recurrence, ["RRULE:FREQ=WEEKLY;BYDAY=TH"]);
        assert_eq!(event.attendees.len(), 3);
        assert!(event.attendees[0].organizer && event.attendees[0].is_self);
        assert_eq!(event.attendees[1].response_status, ResponseStatus::Declined);
        assert!(event.attendees[1].optional);
        assert_eq!(event.attendees[2].response_status, ResponseStatus::NeedsAction);
        assert_eq!(event.private_property("qubital"), Some("1"));
        assert_eq!(event.organizer_email.as_deref(), Some("ada@example.com"));
    }

    #[test]
    fn a_deleted_event_may_carry_nothing_but_its_id() {
        let wire: WireEvent =
            serde_json::from_value(json!({"kind": "calendar#event", "id": "gone1", "status": "cancelled"}))
                .unwrap();
        let event = wire.into_model().unwrap();
        assert!(event.is_cancelled());
        assert_eq!((event.start, event.updated), (None, None));
    }

    #[test]
    fn all_day_times_and_bad_times() {
        let wire: WireTime = serde_json::from_value(json!({"date": "2024-02-29"})).unwrap();
        assert_eq!(
            wire.into_model().unwrap(),
            EventTime::Date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap())
        );
        let bad: WireTime = serde_json::from_value(json!({"dateTime": "tomorrow"})).unwrap();
        assert!(matches!(bad.into_model(), Err(CalendarError::Unavailable(_))));
    }

    #[test]
    fn patches_null_the_other_time_representation() {
        let day = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap();
        let body = patch_body(&EventPatch {
            start: Some(EventTime::Date(day)),
            summary: Some(String::new()),
            ..EventPatch::default()
        });
        assert_eq!(
            body,
            json!({"summary": "", "start": {"date": "2024-06-01", "dateTime": null, "timeZone": null}})
        );
        let at = Utc.with_ymd_and_hms(2024, 6, 1, 8, 0, 0).unwrap().fixed_offset();
        let insert = insert_body(&NewEvent::new(
            "x",
            EventTime::at(at, "UTC"),
            EventTime::Date(day),
        ));
        assert_eq!(
            insert,
            json!({
                "summary": "x",
                "start": {"dateTime": "2024-06-01T08:00:00Z", "timeZone": "UTC"},
                "end": {"date": "2024-06-01"}
            })
        );
    }

    #[test]
    fn id_token_payloads() {
        let payload = URL_SAFE_NO_PAD
            .encode(br#"{"iss":"https://accounts.google.com","sub":"1099","email":"ada@example.com"}"#);
        let account = account_from_id_token(&format!("e30.{payload}.sig")).unwrap();
        assert_eq!(account.id, "1099");
        assert_eq!(account.email.as_deref(), Some("ada@example.com"));
        assert!(account_from_id_token("not-a-jwt").is_none());
    }
}
