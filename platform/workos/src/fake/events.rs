//! The Events API (`GET /events`), the paging of the list endpoints, and webhook deliveries.
//!
//! The stream follows WorkOS's documented rules: events of the types asked for (`events`,
//! comma-separated), oldest first with `order=asc` (newest first by default), after the event
//! `after` or from `range_start` (until `range_end`), `limit` per page (1-100, default 10).
//! WorkOS keeps events for 30 days: older ones are no longer served, and a cursor the fake
//! does not hold (expired, or never issued) is refused with a 400.

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use poem::{
    handler,
    http::StatusCode,
    web::{Data, Query},
    Response,
};
use serde::Deserialize;
use serde_json::Value;

use super::{
    wire::{error, list},
    Shared, State,
};

/// How long WorkOS serves an event.
pub const RETENTION: chrono::Duration = chrono::Duration::days(30);

/// `after`, `limit` and `order` of a list request.
#[derive(Debug, Default, Deserialize)]
pub(super) struct PageQuery {
    after: Option<String>,
    /// Kept as text: a flattened query cannot parse numbers (serde_urlencoded).
    limit: Option<String>,
    order: Option<String>,
}

impl PageQuery {
    fn limit(&self) -> usize {
        self.limit
            .as_deref()
            .and_then(|l| l.parse().ok())
            .unwrap_or(10)
            .clamp(1, 100)
    }

    /// Newest first unless `order=asc`, as WorkOS lists.
    fn ordered<T>(&self, mut oldest_first: Vec<T>) -> Vec<T> {
        if self.order.as_deref() != Some("asc") {
            oldest_first.reverse();
        }
        oldest_first
    }

    /// One page of `objects` (oldest first): ordered as asked, after the object `after`, at most
    /// `limit`; `list_metadata.after` names the next page's cursor when there is one.
    pub(super) fn of(&self, objects: Vec<Value>) -> Response {
        let objects = self.ordered(objects);
        let start = match &self.after {
            Some(after) => objects
                .iter()
                .position(|o| o["id"] == after.as_str())
                .map_or(objects.len(), |i| i + 1),
            None => 0,
        };
        let limit = self.limit();
        let mut data: Vec<Value> = objects.into_iter().skip(start).take(limit + 1).collect();
        let more = data.len() > limit;
        data.truncate(limit);
        let after = more
            .then(|| data.last().and_then(|o| o["id"].as_str()).map(str::to_owned))
            .flatten();
        list(data, after)
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct EventsQuery {
    /// Comma-separated event types.
    events: Option<String>,
    range_start: Option<String>,
    range_end: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

fn created_at(event: &Value) -> Option<DateTime<Utc>> {
    let at = event["created_at"].as_str()?;
    Some(DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc))
}

/// A date parameter; `Err` names the malformed one.
fn instant(name: &'static str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, &'static str> {
    value
        .map(|v| DateTime::parse_from_rfc3339(v).map(|at| at.with_timezone(&Utc)))
        .transpose()
        .map_err(|_| name)
}

/// `GET /events`.
#[handler]
pub(super) async fn list_events(Query(q): Query<EventsQuery>, Data(state): Data<&Shared>) -> Response {
    let delay = state.lock().unwrap().event_page_delay;
    tokio::time::sleep(delay).await;
    events_page(&state.lock().unwrap(), &q)
}

fn events_page(state: &State, q: &EventsQuery) -> Response {
    let range = instant("range_start", q.range_start.as_deref())
        .and_then(|start| Ok((start, instant("range_end", q.range_end.as_deref())?)));
    let (range_start, range_end) = match range {
        Ok(range) => range,
        Err(name) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                &format!("{name} must be an ISO 8601 date"),
            )
        }
    };
    let oldest_kept = state.now() - RETENTION;
    let kept: Vec<(&Value, DateTime<Utc>)> = state
        .events
        .iter()
        .filter_map(|e| created_at(e).map(|at| (e, at)))
        .filter(|(_, at)| *at >= oldest_kept)
        .collect();
    let stream = q.page.ordered(kept);
    // The cursor is a place in the whole stream, whichever types the page shows.
    let start = match &q.page.after {
        Some(after) => match stream.iter().position(|(e, _)| e["id"] == after.as_str()) {
            Some(i) => i + 1,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_cursor",
                    "The cursor is unknown or older than the 30 days events are kept",
                )
            }
        },
        None => 0,
    };
    let types: Option<Vec<&str>> = match (&q.events, state.all_event_types) {
        (Some(types), false) => Some(types.split(',').map(str::trim).collect()),
        _ => None,
    };
    let data: Vec<Value> = stream
        .into_iter()
        .skip(start)
        .filter(|(_, at)| range_start.is_none_or(|from| *at >= from))
        .filter(|(_, at)| range_end.is_none_or(|until| *at < until))
        .filter(|(e, _)| {
            types
                .as_ref()
                .is_none_or(|t| e["event"].as_str().is_some_and(|kind| t.contains(&kind)))
        })
        .take(q.page.limit())
        .map(|(e, _)| e.clone())
        .collect();
    // The Events API always names the last event served: the place to poll from next.
    let after = data.last().and_then(|e| e["id"].as_str()).map(str::to_owned);
    list(data, after)
}

/// A webhook delivery as WorkOS makes it: the event's JSON, and its `WorkOS-Signature`
/// header signed now with the endpoint's secret.
#[derive(Clone, Debug)]
pub struct WebhookDelivery {
    pub body: Vec<u8>,
    pub signature: String,
}

/// Signs `event` (an [`super::wire::event`], or one of [`super::FakeWorkos::events`]) for an
/// endpoint whose secret is `secret`.
pub fn webhook_delivery(secret: &str, event: &Value) -> WebhookDelivery {
    let body = serde_json::to_vec(event).expect("JSON serialises");
    let signature = crate::webhook::sign(secret.as_bytes(), &body, SystemTime::now());
    WebhookDelivery { body, signature }
}
