//! Every SQL statement of the audit feature (table `audit_events`).

use chrono::{DateTime, Utc};
use sqlx::{types::Json, PgConnection, PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::event::{AuditEvent, Target};

pub(crate) async fn insert(conn: &mut PgConnection, id: Uuid, event: &AuditEvent) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events
           (id, organization_id, actor_type, actor_id, actor_name, action, targets,
            request_id, ip_address, user_agent)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(event.organization_id)
    .bind(event.actor.kind)
    .bind(&event.actor.id)
    .bind(&event.actor.name)
    .bind(event.action.as_str())
    .bind(Json(&event.targets))
    .bind(&event.context.request_id)
    .bind(&event.context.ip_address)
    .bind(&event.context.user_agent)
    .execute(conn)
    .await?;
    Ok(())
}

/// A recorded event.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct EventRow {
    pub id: Uuid,
    pub organization_id: i64,
    pub actor_type: String,
    pub actor_id: String,
    pub actor_name: Option<String>,
    pub action: String,
    pub targets: Json<Vec<Target>>,
    pub request_id: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, organization_id, actor_type, actor_id, actor_name, action, targets, \
                       request_id, ip_address, user_agent, occurred_at";

/// What a list shows of one organization's trail.
pub(crate) struct Filter<'a> {
    pub organization_id: i64,
    pub actor_id: Option<&'a str>,
    pub action: Option<&'a str>,
    pub target_type: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

fn push_where<'a>(query: &mut QueryBuilder<'a, Postgres>, filter: &Filter<'a>) {
    query
        .push(" WHERE organization_id = ")
        .push_bind(filter.organization_id);
    if let Some(actor) = filter.actor_id {
        query.push(" AND actor_id = ").push_bind(actor);
    }
    if let Some(action) = filter.action {
        query.push(" AND action = ").push_bind(action);
    }
    if filter.target_type.is_some() || filter.target_id.is_some() {
        let mut wanted = serde_json::Map::new();
        if let Some(kind) = filter.target_type {
            wanted.insert("type".into(), kind.into());
        }
        if let Some(id) = filter.target_id {
            wanted.insert("id".into(), id.into());
        }
        let wanted = serde_json::Value::Array(vec![serde_json::Value::Object(wanted)]);
        query.push(" AND targets @> ").push_bind(Json(wanted));
    }
    if let Some(from) = filter.from {
        query.push(" AND occurred_at >= ").push_bind(from);
    }
    if let Some(until) = filter.until {
        query.push(" AND occurred_at < ").push_bind(until);
    }
}

/// One page of the organization's trail, newest first, and how many match in all.
pub(crate) async fn page(
    conn: &mut PgConnection,
    filter: &Filter<'_>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<EventRow>, i64), sqlx::Error> {
    let mut count = QueryBuilder::new("SELECT count(*) FROM audit_events");
    push_where(&mut count, filter);
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    let mut select = QueryBuilder::new(format!("SELECT {COLUMNS} FROM audit_events"));
    push_where(&mut select, filter);
    select
        .push(" ORDER BY occurred_at DESC, id DESC LIMIT ")
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind(offset);
    let rows = select.build_query_as().fetch_all(&mut *conn).await?;
    Ok((rows, total))
}

/// The oldest events waiting for the relay whose next attempt is due.
pub(crate) async fn due<'e>(db: impl PgExecutor<'e>, limit: i64) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM audit_events
         WHERE relay_state = 'pending' AND relay_next_at <= now()
         ORDER BY occurred_at, id LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(db)
    .await
}

/// WorkOS has the event.
pub(crate) async fn mark_relayed<'e>(db: impl PgExecutor<'e>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE audit_events SET relay_state = 'relayed', relayed_at = now(), relay_error = NULL
         WHERE id = $1 AND relay_state = 'pending'",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// The event's organization is not in WorkOS: there is nowhere to relay it.
pub(crate) async fn mark_skipped<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
    why: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE audit_events SET relay_state = 'skipped', relay_error = $2
         WHERE id = $1 AND relay_state = 'pending'",
    )
    .bind(id)
    .bind(why)
    .execute(db)
    .await?;
    Ok(())
}

/// A failed attempt: retried after a backoff doubling from 2 s up to an hour.
pub(crate) async fn mark_failed<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE audit_events
         SET relay_attempts = relay_attempts + 1,
             relay_error = left($2, 1000),
             relay_next_at = now() + least(interval '1 hour',
                                           interval '1 second' * power(2, least(relay_attempts + 1, 12)))
         WHERE id = $1 AND relay_state = 'pending'",
    )
    .bind(id)
    .bind(error)
    .execute(db)
    .await?;
    Ok(())
}
