//! The fake's Calendar API v3 `events` collection, with Google's error body
//! (`{"error": {"code", "message", "errors": [{"domain", "reason", "message"}]}}`).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, FixedOffset, NaiveDate};
use poem::{
    handler,
    http::StatusCode,
    web::{Data, Path},
    Request, Response,
};
use rand::Rng;
use serde_json::{json, Map, Value};

use super::{now, param, query_of, Failure, Listing, Shared, State, StoredEvent, SyncToken, Write};

/// An API failure: status, Google's `reason`, and its message.
pub(super) struct ApiFail(StatusCode, &'static str, String);

impl ApiFail {
    fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self(status, reason, message.into())
    }

    fn bad(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason, message)
    }

    fn into_response(self) -> Response {
        let ApiFail(status, reason, message) = self;
        let domain = if reason.contains("Limit") {
            "usageLimits"
        } else {
            "global"
        };
        Response::builder()
            .status(status)
            .content_type("application/json; charset=UTF-8")
            .body(
                json!({
                    "error": {
                        "errors": [{ "domain": domain, "reason": reason, "message": message }],
                        "code": status.as_u16(),
                        "message": message,
                    }
                })
                .to_string(),
            )
    }
}

impl std::fmt::Debug for ApiFail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.0, self.1, self.2)
    }
}

fn failure_response(failure: Failure) -> Response {
    match failure {
        Failure::TooManyRequests { retry_after } => {
            let mut response = ApiFail::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rateLimitExceeded",
                "Rate Limit Exceeded",
            )
            .into_response();
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", seconds.to_string().parse().expect("digits"));
            }
            response
        }
        Failure::RateLimitExceeded => {
            ApiFail::new(StatusCode::FORBIDDEN, "rateLimitExceeded", "Rate Limit Exceeded").into_response()
        }
        Failure::UserRateLimitExceeded => ApiFail::new(
            StatusCode::FORBIDDEN,
            "userRateLimitExceeded",
            "User Rate Limit Exceeded",
        )
        .into_response(),
        Failure::Forbidden { reason } => Response::builder()
            .status(StatusCode::FORBIDDEN)
            .content_type("application/json; charset=UTF-8")
            .body(
                json!({
                    "error": {
                        "errors": [{ "domain": "global", "reason": reason, "message": "Forbidden" }],
                        "code": 403,
                        "message": "Forbidden",
                    }
                })
                .to_string(),
            ),
        Failure::BackendError => {
            ApiFail::new(StatusCode::SERVICE_UNAVAILABLE, "backendError", "Backend Error").into_response()
        }
    }
}

fn unauthenticated() -> Response {
    let message = "Request had invalid authentication credentials. Expected OAuth 2 access token, \
                   login cookie or other valid authentication credential.";
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .content_type("application/json; charset=UTF-8")
        .header(
            "www-authenticate",
            r#"Bearer realm="https://accounts.google.com/", error="invalid_token""#,
        )
        .body(
            json!({
                "error": {
                    "code": 401,
                    "message": message,
                    "errors": [{
                        "message": "Invalid Credentials",
                        "domain": "global",
                        "reason": "authError",
                        "location": "Authorization",
                        "locationType": "header",
                    }],
                    "status": "UNAUTHENTICATED",
                }
            })
            .to_string(),
        )
}

/// Why [`authorize`] turned a call away.
enum Refused {
    Injected(Failure),
    Unauthenticated,
    Api(ApiFail),
}

impl Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Injected(failure) => failure_response(failure),
            Refused::Unauthenticated => unauthenticated(),
            Refused::Api(fail) => fail.into_response(),
        }
    }
}

