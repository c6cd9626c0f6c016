//! Every SQL statement of the calendar feature: connections, connect states, events and their
//! attendees. Every organization-scoped function takes the organization id and filters on it.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Connect states

/// A connect in progress, as stored (the state and browser nonce hashed, the verifier sealed).
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct StateRow {
    pub org_id: i64,
    pub user_id: i64,
    pub provider: String,
    pub browser_hash: Vec<u8>,
    pub code_verifier: Vec<u8>,
    pub redirect_uri: String,
}

pub(crate) async fn insert_state<'e>(
    db: impl PgExecutor<'e>,
    state_hash: &[u8],
    row: &StateRow,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO calendar_oauth_states \
           (state_hash, org_id, user_id, provider, browser_hash, code_verifier, redirect_uri, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(state_hash)
    .bind(row.org_id)
    .bind(row.user_id)
    .bind(&row.provider)
    .bind(&row.browser_hash)
    .bind(&row.code_verifier)
    .bind(&row.redirect_uri)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Consumes the unexpired state `state_hash` (a state is used once, whoever presents it).
pub(crate) async fn take_state<'e>(
    db: impl PgExecutor<'e>,
    state_hash: &[u8],
) -> Result<Option<StateRow>, sqlx::Error> {
    sqlx::query_as(
        "DELETE FROM calendar_oauth_states WHERE state_hash = $1 AND expires_at > now() \
         RETURNING org_id, user_id, provider, browser_hash, code_verifier, redirect_uri",
    )
    .bind(state_hash)
    .fetch_optional(db)
    .await
}

// ---------------------------------------------------------------------------------------------
// Connections

#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct ConnectionRow {
    pub id: Uuid,
    pub provider: String,
    pub account_email: Option<String>,
    pub calendar_id: String,
    pub refresh_token: Vec<u8>,
    pub access_token: Option<Vec<u8>>,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub status: String,
    pub broken_at: Option<DateTime<Utc>>,
    pub sync_token: Option<String>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const CONNECTION_COLUMNS: &str = "id, provider, account_email, calendar_id, refresh_token, \
     access_token, access_expires_at, status, broken_at, sync_token, last_synced_at, created_at";

/// A connection's fresh grant (tokens already sealed).
pub(crate) struct Grant<'a> {
    pub org_id: i64,
    pub user_id: i64,
    pub provider: &'a str,
    pub account_email: Option<&'a str>,
    pub refresh_token: &'a [u8],
    pub access_token: &'a [u8],
    pub access_expires_at: DateTime<Utc>,
    pub scopes: &'a [String],
}

/// Creates the member's connection to `provider` in the organization, or replaces the grant of
/// the existing one (a reconnect repairs a broken connection and syncs in full again).
pub(crate) async fn upsert_connection(
    conn: &mut PgConnection,
    grant: &Grant<'_>,
) -> Result<ConnectionRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO calendar_connections \
           (id, org_id, user_id, provider, account_email, refresh_token, access_token, access_expires_at, scopes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (org_id, user_id, provider) DO UPDATE SET \
           account_email = EXCLUDED.account_email, refresh_token = EXCLUDED.refresh_token, \
           access_token = EXCLUDED.access_token, access_expires_at = EXCLUDED.access_expires_at, \
           scopes = EXCLUDED.scopes, status = 'active', broken_at = NULL, sync_token = NULL, \
           updated_at = now() \
         RETURNING {CONNECTION_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(grant.org_id)
    .bind(grant.user_id)
    .bind(grant.provider)
    .bind(grant.account_email)
    .bind(grant.refresh_token)
    .bind(grant.access_token)
    .bind(grant.access_expires_at)
    .bind(grant.scopes)
    .fetch_one(conn)
    .await
}

/// The member's connection to `provider` in the organization.
pub(crate) async fn connection_of<'e>(
    db: impl PgExecutor<'e>,
    org_id: i64,
    user_id: i64,
    provider: &str,
) -> Result<Option<ConnectionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CONNECTION_COLUMNS} FROM calendar_connections \
         WHERE org_id = $1 AND user_id = $2 AND provider = $3"
    ))
    .bind(org_id)
    .bind(user_id)
    .bind(provider)
    .fetch_optional(db)
    .await
}

