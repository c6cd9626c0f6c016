//! The connection pool, and where its database comes from.

pub mod embedded;

use std::str::FromStr;

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
    let pool = PgPoolOptions::new()
        .max_connections(settings.database_max_connections)
        .acquire_timeout(settings.database_acquire_timeout)
        .connect_lazy_with(options.application_name("qubital"));
    Ok(pool)
}

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