/// What every Calendar call goes through: an injected failure, then the Bearer token (live,
/// with a calendar scope, `write` needing more than read-only), then the calendar (`primary`
/// or the owner's address; the fake has no shared calendars). Yields the calendar's key.
fn authorize(state: &mut State, req: &Request, calendar_id: &str, write: bool) -> Result<String, Refused> {
    if let Some(failure) = state.failures.pop_front() {
        return Err(Refused::Injected(failure));
    }
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default();
    let grant = state
        .access_tokens
        .get(token)
        .filter(|t| !t.expired)
        .and_then(|t| state.grants.get(&t.grant))
        .filter(|g| !g.revoked)
        .ok_or(Refused::Unauthenticated)?;
    let allowed: &[&str] = if write {
        &[
            "https://www.googleapis.com/auth/calendar",
            "https://www.googleapis.com/auth/calendar.events",
        ]
    } else {
        &[
            "https://www.googleapis.com/auth/calendar",
            "https://www.googleapis.com/auth/calendar.events",
            "https://www.googleapis.com/auth/calendar.readonly",
            "https://www.googleapis.com/auth/calendar.events.readonly",
        ]
    };
    if !grant.scopes.iter().any(|s| allowed.contains(&s.as_str())) {
        return Err(Refused::Api(ApiFail::new(
            StatusCode::FORBIDDEN,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        )));
    }
    if calendar_id == "primary" || calendar_id.eq_ignore_ascii_case(&grant.account) {
        Ok(grant.account.clone())
    } else {
        Err(Refused::Api(ApiFail::new(
            StatusCode::NOT_FOUND,
            "notFound",
            "Not Found",
        )))
    }
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json; charset=UTF-8")
        .body(value.to_string())
}

/// A new `etag` and `updated`, after a change numbered `seq`.
pub(super) fn stamp(event: &mut Map<String, Value>, seq: u64) {
    let millis = chrono::Utc::now().timestamp_millis();
    event.insert("etag".into(), json!(format!("\"{millis}{seq:04}\"")));
    event.insert("updated".into(), json!(now()));
}

enum Time {
    Date(NaiveDate),
    DateTime(DateTime<FixedOffset>, bool),
}

fn read_time(event: &Map<String, Value>, key: &'static str) -> Result<Time, ApiFail> {
    let which = if key == "start" { "start" } else { "end" };
    let Some(object) = event.get(key).and_then(Value::as_object) else {
        return Err(ApiFail::bad("required", format!("Missing {which} time.")));
    };
    let text = |field: &str| object.get(field).and_then(Value::as_str);
    match (text("date"), text("dateTime")) {
        (Some(date), None) => NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map(Time::Date)
            .map_err(|_| ApiFail::bad("invalid", format!("Invalid value for: {key}.date"))),
        (None, Some(date_time)) => DateTime::parse_from_rfc3339(date_time)
            .map(|at| Time::DateTime(at, text("timeZone").is_some_and(|z| !z.is_empty())))
            .map_err(|_| ApiFail::bad("invalid", format!("Invalid value for: {key}.dateTime"))),
        (Some(_), Some(_)) => Err(ApiFail::bad(
            "invalid",
            format!("Both date and dateTime are set for the {which} time."),
        )),
        (None, None) => Err(ApiFail::bad("required", format!("Missing {which} time."))),
    }
}