/// The member's connections in the organization, oldest first: one page and the total.
pub(crate) async fn connections_of(
    conn: &mut PgConnection,
    org_id: i64,
    user_id: i64,
    limit: u32,
    offset: u32,
) -> Result<(Vec<ConnectionRow>, i64), sqlx::Error> {
    let rows = sqlx::query_as(&format!(
        "SELECT {CONNECTION_COLUMNS} FROM calendar_connections WHERE org_id = $1 AND user_id = $2 \
         ORDER BY created_at, id LIMIT $3 OFFSET $4"
    ))
    .bind(org_id)
    .bind(user_id)
    .bind(i64::from(limit))
    .bind(i64::from(offset))
    .fetch_all(&mut *conn)
    .await?;
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM calendar_connections WHERE org_id = $1 AND user_id = $2")
            .bind(org_id)
            .bind(user_id)
            .fetch_one(conn)
            .await?;
    Ok((rows, total))
}

pub(crate) async fn connection<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
) -> Result<Option<ConnectionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CONNECTION_COLUMNS} FROM calendar_connections WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Deletes a connection, its tokens, and the local copies of its events.
pub(crate) async fn delete_connection<'e>(db: impl PgExecutor<'e>, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM calendar_connections WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Stores a refreshed access token (and a rotated refresh token), sealed.
pub(crate) async fn store_access_token<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
    access_token: &[u8],
    expires_at: DateTime<Utc>,
    rotated_refresh_token: Option<&[u8]>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE calendar_connections SET access_token = $2, access_expires_at = $3, \
           refresh_token = COALESCE($4, refresh_token), updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(access_token)
    .bind(expires_at)
    .bind(rotated_refresh_token)
    .execute(db)
    .await?;
    Ok(())
}

/// The provider refused the grant for good: the connection is broken until the member connects
/// again; its tokens are useless and forgotten.
pub(crate) async fn mark_broken<'e>(db: impl PgExecutor<'e>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE calendar_connections SET status = 'broken', broken_at = now(), access_token = NULL, \
           access_expires_at = NULL, sync_lease_until = NULL, updated_at = now() \
         WHERE id = $1 AND status = 'active'",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Active connections not synced (or, never synced, not connected) for `every_secs` seconds,
/// least recently synced first.
pub(crate) async fn due_connections<'e>(
    db: impl PgExecutor<'e>,
    every_secs: i64,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM calendar_connections WHERE status = 'active' \
           AND COALESCE(last_synced_at, created_at) <= now() - make_interval(secs => $1) \
           AND (sync_lease_until IS NULL OR sync_lease_until < now()) \
         ORDER BY last_synced_at NULLS FIRST LIMIT $2",
    )
    .bind(every_secs as f64)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Takes the sync lease of an active connection for `lease_secs` (none while another run holds
/// an unexpired one).
pub(crate) async fn claim_for_sync<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
    lease_secs: i64,
) -> Result<Option<ConnectionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE calendar_connections SET sync_lease_until = now() + make_interval(secs => $2) \
         WHERE id = $1 AND status = 'active' AND (sync_lease_until IS NULL OR sync_lease_until < now()) \
         RETURNING {CONNECTION_COLUMNS}"
    ))
    .bind(id)
    .bind(lease_secs as f64)
    .fetch_optional(db)
    .await
}

pub(crate) async fn release_lease<'e>(db: impl PgExecutor<'e>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE calendar_connections SET sync_lease_until = NULL WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Records a finished sync: where the next one resumes, and releases the lease.
pub(crate) async fn finish_sync(
    conn: &mut PgConnection,
    id: Uuid,
    sync_token: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE calendar_connections SET sync_token = $2, last_synced_at = now(), sync_lease_until = NULL \
         WHERE id = $1",
    )
    .bind(id)
    .bind(sync_token)
    .execute(conn)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Events

#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct EventRow {
    pub id: Uuid,
    pub connection_id: Uuid,
    pub organizer_id: i64,
    pub space_id: Uuid,
    pub provider_event_id: String,
    pub title: String,
    pub description: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub time_zone: String,
    pub recurrence: Vec<String>,
    pub status: String,
    pub join_url: String,
    pub html_link: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const EVENT_COLUMNS: &str = "id, connection_id, organizer_id, space_id, provider_event_id, title, \
     description, starts_at, ends_at, time_zone, recurrence, status, join_url, html_link, \
     created_at, updated_at";

