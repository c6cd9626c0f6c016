//! Tables a feature owns, and what keeps each from growing without bound.
//!
//! A feature declares every table its migrations create ([`Feature::tables`](crate::Feature::tables)).
//! That declaration is what the architecture test checks SQL against (a crate touches only the
//! tables it owns, or those of its allow-list), and what the host's housekeeping job prunes:
//! once an hour, on one replica, every [`Retention::Prune`] rule of every compiled-in feature is
//! applied with [`prune_expired`], in batches.

use std::sync::OnceLock;

use prometheus_client::{encoding::EncodeLabelSet, metrics::counter::Counter, metrics::family::Family};

/// A table and its retention rule.
#[derive(Clone, Copy, Debug)]
pub struct Table {
    pub name: &'static str,
    pub retention: Retention,
}

/// How a table is kept bounded.
#[derive(Clone, Copy, Debug)]
pub enum Retention {
    /// Rows for which `expired` (SQL written by the feature, never input) holds are deleted by
    /// the housekeeping job. `why` says why they are no longer needed then.
    Prune {
        expired: &'static str,
        why: &'static str,
    },
    /// Rows are not pruned by age; `why` says what bounds the table instead (one row per
    /// organization, deleted with what owns it...).
    Kept { why: &'static str },
}

impl Table {
    /// A table whose expired rows the housekeeping job deletes.
    pub const fn pruned(name: &'static str, expired: &'static str, why: &'static str) -> Self {
        Self {
            name,
            retention: Retention::Prune { expired, why },
        }
    }

    /// A table that is not pruned by age, with the reason it stays bounded.
    pub const fn kept(name: &'static str, why: &'static str) -> Self {
        Self {
            name,
            retention: Retention::Kept { why },
        }
    }
}

/// Rows one [`prune_expired`] statement deletes at most.
pub const PRUNE_BATCH: i64 = 5_000;

/// Deletes the rows of `table` for which `expired` holds, [`PRUNE_BATCH`] at a time so that no
/// statement holds locks or writes a burst of WAL for long, until none is left or `stop()` says
/// so. Idempotent. Returns how many rows were deleted.
pub async fn prune_expired(
    db: &sqlx::PgPool,
    table: &str,
    expired: &str,
    stop: impl Fn() -> bool,
) -> Result<u64, sqlx::Error> {
    let statement =
        format!("DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} WHERE {expired} LIMIT $1)");
    let mut deleted = 0;
    while !stop() {
        let done = sqlx::query(&statement)
            .bind(PRUNE_BATCH)
            .execute(db)
            .await?
            .rows_affected();
        deleted += done;
        if done < PRUNE_BATCH as u64 {
            break;
        }
    }
    if deleted > 0 {
        pruned_rows()
            .get_or_create(&TableLabel {
                table: table.to_owned(),
            })
            .inc_by(deleted);
        tracing::info!(table, deleted, "expired rows pruned");
    }
    Ok(deleted)
}

/// Applies every [`Retention::Prune`] rule of `tables`. Returns the rows deleted per table.
pub async fn prune_tables(
    db: &sqlx::PgPool,
    tables: &[Table],
    stop: impl Fn() -> bool,
) -> Result<Vec<(&'static str, u64)>, sqlx::Error> {
    let mut report = Vec::new();
    for table in tables {
        if let Retention::Prune { expired, .. } = table.retention {
            report.push((table.name, prune_expired(db, table.name, expired, &stop).await?));
        }
    }
    Ok(report)
}

/// Rows deleted from `table` by retention rules since the process started (what
/// `qubital_rows_pruned_total{table}` shows).
pub fn pruned_rows_total(table: &str) -> u64 {
    pruned_rows()
        .get_or_create(&TableLabel {
            table: table.to_owned(),
        })
        .get()
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TableLabel {
    table: String,
}

fn pruned_rows() -> &'static Family<TableLabel, Counter> {
    static METRIC: OnceLock<Family<TableLabel, Counter>> = OnceLock::new();
    METRIC.get_or_init(|| {
        let family = Family::default();
        crate::metrics::register(
            "rows_pruned",
            "Rows deleted by retention rules, by table",
            family.clone(),
        );
        family
    })
}