/// What Google checks of an event before storing it, and the attendee defaults it fills in.
fn validate(event: &mut Map<String, Value>, owner: &str) -> Result<(), ApiFail> {
    let start = read_time(event, "start")?;
    let end = read_time(event, "end")?;
    let empty = match (&start, &end) {
        (Time::Date(s), Time::Date(e)) => e <= s,
        (Time::DateTime(s, _), Time::DateTime(e, _)) => e < s,
        _ => {
            return Err(ApiFail::bad(
                "invalid",
                "Start and end times must either both be date or both be dateTime.",
            ))
        }
    };
    if empty {
        return Err(ApiFail::bad(
            "timeRangeEmpty",
            "The specified time range is empty.",
        ));
    }
    let recurrence = event.get("recurrence").and_then(Value::as_array);
    if let Some(lines) = recurrence.filter(|l| !l.is_empty()) {
        let valid = lines.iter().all(|line| {
            line.as_str().is_some_and(|l| {
                ["RRULE:", "EXRULE:", "RDATE", "EXDATE"]
                    .iter()
                    .any(|p| l.starts_with(p))
            })
        });
        if !valid {
            return Err(ApiFail::bad("invalid", "Invalid recurrence rule."));
        }
        if matches!(start, Time::DateTime(_, false)) {
            return Err(ApiFail::bad(
                "required",
                "Missing time zone definition for start time.",
            ));
        }
    }
    if let Some(status) = event.get("status") {
        if !matches!(status.as_str(), Some("confirmed" | "tentative" | "cancelled")) {
            return Err(ApiFail::bad("invalid", "Invalid value for: status"));
        }
    }
    if let Some(attendees) = event.get_mut("attendees").and_then(Value::as_array_mut) {
        for attendee in attendees {
            let Some(attendee) = attendee.as_object_mut() else {
                return Err(ApiFail::bad("invalid", "Invalid attendee."));
            };
            let Some(email) = attendee.get("email").and_then(Value::as_str).map(str::to_owned) else {
                return Err(ApiFail::bad("required", "Missing attendee email."));
            };
            let response = attendee
                .get("responseStatus")
                .and_then(Value::as_str)
                .unwrap_or("needsAction");
            if !matches!(response, "needsAction" | "declined" | "tentative" | "accepted") {
                return Err(ApiFail::bad("invalid", "Invalid attendee response status."));
            }
            attendee.insert("responseStatus".into(), json!(response));
            // Read-only flags, Google's to set.
            attendee.remove("organizer");
            attendee.remove("self");
            if email.eq_ignore_ascii_case(owner) {
                attendee.insert("organizer".into(), json!(true));
                attendee.insert("self".into(), json!(true));
            }
        }
    }
    Ok(())
}

/// Google's rule for client-chosen ids: base32hex characters, 5 to 1024 of them.
fn valid_event_id(id: &str) -> bool {
    (5..=1024).contains(&id.len()) && id.chars().all(|c| matches!(c, 'a'..='v' | '0'..='9'))
}

/// Stores a new event in `calendar_id`'s calendar (its owner organizes it) and returns its id.
pub(super) fn store_new(
    state: &mut State,
    calendar_id: &str,
    mut event: Map<String, Value>,
) -> Result<String, ApiFail> {
    let owner = calendar_id.to_lowercase();
    for read_only in [
        "kind",
        "etag",
        "created",
        "updated",
        "htmlLink",
        "iCalUID",
        "organizer",
        "creator",
        "sequence",
    ] {
        event.remove(read_only);
    }
    validate(&mut event, &owner)?;
    let id = match event.get("id") {
        Some(Value::String(id)) => {
            if !valid_event_id(id) {
                return Err(ApiFail::bad("invalid", "Invalid resource id value."));
            }
            id.clone()
        }
        Some(_) => return Err(ApiFail::bad("invalid", "Invalid resource id value.")),
        None => {
            let bytes: [u8; 16] = rand::thread_rng().gen();
            crate::event::event_id_from_bytes(&bytes)
        }
    };
    let calendar = state.calendar(&owner);
    if calendar.events.contains_key(&id) {
        return Err(ApiFail::new(
            StatusCode::CONFLICT,
            "duplicate",
            "The requested identifier already exists.",
        ));
    }
    calendar.seq += 1;
    let seq = calendar.seq;
    let now = now();
    event.insert("kind".into(), json!("calendar#event"));
    event.insert("id".into(), json!(id));
    event.entry("status").or_insert(json!("confirmed"));
    event.insert(
        "htmlLink".into(),
        json!(format!(
            "https://www.google.com/calendar/event?eid={}",
            URL_SAFE_NO_PAD.encode(format!("{id} {owner}"))
        )),
    );
    event.insert("created".into(), json!(now));
    event.insert("creator".into(), json!({ "email": owner, "self": true }));
    event.insert("organizer".into(), json!({ "email": owner, "self": true }));
    event.insert("iCalUID".into(), json!(format!("{id}@google.com")));
    event.insert("sequence".into(), json!(0));
    event.entry("reminders").or_insert(json!({ "useDefault": true }));
    event.entry("eventType").or_insert(json!("default"));
    stamp(&mut event, seq);
    calendar.events.insert(
        id.clone(),
        StoredEvent {
            json: event,
            changed: seq,
        },
    );
    Ok(id)
}

