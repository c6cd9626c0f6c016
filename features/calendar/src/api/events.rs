//! The events of spaces: list, create, update, delete. An event lives on its organizer's
//! connected calendar (the provider invites the attendees and collects their answers); the copy
//! here is what the provider last said, kept current by the sync job.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use platform_calendar::{
    event_id_from_bytes, Attendee, CalendarError, EventPatch, EventTime, NewEvent, ProviderEvent, SendUpdates,
};
use poem::web::Data;
use poem_openapi::{param::Path, payload::Json, ApiResponse, Enum, Object, OpenApi};
use qubital_auth::directory::{self, IdsAt};
use qubital_auth::AuthState;
use qubital_plugin::{
    auth::{Caller, CookieAuth},
    problem::types,
    wire, AppContext, FieldError, Page, Problem,
};
use uuid::Uuid;

use super::{active, call_problem, provider, CalendarTag};
use crate::{
    permissions::{SCHEDULE_EVENTS, VIEW_CALENDAR},
    problems::{CALENDAR_CONNECTION_BROKEN, CALENDAR_NOT_CONNECTED, CALENDAR_NOT_ORGANIZER},
    settings::CalendarState,
    store::{self, AttendeeInput, AttendeeRow, ConnectionRow, EventFilter, EventRow, NewEventRow},
    sync::Reported,
    tokens::Acting,
};

const TITLE_MAX: usize = 200;
const DESCRIPTION_MAX: usize = 4000;
const ATTENDEES_MAX: usize = 100;
const LIST_SPAN_DAYS: i64 = 366;
/// Private properties tagging the events this feature creates.
const EVENT_PROPERTY: &str = "qubitalEventId";
const SPACE_PROPERTY: &str = "qubitalSpaceId";

qubital_plugin::operation_errors! {
    /// What `/calendar/events/list` answers besides the host's problems.
    pub ListEventsErrors = [types::FORBIDDEN];
    /// What `/calendar/events/create` answers besides the host's problems.
    pub CreateEventErrors = [
        types::FORBIDDEN,
        types::NOT_FOUND,
        types::INTEGRATION_DISABLED,
        types::INTEGRATION_UNAVAILABLE,
        types::INTEGRATION_ERROR,
        CALENDAR_NOT_CONNECTED,
        CALENDAR_CONNECTION_BROKEN,
    ];
    /// What `/calendar/events/{id}/update` and `/calendar/events/{id}/delete` answer besides the
    /// host's problems.
    pub ChangeEventErrors = [
        types::FORBIDDEN,
        types::NOT_FOUND,
        types::INTEGRATION_DISABLED,
        types::INTEGRATION_UNAVAILABLE,
        types::INTEGRATION_ERROR,
        CALENDAR_CONNECTION_BROKEN,
        CALENDAR_NOT_ORGANIZER,
    ];
}

/// An instant and the IANA time zone it is meant in (recurring events keep their local time
/// across daylight-saving changes).
#[derive(Clone, Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct CalendarEventTime {
    /// RFC 3339; answered in UTC.
    pub date_time: DateTime<Utc>,
    /// IANA time zone (`Europe/Paris`, `UTC`).
    #[oai(validator(max_length = 64, pattern = "^(UTC|[A-Za-z]+(/[A-Za-z0-9_+-]+){1,2})$"))]
    pub time_zone: String,
}

/// Whether an event takes place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum CalendarEventStatus {
    Confirmed,
    Tentative,
    /// Cancelled or deleted in the provider's calendar.
    Cancelled,
}

/// An attendee's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum CalendarResponseStatus {
    #[oai(rename = "needs-action")]
    NeedsAction,
    #[oai(rename = "accepted")]
    Accepted,
    #[oai(rename = "tentative")]
    Tentative,
    #[oai(rename = "declined")]
    Declined,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CalendarAttendee {
    /// The member (user id), when the attendee is one.
    pub user_id: Option<String>,
    pub email: String,
    pub response_status: CalendarResponseStatus,
}

