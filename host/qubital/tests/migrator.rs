//! The migrator against a real Postgres: global ordering, concurrency, checksums, and features
//! that are compiled out.

use std::borrow::Cow;

use qubital::migrator::{self, PlannedMigration};
use qubital_plugin::{
    sqlx::migrate::{Migration, MigrationType},
    Feature, Migrator,
};
use qubital_testkit::empty_database;
use sqlx::PgPool;

static ALPHA_MIGRATIONS: Migrator = sqlx::migrate!("tests/fixtures/migrations/alpha");
static BETA_MIGRATIONS: Migrator = sqlx::migrate!("tests/fixtures/migrations/beta");
static ALPHA: Feature = Feature::new("alpha").migrations(&ALPHA_MIGRATIONS);
static BETA: Feature = Feature::new("beta").migrations(&BETA_MIGRATIONS);

async fn pool(url: &str) -> PgPool {
    PgPool::connect(url).await.expect("connect to the test database")
}

async fn log(pool: &PgPool) -> Vec<(i64, String)> {
    sqlx::query_as("SELECT version, feature FROM fixture_log ORDER BY seq")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn migrations_of_two_features_apply_in_global_version_order() {
    let db = empty_database().await;
    let pool = pool(&db.url).await;
    // Whatever order the features are listed in, versions decide.
    let plan = migrator::plan(&[&BETA, &ALPHA]).unwrap();
    let versions: Vec<(i64, &str)> = plan.iter().map(|p| (p.migration.version, p.feature)).collect();
    assert_eq!(
        versions,
        [
            (20260101000001, "alpha"),
            (20260101000002, "beta"),
            (20260101000003, "alpha")
        ]
    );

    let report = migrator::run(&pool, &plan).await.unwrap();
    assert_eq!(report.applied, [20260101000001, 20260101000002, 20260101000003]);
    assert_eq!(
        log(&pool).await,
        [
            (20260101000002, "beta".to_owned()),
            (20260101000003, "alpha".to_owned())
        ]
    );

    let recorded: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, feature FROM qubital_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[1], (20260101000002, "beta".to_owned()));
    assert!(migrator::is_current(&pool, &plan).await.unwrap());

    // A second run has nothing to do.
    let again = migrator::run(&pool, &plan).await.unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(again.already_applied, 3);
}

#[tokio::test]
async fn two_migrators_racing_apply_each_migration_once() {
    let db = empty_database().await;
    let plan = migrator::plan(&[&ALPHA, &BETA]).unwrap();
    // Separate pools: two replicas booting at the same time.
    let (first, second) = (pool(&db.url).await, pool(&db.url).await);
    let (a, b) = tokio::join!(migrator::run(&first, &plan), migrator::run(&second, &plan));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut applied = [a.applied.clone(), b.applied.clone()].concat();
    applied.sort_unstable();
    assert_eq!(
        applied,
        [20260101000001, 20260101000002, 20260101000003],
        "each applied exactly once: {a:?} {b:?}"
    );
    assert_eq!(log(&first).await.len(), 2);
}

#[tokio::test]
async fn an_edited_applied_migration_is_refused() {
    let db = empty_database().await;
    let pool = pool(&db.url).await;
    migrator::run(&pool, &migrator::plan(&[&ALPHA, &BETA]).unwrap())
        .await
        .unwrap();

    let original = ALPHA_MIGRATIONS
        .iter()
        .find(|m| m.version == 20260101000003)
        .unwrap();
    let edited: &'static Migration = Box::leak(Box::new(Migration::new(
        original.version,
        original.description.clone(),
        MigrationType::Simple,
        Cow::Owned(format!("{}\n-- an innocent-looking edit", original.sql)),
        false,
    )));
    let plan = vec![PlannedMigration {
        feature: "alpha",
        migration: edited,
    }];
    let error = migrator::run(&pool, &plan).await.unwrap_err().to_string();
    assert!(
        error.contains("20260101000003") && error.contains("was edited after it was applied"),
        "{error}"
    );
    assert!(!migrator::is_current(&pool, &plan).await.unwrap());
}

#[tokio::test]
async fn applied_migrations_of_a_compiled_out_feature_are_tolerated() {
    let db = empty_database().await;
    let pool = pool(&db.url).await;
    migrator::run(&pool, &migrator::plan(&[&ALPHA, &BETA]).unwrap())
        .await
        .unwrap();

    // The same database, now served by a binary built without `beta`.
    let without_beta = migrator::plan(&[&ALPHA]).unwrap();
    let report = migrator::run(&pool, &without_beta).await.unwrap();
    assert!(report.applied.is_empty());
    assert_eq!(report.unknown, [20260101000002]);
    assert!(migrator::is_current(&pool, &without_beta).await.unwrap());
}

#[tokio::test]
async fn a_version_used_by_two_features_is_a_plan_error() {
    static ALPHA_AGAIN: Feature = Feature::new("alpha-copy").migrations(&ALPHA_MIGRATIONS);
    let error = migrator::plan(&[&ALPHA, &ALPHA_AGAIN]).unwrap_err().to_string();
    assert!(
        error.contains("20260101000001") && error.contains("alpha-copy"),
        "{error}"
    );
}