/// The fields of an event as the provider last reported them.
pub(crate) struct EventFields<'a> {
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub time_zone: &'a str,
    pub recurrence: &'a [String],
    pub status: &'a str,
    pub html_link: Option<&'a str>,
    pub provider_updated_at: Option<DateTime<Utc>>,
}

pub(crate) struct NewEventRow<'a> {
    pub id: Uuid,
    pub org_id: i64,
    pub connection_id: Uuid,
    pub organizer_id: i64,
    pub room_id: i64,
    pub space_id: Uuid,
    pub provider_event_id: &'a str,
    pub join_url: &'a str,
    pub fields: EventFields<'a>,
}

/// An attendee as stored: the lower-cased address, the member when known.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct AttendeeRow {
    pub event_id: Uuid,
    pub email: String,
    pub user_id: Option<i64>,
    pub response_status: String,
    pub organizer: bool,
}

/// Inserts an event created at the provider; `false` when a sync stored it first.
pub(crate) async fn insert_event(
    conn: &mut PgConnection,
    event: &NewEventRow<'_>,
) -> Result<bool, sqlx::Error> {
    let f = &event.fields;
    let done = sqlx::query(
        "INSERT INTO calendar_events (id, org_id, connection_id, organizer_id, room_id, space_id, \
           provider_event_id, title, description, starts_at, ends_at, time_zone, recurrence, status, \
           join_url, html_link, provider_updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         ON CONFLICT (connection_id, provider_event_id) DO NOTHING",
    )
    .bind(event.id)
    .bind(event.org_id)
    .bind(event.connection_id)
    .bind(event.organizer_id)
    .bind(event.room_id)
    .bind(event.space_id)
    .bind(event.provider_event_id)
    .bind(f.title)
    .bind(f.description)
    .bind(f.starts_at)
    .bind(f.ends_at)
    .bind(f.time_zone)
    .bind(f.recurrence)
    .bind(f.status)
    .bind(event.join_url)
    .bind(f.html_link)
    .bind(f.provider_updated_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Replaces an event's fields with what the provider reported. `true` when something differed
/// (the caller checks the report is not older than the stored copy).
pub(crate) async fn update_event_fields(
    conn: &mut PgConnection,
    id: Uuid,
    f: &EventFields<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE calendar_events SET title = $2, description = $3, starts_at = $4, ends_at = $5, \
           time_zone = $6, recurrence = $7, status = $8, html_link = COALESCE($9, html_link), \
           provider_updated_at = $10, updated_at = now() \
         WHERE id = $1 AND (title, description, starts_at, ends_at, time_zone, recurrence, status) \
           IS DISTINCT FROM ($2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(f.title)
    .bind(f.description)
    .bind(f.starts_at)
    .bind(f.ends_at)
    .bind(f.time_zone)
    .bind(f.recurrence)
    .bind(f.status)
    .bind(f.html_link)
    .bind(f.provider_updated_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The local event behind a provider event of a connection, with the provider's last change
/// time stored for it.
pub(crate) async fn event_by_provider_id(
    conn: &mut PgConnection,
    connection_id: Uuid,
    provider_event_id: &str,
) -> Result<Option<(Uuid, Option<DateTime<Utc>>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, provider_updated_at FROM calendar_events \
         WHERE connection_id = $1 AND provider_event_id = $2",
    )
    .bind(connection_id)
    .bind(provider_event_id)
    .fetch_optional(conn)
    .await
}

/// Records the provider's last change time of an event.
pub(crate) async fn set_provider_updated<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
    at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE calendar_events SET provider_updated_at = $2 \
         WHERE id = $1 AND $2::timestamptz IS NOT NULL \
           AND (provider_updated_at IS NULL OR provider_updated_at < $2)",
    )
    .bind(id)
    .bind(at)
    .execute(db)
    .await?;
    Ok(())
}

/// Marks an event cancelled (at the provider). `true` when it was not already.
pub(crate) async fn cancel_event(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE calendar_events SET status = 'cancelled', updated_at = now() \
         WHERE id = $1 AND status <> 'cancelled'",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// After a full sync: cancels the connection's events the provider no longer lists.
pub(crate) async fn cancel_unlisted(
    conn: &mut PgConnection,
    connection_id: Uuid,
    listed: &[String],
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE calendar_events SET status = 'cancelled', updated_at = now() \
         WHERE connection_id = $1 AND status <> 'cancelled' AND provider_event_id <> ALL($2)",
    )
    .bind(connection_id)
    .bind(listed)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The event `id` of organization `org_id`.
pub(crate) async fn find_event<'e>(
    db: impl PgExecutor<'e>,
    org_id: i64,
    id: Uuid,
) -> Result<Option<EventRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {EVENT_COLUMNS} FROM calendar_events WHERE org_id = $1 AND id = $2"
    ))
    .bind(org_id)
    .bind(id)
    .fetch_optional(db)
    .await
}