/// An event of a space.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct CalendarEvent {
    pub id: Uuid,
    pub space_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub start: CalendarEventTime,
    pub end: CalendarEventTime,
    /// RFC 5545 lines (`RRULE:FREQ=WEEKLY`) of a recurring event (not expanded); empty otherwise.
    pub recurrence: Vec<String>,
    pub status: CalendarEventStatus,
    /// The organizer (user id), on whose calendar the event lives.
    pub organizer_id: String,
    /// Joins the space.
    pub join_url: String,
    /// Opens the event in the provider's calendar.
    pub html_link: Option<String>,
    pub attendees: Vec<CalendarAttendee>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListCalendarEventsRequest {
    /// Events ending after this instant…
    pub from: DateTime<Utc>,
    /// …and starting before this one (at most 366 days after `from`). A recurring event is
    /// listed when its series starts before `to`.
    pub to: DateTime<Utc>,
    /// Only this space's events.
    pub space_id: Option<Uuid>,
    /// 1..100, default 20.
    #[oai(
        default = "qubital_plugin::list::default_limit",
        validator(minimum(value = "1"), maximum(value = "100"))
    )]
    pub limit: u32,
    /// 0..100000.
    #[oai(default, validator(maximum(value = "100000")))]
    pub offset: u32,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCalendarEventRequest {
    /// The space the event meets in (same organization).
    pub space_id: Uuid,
    /// 1..200 characters (trimmed).
    pub title: wire::Name<TITLE_MAX>,
    /// Up to 4000 characters.
    pub description: Option<wire::Description<DESCRIPTION_MAX>>,
    pub start: CalendarEventTime,
    /// After `start`.
    pub end: CalendarEventTime,
    /// Members of the organization to invite (user ids, ≤ 100).
    #[oai(default, validator(max_items = 100))]
    pub attendee_ids: Vec<wire::IdText>,
    /// RFC 5545 `RRULE`/`EXRULE`/`RDATE`/`EXDATE` lines (≤ 10) for a recurring event.
    #[oai(
        default,
        validator(
            max_items = 10,
            max_length = 500,
            pattern = "^(RRULE|EXRULE|RDATE|EXDATE)[:;][^\\r\\n]+$"
        )
    )]
    pub recurrence: Vec<String>,
    /// The provider of the organizer's connection to use (default: their first working one).
    #[oai(validator(pattern = "^[a-z][a-z0-9-]{0,31}$"))]
    pub provider: Option<String>,
}

/// Absent fields stay as they are.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCalendarEventRequest {
    /// 1..200 characters (trimmed).
    pub title: Option<wire::Name<TITLE_MAX>>,
    /// Up to 4000 characters; empty clears it.
    pub description: Option<wire::Description<DESCRIPTION_MAX>>,
    pub start: Option<CalendarEventTime>,
    pub end: Option<CalendarEventTime>,
    /// Replaces the attendees (user ids of members, ≤ 100).
    #[oai(validator(max_items = 100))]
    pub attendee_ids: Option<Vec<wire::IdText>>,
    /// Replaces the recurrence (empty: a single event).
    #[oai(validator(
        max_items = 10,
        max_length = 500,
        pattern = "^(RRULE|EXRULE|RDATE|EXDATE)[:;][^\\r\\n]+$"
    ))]
    pub recurrence: Option<Vec<String>>,
}

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted here and at the provider (attendees are notified).
    #[oai(status = 204)]
    NoContent,
}

#[derive(Default)]
pub(crate) struct CalendarEventsApi;

