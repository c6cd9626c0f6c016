//! The connection pool, and where its database comes from.

pub mod embedded;

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    PgPool,
};

use crate::config::HostSettings;
pub use embedded::EmbeddedPostgres;

/// The process's database: a pool, plus the private cluster behind it when one was started.
pub struct Database {
    pub pool: PgPool,
    /// Kept alive for as long as the pool is used; stops the cluster when dropped.
    pub embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects to `DATABASE_URL`, or starts (or reuses) the private cluster when it is unset.
    pub async fn open(settings: &HostSettings) -> anyhow::Result<Self> {
        let (url, embedded) = match &settings.database_url {
            Some(url) => (url.clone(), None),
            None => {
                let cluster =
                    EmbeddedPostgres::start(embedded::default_data_dir(settings.data_dir.as_deref())?)
                        .await
                        .context(
                            "no DATABASE_URL is set, and the private Postgres cluster could not be started",
                        )?;
                ensure_database_exists(&cluster.url("postgres"), "qubital").await?;
                (cluster.url("qubital"), Some(cluster))
            }
        };
        let pool = pool(&url, settings).await?;
        Ok(Self { pool, embedded })
    }
}

/// A pool for `url`. It connects lazily, so a database that is briefly down at boot or later
/// makes requests fail (and `/readyz` answer 503) rather than the process exit.
pub async fn pool(url: &str, settings: &HostSettings) -> anyhow::Result<PgPool> {
    // The URL may hold a password: errors name the variable, never echo the value.
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        anyhow::bail!("DATABASE_URL must be a postgres:// or postgresql:// URL");
    }
    let options = PgConnectOptions::from_str(url)
        .map_err(|_| anyhow::anyhow!("DATABASE_URL is not a valid Postgres URL"))?;
    // A startup parameter: every connection the pool opens has it, before any statement.
    let statement_timeout = format!("{}ms", settings.database_statement_timeout.as_millis());
    let options = options
        .application_name("qubital")
        .options([("statement_timeout", statement_timeout.as_str())]);
    let pool = PgPoolOptions::new()
        .max_connections(settings.database_max_connections)
        .acquire_timeout(settings.database_acquire_timeout)
        // sqlx pings every connection it hands out by default: a second round trip for each
        // query. Only a connection that sat idle may have been cut (a restart, a proxy's idle
        // timeout), so only those are pinged; a busy one that breaks fails its request with 503
        // `database-unavailable` and is dropped.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IDLE_CONNECTIONS_AFTER {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options);
    Ok(pool)
}

/// How long a pooled connection may sit idle before it is pinged when next handed out.
const PING_IDLE_CONNECTIONS_AFTER: Duration = Duration::from_secs(10);

/// Creates database `name` on the server behind `admin_url` unless it exists.
pub async fn ensure_database_exists(admin_url: &str, name: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .context("cannot connect to Postgres")?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut admin)
        .await?;
    if !exists {
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await?;
    }
    admin.close().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn settings(timeout: &str) -> crate::config::HostSettings {
        Config::parse_from(&[], ["qubital", "--database-statement-timeout-secs", timeout])
            .unwrap()
            .host
    }

    /// A runaway statement is cancelled by Postgres after `DATABASE_STATEMENT_TIMEOUT_SECS`, on
    /// every pooled connection (not just the first one).
    #[tokio::test]
    async fn statements_are_cancelled_after_the_statement_timeout() {
        let database = qubital_testkit::fresh_database().await;
        let pool = super::pool(&database.url, &settings("0.3")).await.unwrap();
        let shown: String = sqlx::query_scalar("SHOW statement_timeout")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(shown, "300ms");
        let (a, b) = tokio::join!(
            sqlx::query("SELECT pg_sleep(3)").execute(&pool),
            sqlx::query("SELECT pg_sleep(3)").execute(&pool),
        );
        for result in [a, b] {
            let error = result.expect_err("the statement is cancelled");
            let code = error
                .as_database_error()
                .and_then(|e| e.code())
                .map(|c| c.into_owned());
            assert_eq!(code.as_deref(), Some("57014"), "{error}");
        }
        // 0 means no limit.
        let unlimited = super::pool(&database.url, &settings("0")).await.unwrap();
        let shown: String = sqlx::query_scalar("SHOW statement_timeout")
            .fetch_one(&unlimited)
            .await
            .unwrap();
        assert_eq!(shown, "0");
    }

    /// A connection cut while it sat idle in the pool (a database restart, a proxy's idle
    /// timeout) is pinged, found dead and replaced before it is handed out: the next query
    /// succeeds. (A busy connection is handed out without that round trip.)
    #[tokio::test]
    async fn a_connection_cut_while_idle_is_replaced_before_use() {
        let database = qubital_testkit::fresh_database().await;
        let pool = super::pool(&database.url, &settings("30")).await.unwrap();
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .unwrap();
        let admin = super::pool(&database.url, &settings("30")).await.unwrap();
        let cut: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .fetch_one(&admin)
            .await
            .unwrap();
        assert!(cut);
        tokio::time::sleep(super::PING_IDLE_CONNECTIONS_AFTER + std::time::Duration::from_millis(200)).await;
        let now: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .expect("the dead connection was replaced");
        assert_ne!(now, pid);
    }
}