/// How `events.list` shows a cancelled event: Google only guarantees the id (instances of a
/// recurring event also say which occurrence they cancel).
fn listed(event: &Map<String, Value>) -> Value {
    if event.get("status").and_then(Value::as_str) != Some("cancelled") {
        return Value::Object(event.clone());
    }
    let mut stub = Map::new();
    for key in [
        "kind",
        "etag",
        "id",
        "status",
        "recurringEventId",
        "originalStartTime",
    ] {
        if let Some(value) = event.get(key) {
            stub.insert(key.into(), value.clone());
        }
    }
    Value::Object(stub)
}

fn send_updates(params: &[(String, String)]) -> Result<Option<String>, ApiFail> {
    match param(params, "sendUpdates") {
        None => Ok(None),
        Some(value @ ("all" | "externalOnly" | "none")) => Ok(Some(value.to_owned())),
        Some(_) => Err(ApiFail::bad("invalid", "Invalid value for: sendUpdates")),
    }
}

fn json_body(req: &Request, body: &[u8]) -> Result<Map<String, Value>, ApiFail> {
    let json = req
        .content_type()
        .is_some_and(|c| c.starts_with("application/json"));
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) if json => Ok(object),
        _ => Err(ApiFail::bad("parseError", "Parse Error")),
    }
}

/// `GET …/events`: a full listing, or the changes since a sync token, page by page.
#[handler]
pub(super) fn list_events(
    req: &Request,
    Path(calendar_id): Path<String>,
    Data(state): Data<&Shared>,
) -> Response {
    let mut state = state.lock().expect("the fake Google's state");
    let calendar_key = match authorize(&mut state, req, &calendar_id, false) {
        Ok(key) => key,
        Err(refused) => return refused.into_response(),
    };
    match list_page(&mut state, &calendar_key, &query_of(req)) {
        Ok(page) => json_response(StatusCode::OK, &page),
        Err(fail) => fail.into_response(),
    }
}