#[OpenApi(tag = "CalendarTag::Calendar")]
impl CalendarEventsApi {
    /// List calendar events
    ///
    /// Permission: `ViewCalendar`. The organization's events overlapping `[from, to)`, by start,
    /// cancelled ones included (status `cancelled`); optionally one space's. A window whose `to`
    /// is not after `from` holds nothing; one longer than 366 days is `422 validation`.
    #[oai(
        path = "/calendar/events/list",
        method = "post",
        operation_id = "list-calendar-events"
    )]
    async fn list(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<ListCalendarEventsRequest>,
    ) -> Result<Json<Page<CalendarEvent>>, ListEventsErrors> {
        let caller = &auth.0;
        caller.require(&VIEW_CALENDAR)?;
        let body = body.0;
        if body.to <= body.from {
            // An empty window holds nothing: a fact, not a bad request.
            return Ok(Json(Page::new(Vec::new(), body.limit, body.offset, 0)));
        }
        if body.to - body.from > Duration::days(LIST_SPAN_DAYS) {
            return Err(Problem::invalid_field("body.to", "at most 366 days after `from`").into());
        }
        let filter = EventFilter {
            org_id: caller.organization_id,
            from: body.from,
            to: body.to,
            space_id: body.space_id,
            limit: body.limit,
            offset: body.offset,
        };
        let mut conn = ctx.db().acquire().await?;
        let (rows, total) = store::list_events(&mut conn, &filter).await?;
        let data = with_attendees(&mut conn, rows).await?;
        Ok(Json(Page::new(data, body.limit, body.offset, total)))
    }

    /// Schedule an event in a space
    ///
    /// Permission: `ScheduleEvents`. Creates the event on the caller's connected calendar with a
    /// join link to the space and invites the attendees (members of the organization); their
    /// answers come back with the sync. `404` for a space of another organization; `409
    /// calendar-not-connected` / `calendar-connection-broken` when the caller has no working
    /// connection; `502 integration-error` when the provider refused the event; `503` when it
    /// did not answer (nothing is created here).
    #[oai(
        path = "/calendar/events/create",
        method = "post",
        operation_id = "create-calendar-event"
    )]
    async fn create(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        body: Json<CreateCalendarEventRequest>,
    ) -> Result<Json<CalendarEvent>, CreateEventErrors> {
        let caller = &auth.0;
        caller.require(&SCHEDULE_EVENTS)?;
        let body = body.0;
        let input = Input::validate_new(&body)?;
        let state = ctx.get::<CalendarState>();
        let mut conn = ctx.db().acquire().await?;
        let space = qubital_spaces::find_in_organization(&mut *conn, caller.organization_id, body.space_id)
            .await?
            .ok_or_else(Problem::not_found)?;
        let invited = members(
            &mut conn,
            caller.organization_id,
            "body.attendeeIds",
            &input.attendee_ids,
        )
        .await?;
        let connection = organizer_connection(&mut conn, caller, body.provider.as_deref()).await?;
        drop(conn);
        let provider = provider(state, &connection.provider)?;
        let Some(join_url) = state.join_url(space.id) else {
            return Err(Problem::integration_disabled("Scheduling calendar events").into());
        };
        let id = Uuid::now_v7();
        let new = NewEvent {
            id: Some(event_id_from_bytes(id.as_bytes())),
            summary: Some(input.title.clone().unwrap_or_default()),
            description: input.description.clone().filter(|d| !d.is_empty()),
            location: Some(join_url.clone()),
            start: provider_time(input.start.as_ref().expect("validated")),
            end: provider_time(input.end.as_ref().expect("validated")),
            recurrence: input.recurrence.clone().unwrap_or_default(),
            attendees: invited
                .values()
                .map(|email| Attendee::invite(email.clone()))
                .collect(),
            private_properties: BTreeMap::from([
                (EVENT_PROPERTY.to_owned(), id.to_string()),
                (SPACE_PROPERTY.to_owned(), space.id.to_string()),
            ]),
        };
        let sealer = ctx.get::<AuthState>().sealer();
        let acting = Acting {
            db: ctx.db(),
            sealer,
            provider,
            connection: &connection,
        };
        let created = create_at_provider(&acting, &new).await?;
        let saved = save_created(
            &ctx,
            caller,
            &connection,
            &space,
            id,
            &join_url,
            &created,
            &invited,
        )
        .await;
        match saved {
            Ok(event) => {
                tracing::info!(event_id = %id, space_id = %space.id, "calendar event created");
                Ok(Json(event))
            }
            Err(problem) => {
                // Nothing here knows it: do not leave it in the calendar.
                undo_create(&acting, &created.id).await;
                Err(problem.into())
            }
        }
    }

    /// Change an event
    ///
    /// Permission: `ScheduleEvents`, and being the event's organizer (`403
    /// calendar-not-organizer` otherwise). Changes the fields given, at the provider first
    /// (attendees are notified), then here. `404` for an event of another organization.
    #[oai(
        path = "/calendar/events/:id/update",
        method = "post",
        operation_id = "update-calendar-event"
    )]
    async fn update(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        id: Path<Uuid>,
        body: Json<UpdateCalendarEventRequest>,
    ) -> Result<Json<CalendarEvent>, ChangeEventErrors> {
        let caller = &auth.0;
        caller.require(&SCHEDULE_EVENTS)?;
        let body = body.0;
        let mut conn = ctx.db().acquire().await?;
        let (row, connection) = organized_event(&mut conn, caller, id.0).await?;
        let input = Input::validate_patch(&body, &row)?;
        let invited = if body.attendee_ids.is_some() {
            Some(
                members(
                    &mut conn,
                    caller.organization_id,
                    "body.attendeeIds",
                    &input.attendee_ids,
                )
                .await?,
            )
        } else {
            None
        };
        drop(conn);
        let provider = provider(ctx.get::<CalendarState>(), &connection.provider)?;
        let patch = EventPatch {
            summary: input.title.clone(),
            description: input.description.clone(),
            start: input.start.as_ref().map(provider_time),
            end: input.end.as_ref().map(provider_time),
            recurrence: input.recurrence.clone(),
            attendees: invited
                .as_ref()
                .map(|invited| invited.values().map(|e| Attendee::invite(e.clone())).collect()),
            ..EventPatch::default()
        };
        let acting = Acting {
            db: ctx.db(),
            sealer: ctx.get::<AuthState>().sealer(),
            provider,
            connection: &connection,
        };
        let calendar = connection.calendar_id.as_str();
        let event_id = row.provider_event_id.as_str();
        let updated = acting
            .call(|token| {
                let patch = &patch;
                async move {
                    provider
                        .update_event(&token, calendar, event_id, patch, SendUpdates::All)
                        .await
                }
            })
            .await
            .map_err(call_problem)?;
        let mut tx = ctx.db().begin().await?;
        apply_own(&mut tx, row.id, &updated, invited.as_ref()).await?;
        let event = load(&mut tx, caller.organization_id, row.id).await?;
        tx.commit().await?;
        Ok(Json(event))
    }

    /// Delete an event
    ///
    /// Permission: `ScheduleEvents`, and being the event's organizer (`403
    /// calendar-not-organizer` otherwise). Deletes it at the provider (attendees are notified),
    /// then here. `404` for an event of another organization.
    #[oai(
        path = "/calendar/events/:id/delete",
        method = "post",
        operation_id = "delete-calendar-event"
    )]
    async fn delete(
        &self,
        ctx: Data<&AppContext>,
        auth: CookieAuth,
        id: Path<Uuid>,
    ) -> Result<Deleted, ChangeEventErrors> {
        let caller = &auth.0;
        caller.require(&SCHEDULE_EVENTS)?;
        let mut conn = ctx.db().acquire().await?;
        let (row, connection) = organized_event(&mut conn, caller, id.0).await?;
        drop(conn);
        let provider = provider(ctx.get::<CalendarState>(), &connection.provider)?;
        let acting = Acting {
            db: ctx.db(),
            sealer: ctx.get::<AuthState>().sealer(),
            provider,
            connection: &connection,
        };
        let calendar = connection.calendar_id.as_str();
        let event_id = row.provider_event_id.as_str();
        let deleted = acting
            .call(|token| async move {
                provider
                    .delete_event(&token, calendar, event_id, SendUpdates::All)
                    .await
            })
            .await;
        match deleted {
            // Already gone there: gone here too.
            Ok(()) | Err(crate::tokens::CallError::Provider(CalendarError::NotFound)) => {}
            Err(error) => return Err(call_problem(error).into()),
        }
        store::delete_event(ctx.db(), row.id).await?;
        tracing::info!(event_id = %row.id, "calendar event deleted");
        Ok(Deleted::NoContent)
    }
}

