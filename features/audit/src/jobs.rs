//! `audit.relay` (singleton, every 10 s): copies recorded events to WorkOS Audit Logs.
//!
//! No loss: an event stays `pending` until WorkOS answered 2xx for it; a failure is retried
//! with a backoff doubling from 2 s up to an hour (`relay_next_at`), the reason kept in
//! `relay_error`. No duplication: every attempt sends `Idempotency-Key` = the event id, and
//! WorkOS keeps one event per key, so a retry after a lost answer (or a brief overlap of two
//! leaders) is absorbed there. No transaction is held while WorkOS is asked.
//!
//! An event of an organization that is not in WorkOS (created by the development sign-in) is
//! `skipped`. Without WorkOS configured the job does nothing and events wait.

use std::time::Duration;

use chrono::SecondsFormat;
use futures::future::BoxFuture;
use platform_workos::{AuditLogEntity, AuditLogEvent, Workos, WorkosError};
use qubital_plugin::{AppContext, Job, JobContext, ProcessRole};
use sqlx::PgConnection;

use crate::store::{self, EventRow};

pub const RELAY: Job =
    qubital_plugin::job!("audit.relay", ProcessRole::SERVE, Duration::from_secs(10), relay).singleton();

/// Events sent per pass.
const BATCH: i64 = 100;

/// How the relay learns an organization's WorkOS id (the identity feature owns that table and
/// provides this at boot; see `qubital_auth`'s init).
pub type WorkosOrganizationOf =
    for<'c> fn(&'c mut PgConnection, i64) -> BoxFuture<'c, Result<Option<String>, sqlx::Error>>;

/// Provided in the app context by the feature that owns organizations.
#[derive(Clone, Copy)]
pub struct WorkosOrganizations(pub WorkosOrganizationOf);

async fn relay(job: JobContext) -> anyhow::Result<()> {
    while !job.stopping() {
        let sent = relay_once(&job.app).await?;
        if sent.sent + sent.skipped < BATCH as usize {
            break;
        }
    }
    Ok(())
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Relayed {
    pub sent: usize,
    pub skipped: usize,
    pub failed: usize,
}

/// One pass over the due events, oldest first. Stops at the first sign that WorkOS is down
/// (the rest wait for the next pass); an event WorkOS refuses is retried later without holding
/// up the others.
pub async fn relay_once(app: &AppContext) -> anyhow::Result<Relayed> {
    let mut done = Relayed::default();
    let workos = app.get::<Workos>();
    if !workos.is_enabled() {
        return Ok(done);
    }
    let Some(WorkosOrganizations(workos_org_of)) = app.try_get::<WorkosOrganizations>().copied() else {
        return Ok(done);
    };
    let db = app.db();
    for row in store::due(db, BATCH).await? {
        let workos_org_id = {
            let mut conn = db.acquire().await?;
            workos_org_of(&mut conn, row.organization_id).await?
        };
        let Some(workos_org_id) = workos_org_id else {
            store::mark_skipped(db, row.id, "the organization is not in WorkOS").await?;
            done.skipped += 1;
            continue;
        };
        match workos
            .create_audit_event(&workos_org_id, &for_workos(&row), &row.id.to_string())
            .await
        {
            Ok(()) => {
                store::mark_relayed(db, row.id).await?;
                done.sent += 1;
            }
            Err(error @ WorkosError::Rejected { .. }) => {
                tracing::error!(%error, event_id = %row.id, action = %row.action, "WorkOS refused an audit event; it is retried later");
                store::mark_failed(db, row.id, &error.to_string()).await?;
                done.failed += 1;
            }
            Err(error) => {
                tracing::warn!(%error, event_id = %row.id, "WorkOS Audit Logs unavailable; relaying later");
                store::mark_failed(db, row.id, &error.to_string()).await?;
                done.failed += 1;
                break;
            }
        }
    }
    Ok(done)
}

/// The event in WorkOS's terms; the request id travels as metadata.
fn for_workos(row: &EventRow) -> AuditLogEvent {
    AuditLogEvent {
        action: row.action.clone(),
        occurred_at: row.occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        actor: AuditLogEntity {
            kind: row.actor_type.clone(),
            id: row.actor_id.clone(),
            name: row.actor_name.clone(),
        },
        targets: row
            .targets
            .0
            .iter()
            .map(|t| AuditLogEntity {
                kind: t.kind.clone(),
                id: t.id.clone(),
                name: t.name.clone(),
            })
            .collect(),
        location: row.ip_address.clone().unwrap_or_else(|| "0.0.0.0".into()),
        user_agent: row.user_agent.clone(),
        metadata: row
            .request_id
            .iter()
            .map(|id| ("request_id".to_owned(), id.clone()))
            .collect(),
    }
}