fn list_page(state: &mut State, calendar_key: &str, params: &[(String, String)]) -> Result<Value, ApiFail> {
    if param(params, "singleEvents") == Some("true") {
        return Err(ApiFail::bad(
            "invalid",
            "The fake Google does not expand recurring events (singleEvents=true).",
        ));
    }
    let show_deleted = param(params, "showDeleted") == Some("true");
    let max_results = match param(params, "maxResults") {
        None => super::DEFAULT_PAGE_SIZE,
        Some(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=2500).contains(n))
            .ok_or_else(|| ApiFail::bad("invalid", "Invalid value for: maxResults"))?,
    };
    let sync_token = param(params, "syncToken");
    let listing = match (param(params, "pageToken"), sync_token) {
        (Some(page_token), _) => state
            .page_tokens
            .remove(page_token)
            .filter(|l| l.calendar == calendar_key)
            .ok_or_else(|| ApiFail::bad("invalid", "Invalid page token value."))?,
        (None, sync_token) => {
            let since = match sync_token {
                None => None,
                Some(token) => {
                    for incompatible in ["timeMin", "timeMax", "updatedMin", "orderBy", "q", "iCalUID"] {
                        if param(params, incompatible).is_some() {
                            return Err(ApiFail::bad(
                                "invalid",
                                format!("{incompatible} cannot be used with syncToken."),
                            ));
                        }
                    }
                    if param(params, "showDeleted") == Some("false") {
                        return Err(ApiFail::bad(
                            "invalid",
                            "showDeleted cannot be false with syncToken.",
                        ));
                    }
                    let force_410 = std::mem::take(&mut state.force_410);
                    let Some(known) = state.sync_tokens.get_mut(token) else {
                        return Err(ApiFail::bad("invalid", "Invalid sync token value."));
                    };
                    if known.calendar != calendar_key {
                        return Err(ApiFail::bad("invalid", "Invalid sync token value."));
                    }
                    if force_410 {
                        known.valid = false;
                    }
                    if !known.valid {
                        return Err(ApiFail::new(
                            StatusCode::GONE,
                            "fullSyncRequired",
                            "Sync token is no longer valid, a full sync is required.",
                        ));
                    }
                    Some(known.seq)
                }
            };
            let calendar = state.calendar(calendar_key);
            let mut changed: Vec<(&String, &StoredEvent)> = calendar
                .events
                .iter()
                .filter(|(_, e)| match since {
                    // Deletions always show in an incremental sync.
                    Some(since) => e.changed > since,
                    None => show_deleted || e.json.get("status").and_then(Value::as_str) != Some("cancelled"),
                })
                .collect();
            changed.sort_by_key(|(_, e)| e.changed);
            Listing {
                calendar: calendar_key.to_owned(),
                ids: changed.into_iter().map(|(id, _)| id.clone()).collect(),
                offset: 0,
                high_mark: calendar.seq,
                page_size: state.page_size.min(max_results),
            }
        }
    };
    let end = (listing.offset + listing.page_size).min(listing.ids.len());
    let calendar = state.calendar(calendar_key);
    let items: Vec<Value> = listing.ids[listing.offset..end]
        .iter()
        .filter_map(|id| calendar.events.get(id))
        .map(|e| listed(&e.json))
        .collect();
    let mut page = json!({
        "kind": "calendar#events",
        "etag": format!("\"{}\"", calendar.seq),
        "summary": calendar_key,
        "updated": now(),
        "timeZone": "UTC",
        "accessRole": "owner",
        "defaultReminders": [],
        "items": items,
    });
    if end < listing.ids.len() {
        let token = state.token("page-");
        state.page_tokens.insert(
            token.clone(),
            Listing {
                offset: end,
                ..listing
            },
        );
        page["nextPageToken"] = json!(token);
    } else {
        let token = state.token("sync-");
        state.sync_tokens.insert(
            token.clone(),
            SyncToken {
                calendar: listing.calendar,
                seq: listing.high_mark,
                valid: true,
            },
        );
        page["nextSyncToken"] = json!(token);
    }
    Ok(page)
}

/// `POST …/events`: `events.insert`.
#[handler]
pub(super) fn insert_event(
    req: &Request,
    Path(calendar_id): Path<String>,
    body: Vec<u8>,
    Data(state): Data<&Shared>,
) -> Response {
    let mut state = state.lock().expect("the fake Google's state");
    let calendar_key = match authorize(&mut state, req, &calendar_id, true) {
        Ok(key) => key,
        Err(refused) => return refused.into_response(),
    };
    let params = query_of(req);
    let result = send_updates(&params).and_then(|send_updates| {
        let event = json_body(req, &body)?;
        let id = store_new(&mut state, &calendar_key, event)?;
        state.writes.push(Write {
            method: "insert",
            calendar_id: calendar_key.clone(),
            event_id: id.clone(),
            send_updates,
        });
        Ok(id)
    });
    match result {
        Ok(id) => {
            let event = &state.calendar(&calendar_key).events[&id].json;
            json_response(StatusCode::OK, &Value::Object(event.clone()))
        }
        Err(fail) => fail.into_response(),
    }
}

/// `GET …/events/{eventId}`: `events.get` (cancelled events in full).
#[handler]
pub(super) fn get_event(
    req: &Request,
    Path((calendar_id, event_id)): Path<(String, String)>,
    Data(state): Data<&Shared>,
) -> Response {
    let mut state = state.lock().expect("the fake Google's state");
    let calendar_key = match authorize(&mut state, req, &calendar_id, false) {
        Ok(key) => key,
        Err(refused) => return refused.into_response(),
    };
    match state.calendar(&calendar_key).events.get(&event_id) {
        Some(event) => json_response(StatusCode::OK, &Value::Object(event.json.clone())),
        None => ApiFail::new(StatusCode::NOT_FOUND, "notFound", "Not Found").into_response(),
    }
}