/// Creates the event on the connection's calendar. A retried attempt whose first try was
/// applied answers `AlreadyExists` (the id is ours): the event is read back (an empty patch).
async fn create_at_provider(acting: &Acting<'_>, new: &NewEvent) -> Result<ProviderEvent, Problem> {
    let provider = acting.provider;
    let calendar = acting.connection.calendar_id.as_str();
    let created = acting
        .call(|token| async move {
            provider
                .create_event(&token, calendar, new, SendUpdates::All)
                .await
        })
        .await;
    let Err(crate::tokens::CallError::Provider(CalendarError::AlreadyExists)) = created else {
        return created.map_err(call_problem);
    };
    let event_id = new.id.as_deref().unwrap_or_default();
    acting
        .call(|token| async move {
            provider
                .update_event(
                    &token,
                    calendar,
                    event_id,
                    &EventPatch::default(),
                    SendUpdates::None,
                )
                .await
        })
        .await
        .map_err(call_problem)
}

/// Deletes an event this feature could not store (best effort, logged).
async fn undo_create(acting: &Acting<'_>, event_id: &str) {
    let provider = acting.provider;
    let calendar = acting.connection.calendar_id.as_str();
    let removed = acting
        .call(|token| async move {
            provider
                .delete_event(&token, calendar, event_id, SendUpdates::All)
                .await
        })
        .await;
    if let Err(error) = removed {
        tracing::error!(%error, "an unsaved calendar event could not be deleted at the provider");
    }
}

