//! The `qubital` binary: help, configuration errors at boot, and `migrate`.

use std::process::Command;

fn qubital() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qubital"));
    // Start from a clean slate: no settings inherited from the developer's shell.
    for (key, _) in std::env::vars() {
        if key.starts_with("QUBITAL_") || key.starts_with("DATABASE_") || key == "PORT" || key == "HOST" {
            command.env_remove(key);
        }
    }
    command
}

#[test]
fn help_lists_the_subcommands_and_every_host_setting() {
    let output = qubital().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    let roles = qubital_plugin::registered_roles();
    for word in roles
        .iter()
        .map(|r| r.name)
        .chain(["serve", "migrate", "openapi"])
    {
        assert!(help.contains(word), "--help does not mention {word}:\n{help}");
    }
    for variable in [
        "QUBITAL_ENV",
        "HOST",
        "PORT",
        "DATABASE_URL",
        "DATABASE_MAX_CONNECTIONS",
        "DATABASE_ACQUIRE_TIMEOUT_SECS",
        "QUBITAL_DATA_DIR",
        "MAX_BODY_BYTES",
        "SHUTDOWN_TIMEOUT_SECS",
        "MIN_CLIENT_CONTRACT",
        "RUST_LOG",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ] {
        assert!(
            help.contains(&format!("env: {variable}")),
            "--help does not list {variable}:\n{help}"
        );
    }
    // Subcommand help lists the settings too.
    let serve = String::from_utf8(qubital().args(["serve", "--help"]).output().unwrap().stdout).unwrap();
    assert!(
        serve.contains("env: DATABASE_URL") && serve.contains("--no-migrate"),
        "{serve}"
    );
}

#[test]
fn a_malformed_setting_stops_the_boot_with_one_line_naming_the_variable() {
    let output = qubital().arg("migrate").env("PORT", "eighty").output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.lines().next().unwrap().contains("PORT"), "{stderr}");

    let output = qubital()
        .arg("migrate")
        .env("DATABASE_URL", "mysql://nope")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(line.contains("DATABASE_URL"), "{stderr}");
}

#[tokio::test]
async fn migrate_applies_every_compiled_in_migration_and_exits() {
    let db = qubital_testkit::empty_database().await;
    let output = qubital()
        .arg("migrate")
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let table: Option<String> = sqlx::query_scalar("SELECT to_regclass('qubital_migrations')::text")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(table.as_deref(), Some("qubital_migrations"));
    let plan = qubital::migrator::plan(&qubital_plugin::registered_features()).unwrap();
    assert!(qubital::migrator::is_current(&pool, &plan).await.unwrap());
    pool.close().await;
}
