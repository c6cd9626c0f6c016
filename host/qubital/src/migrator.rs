//! Applies every compiled-in feature's migrations, in one global order.
//!
//! Versions are timestamps (`YYYYMMDDHHMMSS`), so migrations of different features interleave
//! by creation time. The run holds a Postgres advisory lock, so replicas booting together apply
//! each migration once. Each applied migration is recorded with its checksum; a migration edited
//! after it was applied stops the run. Applied migrations that belong to no compiled-in feature
//! (a binary built without that feature) are left alone.

use std::collections::HashMap;

use anyhow::{bail, Context};
use qubital_plugin::{sqlx::migrate::Migration, Feature};
use sqlx::{Acquire, PgConnection, PgPool};

/// Arbitrary constant: the advisory lock key that serialises migration runs.
const LOCK_KEY: i64 = 0x5155_4249_5441_4c4d; // "QUBITALM"

/// One migration and the feature that owns it.
#[derive(Clone, Debug)]
pub struct PlannedMigration {
    pub feature: &'static str,
    pub migration: &'static Migration,
}

/// What a migration run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub applied: Vec<i64>,
    pub already_applied: usize,
    /// Recorded as applied, but owned by no compiled-in feature.
    pub unknown: Vec<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("migration version {version} is used by both `{first}` and `{second}`; regenerate one with `cargo xtask migration new`")]
    DuplicateVersion {
        version: i64,
        first: &'static str,
        second: &'static str,
    },
}

/// Every registered migration, ordered by version.
pub fn plan(features: &[&'static Feature]) -> Result<Vec<PlannedMigration>, PlanError> {
    let mut plan: Vec<PlannedMigration> = features
        .iter()
        .filter_map(|f| f.migrations.map(|m| (f.name, m)))
        .flat_map(|(feature, migrator)| {
            migrator
                .iter()
                .filter(|m| m.migration_type.is_up_migration())
                .map(move |migration| PlannedMigration { feature, migration })
        })
        .collect();
    plan.sort_by_key(|p| p.migration.version);
    for pair in plan.windows(2) {
        if pair[0].migration.version == pair[1].migration.version {
            return Err(PlanError::DuplicateVersion {
                version: pair[0].migration.version,
                first: pair[0].feature,
                second: pair[1].feature,
            });
        }
    }
    Ok(plan)
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS qubital_migrations (
    version      BIGINT PRIMARY KEY,
    feature      TEXT NOT NULL,
    description  TEXT NOT NULL,
    checksum     BYTEA NOT NULL,
    applied_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    duration_ms  BIGINT NOT NULL
)";

/// Applies what is pending. Safe to run concurrently from several processes.
pub async fn run(pool: &PgPool, plan: &[PlannedMigration]) -> anyhow::Result<Report> {
    let mut conn = pool
        .acquire()
        .await
        .context("cannot connect to the database to migrate")?;
    // A migration (or the wait for another process's) may take longer than the pool's
    // DATABASE_STATEMENT_TIMEOUT_SECS; RESET below gives the connection its default back.
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut *conn)
        .await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    let result = run_locked(&mut conn, plan).await;
    // Release even after a failure; if this fails the connection is dropped, which releases too.
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await;
    let reset = sqlx::query("RESET statement_timeout").execute(&mut *conn).await;
    if unlocked.is_err() || reset.is_err() {
        conn.detach();
    }
    result
}

async fn run_locked(conn: &mut PgConnection, plan: &[PlannedMigration]) -> anyhow::Result<Report> {
    sqlx::query(CREATE_TABLE).execute(&mut *conn).await?;
    let applied = applied(conn).await?;
    verify_checksums(plan, &applied)?;

    let mut report = Report {
        unknown: unknown(plan, &applied),
        ..Report::default()
    };
    for step in plan {
        if applied.contains_key(&step.migration.version) {
            report.already_applied += 1;
            continue;
        }
        apply(conn, step).await?;
        report.applied.push(step.migration.version);
    }
    if !report.unknown.is_empty() {
        tracing::info!(versions = ?report.unknown, "applied migrations of features not compiled into this binary were left alone");
    }
    Ok(report)
}

async fn apply(conn: &mut PgConnection, step: &PlannedMigration) -> anyhow::Result<()> {
    let m = step.migration;
    let started = std::time::Instant::now();
    let what = || {
        format!(
            "migration {} ({}/{}) failed",
            m.version, step.feature, m.description
        )
    };
    if m.no_tx {
        sqlx::raw_sql(&m.sql)
            .execute(&mut *conn)
            .await
            .with_context(what)?;
        record(&mut *conn, step, started).await?;
    } else {
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(&m.sql).execute(&mut *tx).await.with_context(what)?;
        record(&mut tx, step, started).await?;
        tx.commit().await?;
    }
    tracing::info!(version = m.version, feature = step.feature, description = %m.description, "migration applied");
    Ok(())
}

async fn record(
    conn: &mut PgConnection,
    step: &PlannedMigration,
    started: std::time::Instant,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO qubital_migrations (version, feature, description, checksum, duration_ms)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(step.migration.version)
    .bind(step.feature)
    .bind(step.migration.description.as_ref())
    .bind(step.migration.checksum.as_ref())
    .bind(i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX))
    .execute(conn)
    .await?;
    Ok(())
}

/// version -> checksum of every applied migration.
async fn applied(conn: &mut PgConnection) -> anyhow::Result<HashMap<i64, Vec<u8>>> {
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as("SELECT version, checksum FROM qubital_migrations")
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

fn verify_checksums(plan: &[PlannedMigration], applied: &HashMap<i64, Vec<u8>>) -> anyhow::Result<()> {
    for step in plan {
        if let Some(checksum) = applied.get(&step.migration.version) {
            if checksum.as_slice() != step.migration.checksum.as_ref() {
                bail!(
                    "migration {} ({}/{}) was edited after it was applied; restore the applied \
                     version and put the change in a new migration",
                    step.migration.version,
                    step.feature,
                    step.migration.description
                );
            }
        }
    }
    Ok(())
}

fn unknown(plan: &[PlannedMigration], applied: &HashMap<i64, Vec<u8>>) -> Vec<i64> {
    let mut unknown: Vec<i64> = applied
        .keys()
        .copied()
        .filter(|v| !plan.iter().any(|p| p.migration.version == *v))
        .collect();
    unknown.sort_unstable();
    unknown
}

/// Whether every planned migration is applied (with the right checksum): part of `/readyz`.
pub async fn is_current(pool: &PgPool, plan: &[PlannedMigration]) -> anyhow::Result<bool> {
    let mut conn = pool.acquire().await?;
    let table: Option<String> = sqlx::query_scalar("SELECT to_regclass('qubital_migrations')::text")
        .fetch_one(&mut *conn)
        .await?;
    if table.is_none() {
        return Ok(plan.is_empty());
    }
    let applied = applied(&mut conn).await?;
    Ok(plan
        .iter()
        .all(|p| applied.get(&p.migration.version).map(Vec::as_slice) == Some(p.migration.checksum.as_ref())))
}