/// A create or update request, checked: what the schema cannot say.
struct Input {
    title: Option<String>,
    description: Option<String>,
    start: Option<CalendarEventTime>,
    end: Option<CalendarEventTime>,
    attendee_ids: Vec<i64>,
    recurrence: Option<Vec<String>>,
}

impl Input {
    fn validate_new(body: &CreateCalendarEventRequest) -> Result<Self, Problem> {
        let mut errors = Vec::new();
        let title = check_title(Some(&body.title), &mut errors);
        let description = check_description(body.description.as_deref(), &mut errors);
        check_span(&body.start, &body.end, "body.end", &mut errors);
        let attendee_ids = parse_user_ids("body.attendeeIds", &body.attendee_ids, &mut errors);
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        Ok(Self {
            title,
            description,
            start: Some(body.start.clone()),
            end: Some(body.end.clone()),
            attendee_ids,
            recurrence: Some(body.recurrence.clone()),
        })
    }

    /// The patch's start and end are checked against the stored ones they keep.
    fn validate_patch(body: &UpdateCalendarEventRequest, row: &EventRow) -> Result<Self, Problem> {
        let mut errors = Vec::new();
        let title = check_title(body.title.as_deref(), &mut errors);
        let description = check_description(body.description.as_deref(), &mut errors);
        let stored = |at, zone: &str| CalendarEventTime {
            date_time: at,
            time_zone: zone.to_owned(),
        };
        let start = body
            .start
            .clone()
            .unwrap_or_else(|| stored(row.starts_at, &row.time_zone));
        let end = body
            .end
            .clone()
            .unwrap_or_else(|| stored(row.ends_at, &row.time_zone));
        check_span(&start, &end, "body.end", &mut errors);
        let attendee_ids = parse_user_ids(
            "body.attendeeIds",
            body.attendee_ids.as_deref().unwrap_or_default(),
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        // Google wants a recurring event's start and end in the same terms: send both when
        // either changes.
        let times_change = body.start.is_some() || body.end.is_some();
        Ok(Self {
            title,
            description,
            start: times_change.then_some(start),
            end: times_change.then_some(end),
            attendee_ids,
            recurrence: body.recurrence.clone(),
        })
    }
}

fn check_title(title: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    let title = title?.trim();
    if title.is_empty() || title.chars().count() > TITLE_MAX || title.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "body.title",
            format!("1..{TITLE_MAX} characters, no control characters"),
        ));
    }
    Some(title.to_owned())
}