pub(crate) struct EventFilter {
    pub org_id: i64,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub space_id: Option<Uuid>,
    pub limit: u32,
    pub offset: u32,
}

/// The organization's events overlapping `[from, to)` (a recurring event: its series started
/// before `to`), by start: one page and the total.
pub(crate) async fn list_events(
    conn: &mut PgConnection,
    filter: &EventFilter,
) -> Result<(Vec<EventRow>, i64), sqlx::Error> {
    const WHERE: &str = "WHERE org_id = $1 AND starts_at < $3 \
           AND (ends_at > $2 OR cardinality(recurrence) > 0) \
           AND ($4::uuid IS NULL OR space_id = $4)";
    let rows = sqlx::query_as(&format!(
        "SELECT {EVENT_COLUMNS} FROM calendar_events {WHERE} ORDER BY starts_at, id LIMIT $5 OFFSET $6"
    ))
    .bind(filter.org_id)
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.space_id)
    .bind(i64::from(filter.limit))
    .bind(i64::from(filter.offset))
    .fetch_all(&mut *conn)
    .await?;
    let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM calendar_events {WHERE}"))
        .bind(filter.org_id)
        .bind(filter.from)
        .bind(filter.to)
        .bind(filter.space_id)
        .fetch_one(conn)
        .await?;
    Ok((rows, total))
}

pub(crate) async fn delete_event<'e>(db: impl PgExecutor<'e>, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM calendar_events WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The attendees of the events `ids`, by event then address.
pub(crate) async fn attendees(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<AttendeeRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT event_id, email, user_id, response_status, organizer FROM calendar_event_attendees \
         WHERE event_id = ANY($1) ORDER BY event_id, email",
    )
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// An attendee to store: the member's id when the caller knows it (an invitation), `None` from
/// a sync (the stored member is kept).
pub(crate) struct AttendeeInput<'a> {
    pub email: &'a str,
    pub user_id: Option<i64>,
    pub response_status: &'a str,
    pub organizer: bool,
}

/// Makes the event's attendees exactly `attendees` (by lower-cased address): answers updated,
/// the known member kept, the missing ones removed. `true` when something changed.
pub(crate) async fn set_attendees(
    conn: &mut PgConnection,
    event_id: Uuid,
    attendees: &[AttendeeInput<'_>],
) -> Result<bool, sqlx::Error> {
    let emails: Vec<String> = attendees.iter().map(|a| a.email.to_lowercase()).collect();
    let mut changed =
        sqlx::query("DELETE FROM calendar_event_attendees WHERE event_id = $1 AND email <> ALL($2)")
            .bind(event_id)
            .bind(&emails)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    for (attendee, email) in attendees.iter().zip(&emails) {
        changed += sqlx::query(
            "INSERT INTO calendar_event_attendees (event_id, email, user_id, response_status, organizer) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (event_id, email) DO UPDATE SET \
               user_id = COALESCE(EXCLUDED.user_id, calendar_event_attendees.user_id), \
               response_status = EXCLUDED.response_status, organizer = EXCLUDED.organizer \
             WHERE (calendar_event_attendees.response_status, calendar_event_attendees.organizer, \
                    calendar_event_attendees.user_id) \
               IS DISTINCT FROM (EXCLUDED.response_status, EXCLUDED.organizer, \
                    COALESCE(EXCLUDED.user_id, calendar_event_attendees.user_id))",
        )
        .bind(event_id)
        .bind(email)
        .bind(attendee.user_id)
        .bind(attendee.response_status)
        .bind(attendee.organizer)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(changed > 0)
}