/// Google's patch semantics: objects merge field by field, `null` removes a field, anything
/// else (arrays included) replaces.
fn merge(target: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (key, value) in patch {
        match value {
            Value::Null => {
                target.remove(&key);
            }
            Value::Object(inner) => match target.get_mut(&key) {
                Some(Value::Object(existing)) => merge(existing, inner),
                _ => {
                    let mut fresh = Map::new();
                    merge(&mut fresh, inner);
                    target.insert(key, Value::Object(fresh));
                }
            },
            other => {
                target.insert(key, other);
            }
        }
    }
}

/// `PATCH …/events/{eventId}`: `events.patch`.
#[handler]
pub(super) fn patch_event(
    req: &Request,
    Path((calendar_id, event_id)): Path<(String, String)>,
    body: Vec<u8>,
    Data(state): Data<&Shared>,
) -> Response {
    let mut state = state.lock().expect("the fake Google's state");
    let calendar_key = match authorize(&mut state, req, &calendar_id, true) {
        Ok(key) => key,
        Err(refused) => return refused.into_response(),
    };
    let params = query_of(req);
    let result = (|| {
        let send_updates = send_updates(&params)?;
        let mut changes = json_body(req, &body)?;
        for read_only in [
            "id",
            "kind",
            "etag",
            "created",
            "updated",
            "htmlLink",
            "iCalUID",
            "organizer",
            "creator",
            "sequence",
        ] {
            changes.remove(read_only);
        }
        let calendar = state.calendar(&calendar_key);
        let Some(stored) = calendar.events.get(&event_id) else {
            return Err(ApiFail::new(StatusCode::NOT_FOUND, "notFound", "Not Found"));
        };
        let reschedules = ["start", "end", "recurrence"]
            .iter()
            .any(|k| changes.contains_key(*k));
        let mut event = stored.json.clone();
        merge(&mut event, changes);
        validate(&mut event, &calendar_key)?;
        if reschedules {
            let sequence = event.get("sequence").and_then(Value::as_i64).unwrap_or(0);
            event.insert("sequence".into(), json!(sequence + 1));
        }
        calendar.seq += 1;
        let seq = calendar.seq;
        stamp(&mut event, seq);
        calendar.events.insert(
            event_id.clone(),
            StoredEvent {
                json: event.clone(),
                changed: seq,
            },
        );
        state.writes.push(Write {
            method: "patch",
            calendar_id: calendar_key.clone(),
            event_id: event_id.clone(),
            send_updates,
        });
        Ok(event)
    })();
    match result {
        Ok(event) => json_response(StatusCode::OK, &Value::Object(event)),
        Err(fail) => fail.into_response(),
    }
}

/// `DELETE …/events/{eventId}`: `events.delete`. The event stays, cancelled, so that syncs
/// report the deletion; deleting it again is `410 Gone`.
#[handler]
pub(super) fn delete_event(
    req: &Request,
    Path((calendar_id, event_id)): Path<(String, String)>,
    Data(state): Data<&Shared>,
) -> Response {
    let mut state = state.lock().expect("the fake Google's state");
    let calendar_key = match authorize(&mut state, req, &calendar_id, true) {
        Ok(key) => key,
        Err(refused) => return refused.into_response(),
    };
    let send_updates = match send_updates(&query_of(req)) {
        Ok(value) => value,
        Err(fail) => return fail.into_response(),
    };
    let calendar = state.calendar(&calendar_key);
    let Some(stored) = calendar.events.get_mut(&event_id) else {
        return ApiFail::new(StatusCode::NOT_FOUND, "notFound", "Not Found").into_response();
    };
    if stored.json.get("status").and_then(Value::as_str) == Some("cancelled") {
        return ApiFail::new(StatusCode::GONE, "deleted", "Resource has been deleted").into_response();
    }
    calendar.seq += 1;
    let seq = calendar.seq;
    stored.json.insert("status".into(), json!("cancelled"));
    stored.changed = seq;
    stamp(&mut stored.json, seq);
    state.writes.push(Write {
        method: "delete",
        calendar_id: calendar_key,
        event_id,
        send_updates,
    });
    Response::builder().status(StatusCode::NO_CONTENT).finish()
}