fn check_description(description: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    let description = description?.trim();
    if description.chars().count() > DESCRIPTION_MAX {
        errors.push(FieldError::new(
            "body.description",
            format!("at most {DESCRIPTION_MAX} characters"),
        ));
    }
    Some(description.to_owned())
}

fn check_span(
    start: &CalendarEventTime,
    end: &CalendarEventTime,
    location: &str,
    errors: &mut Vec<FieldError>,
) {
    if end.date_time <= start.date_time {
        errors.push(FieldError::new(location, "after the start"));
    }
}

fn parse_user_ids(location: &str, ids: &[wire::IdText], errors: &mut Vec<FieldError>) -> Vec<i64> {
    if ids.len() > ATTENDEES_MAX {
        errors.push(FieldError::new(location, format!("at most {ATTENDEES_MAX}")));
        return Vec::new();
    }
    wire::distinct_ids(location, ids, errors)
}

/// The members' mail addresses by user id; `404 not-found` naming `location[i]` for a user who
/// is not an active member of the organization (asked of the identity feature).
async fn members(
    conn: &mut sqlx::PgConnection,
    org_id: i64,
    location: &str,
    users: &[i64],
) -> Result<BTreeMap<i64, String>, Problem> {
    directory::require_members(conn, org_id, IdsAt::Each(location), users).await?;
    let mut emails = BTreeMap::new();
    for user in users {
        // A member always has a profile; one deleted since the check above is simply left out.
        if let Some(profile) = qubital_auth::store::users::profile(&mut *conn, *user).await? {
            emails.insert(*user, profile.email.to_lowercase());
        }
    }
    Ok(emails)
}

/// The caller's connection events are created on: the one to `provider`, or their first.
async fn organizer_connection(
    conn: &mut sqlx::PgConnection,
    caller: &Caller,
    provider: Option<&str>,
) -> Result<ConnectionRow, Problem> {
    let rows = match provider {
        Some(provider) => store::connection_of(&mut *conn, caller.organization_id, caller.user_id, provider)
            .await?
            .into_iter()
            .collect(),
        None => {
            store::connections_of(conn, caller.organization_id, caller.user_id, 20, 0)
                .await?
                .0
        }
    };
    if rows.is_empty() {
        return Err(Problem::new(&CALENDAR_NOT_CONNECTED));
    }
    let first_working = rows.iter().position(|row| row.status == "active");
    let row = rows
        .into_iter()
        .nth(first_working.unwrap_or(0))
        .expect("not empty");
    active(&row)?;
    Ok(row)
}

/// The event `id` of the caller's organization (`404`), organized by the caller (`403`), with
/// its working connection (`409`).
async fn organized_event(
    conn: &mut sqlx::PgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<(EventRow, ConnectionRow), Problem> {
    let row = store::find_event(&mut *conn, caller.organization_id, id)
        .await?
        .ok_or_else(Problem::not_found)?;
    if row.organizer_id != caller.user_id {
        return Err(Problem::new(&CALENDAR_NOT_ORGANIZER));
    }
    let connection = store::connection(&mut *conn, row.connection_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    active(&connection)?;
    Ok((row, connection))
}

fn provider_time(time: &CalendarEventTime) -> EventTime {
    EventTime::at(time.date_time.fixed_offset(), time.time_zone.clone())
}

/// Stores an event the provider just created, and answers it.
#[allow(clippy::too_many_arguments)]
async fn save_created(
    ctx: &AppContext,
    caller: &Caller,
    connection: &ConnectionRow,
    space: &qubital_spaces::SpaceRef,
    id: Uuid,
    join_url: &str,
    created: &ProviderEvent,
    invited: &BTreeMap<i64, String>,
) -> Result<CalendarEvent, Problem> {
    let reported = Reported::of(created)
        .ok_or_else(|| Problem::internal("the provider answered an event without times"))?;
    let mut tx = ctx.db().begin().await?;
    let inserted = store::insert_event(
        &mut tx,
        &NewEventRow {
            id,
            org_id: caller.organization_id,
            connection_id: connection.id,
            organizer_id: caller.user_id,
            room_id: space.internal_id,
            space_id: space.id,
            provider_event_id: &created.id,
            join_url,
            fields: reported.fields(),
        },
    )
    .await?;
    if inserted {
        store::set_attendees(&mut tx, id, &attendee_inputs(created, Some(invited))).await?;
    }
    let event = load(&mut tx, caller.organization_id, id).await?;
    tx.commit().await?;
    Ok(event)
}

/// Applies what the provider answered to our own change (it is the newest state).
async fn apply_own(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    event: &ProviderEvent,
    invited: Option<&BTreeMap<i64, String>>,
) -> Result<(), Problem> {
    let reported = Reported::of(event)
        .ok_or_else(|| Problem::internal("the provider answered an event without times"))?;
    store::update_event_fields(conn, id, &reported.fields()).await?;
    store::set_attendees(conn, id, &attendee_inputs(event, invited)).await?;
    store::set_provider_updated(conn, id, event.updated).await?;
    Ok(())
}

fn attendee_inputs<'a>(
    event: &'a ProviderEvent,
    invited: Option<&BTreeMap<i64, String>>,
) -> Vec<AttendeeInput<'a>> {
    let by_email: HashMap<&str, i64> = invited
        .into_iter()
        .flatten()
        .map(|(user, email)| (email.as_str(), *user))
        .collect();
    event
        .attendees
        .iter()
        .map(|a| AttendeeInput {
            email: &a.email,
            user_id: by_email.get(a.email.to_lowercase().as_str()).copied(),
            response_status: a.response_status.as_str(),
            organizer: a.organizer,
        })
        .collect()
}

/// The event `id` of organization `org_id` with its attendees.
async fn load(conn: &mut sqlx::PgConnection, org_id: i64, id: Uuid) -> Result<CalendarEvent, Problem> {
    let row = store::find_event(&mut *conn, org_id, id)
        .await?
        .ok_or_else(Problem::not_found)?;
    Ok(with_attendees(conn, vec![row]).await?.remove(0))
}

async fn with_attendees(
    conn: &mut sqlx::PgConnection,
    rows: Vec<EventRow>,
) -> Result<Vec<CalendarEvent>, Problem> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut by_event: HashMap<Uuid, Vec<AttendeeRow>> = HashMap::new();
    for attendee in store::attendees(conn, &ids).await? {
        by_event.entry(attendee.event_id).or_default().push(attendee);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let attendees = by_event.remove(&row.id).unwrap_or_default();
            event(row, attendees)
        })
        .collect())
}

fn event(row: EventRow, attendees: Vec<AttendeeRow>) -> CalendarEvent {
    let time = |at| CalendarEventTime {
        date_time: at,
        time_zone: row.time_zone.clone(),
    };
    CalendarEvent {
        id: row.id,
        space_id: row.space_id,
        title: row.title.clone(),
        description: row.description.clone(),
        start: time(row.starts_at),
        end: time(row.ends_at),
        recurrence: row.recurrence.clone(),
        status: match row.status.as_str() {
            "tentative" => CalendarEventStatus::Tentative,
            "cancelled" => CalendarEventStatus::Cancelled,
            _ => CalendarEventStatus::Confirmed,
        },
        organizer_id: row.organizer_id.to_string(),
        join_url: row.join_url.clone(),
        html_link: row.html_link.clone(),
        attendees: attendees
            .into_iter()
            .filter(|a| !a.organizer)
            .map(|a| CalendarAttendee {
                user_id: a.user_id.map(|id| id.to_string()),
                email: a.email,
                response_status: match a.response_status.as_str() {
                    "accepted" => CalendarResponseStatus::Accepted,
                    "tentative" => CalendarResponseStatus::Tentative,
                    "declined" => CalendarResponseStatus::Declined,
                    _ => CalendarResponseStatus::NeedsAction,
                },
            })
            .collect(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}
