//! Fresh databases for tests, cloned from a migrated template.

use std::{path::PathBuf, sync::OnceLock};

use qubital::{database::EmbeddedPostgres, migrator};
use qubital_plugin::registered_features;
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};

/// A database that exists for one test; dropped (forcefully) when this value is dropped.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    /// Keep alive: dropping the database happens on drop.
    drop_on_drop: bool,
}

impl TestDatabase {
    /// Keeps the database after the test (for debugging).
    pub fn keep(mut self) -> Self {
        self.drop_on_drop = false;
        self
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if !self.drop_on_drop {
            return;
        }
        let name = self.name.clone();
        // Drop runs inside the test's runtime; use a thread with its own to run async code.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url()).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// An admin URL (to a maintenance database) of the Postgres server tests use.
pub fn admin_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => embedded_server_url(),
    })
    .clone()
}

/// Starts (or reuses) the private test cluster. Several test processes may race here; a file
/// lock makes one of them create it and the others reuse it.
fn embedded_server_url() -> String {
    let dir = std::env::temp_dir().join("qubital-test-postgres");
    std::thread::spawn(move || {
        std::fs::create_dir_all(&dir).expect("create the test cluster folder");
        let lock = std::fs::File::create(dir.join("start.lock")).expect("create the lock file");
        lock.lock().expect("lock the test cluster");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let cluster = runtime
            .block_on(EmbeddedPostgres::start(PathBuf::from(&dir)))
            .expect("TEST_DATABASE_URL is unset and the private test cluster could not start");
        let url = cluster.url("postgres");
        // Leave it running for the next test process: stopping it here would make every test
        // binary pay for a cluster start.
        std::mem::forget(cluster);
        url
    })
    .join()
    .expect("starting the test cluster panicked")
}

/// A new, empty database with every compiled-in migration applied.
pub async fn fresh_database() -> TestDatabase {
    let template = template().await;
    let name = format!("qubital_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url())
        .await
        .expect("connect to the test Postgres server");
    // Postgres refuses to clone a template while another CREATE DATABASE reads it; retry.
    let mut attempt = 0;
    loop {
        let created = sqlx::query(&format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""))
            .execute(&mut admin)
            .await;
        match created {
            Ok(_) => break,
            Err(error) if attempt < 50 && error.to_string().contains("being accessed by other users") => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
            }
            Err(error) => panic!("cannot create test database: {error}"),
        }
    }
    let _ = admin.close().await;
    TestDatabase {
        url: database_url(&name),
        name,
        drop_on_drop: true,
    }
}

/// The URL of database `name` on the test server.
pub fn database_url(name: &str) -> String {
    let admin = admin_url();
    let (base, _) = admin
        .rsplit_once('/')
        .expect("TEST_DATABASE_URL has a database path");
    format!("{base}/{name}")
}

/// An empty database without migrations (for migrator tests).
pub async fn empty_database() -> TestDatabase {
    let name = format!("qubital_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url())
        .await
        .expect("connect to the test Postgres server");
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await
        .expect("create a database");
    let _ = admin.close().await;
    TestDatabase {
        url: database_url(&name),
        name,
        drop_on_drop: true,
    }
}

/// The migrated template for this binary's migration set, created once.
async fn template() -> String {
    static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    TEMPLATE.get_or_init(build_template).await.clone()
}

async fn build_template() -> String {
    let plan = migrator::plan(&registered_features()).expect("migration versions are unique");
    let mut hasher = Sha256::new();
    for step in &plan {
        hasher.update(step.migration.version.to_be_bytes());
        hasher.update(&step.migration.checksum);
    }
    let name = format!("qubital_tmpl_{}", &hex::encode(hasher.finalize())[..16]);

    let mut admin = PgConnection::connect(&admin_url())
        .await
        .expect("connect to the test Postgres server");
    // Serialise template builds across test processes.
    sqlx::query("SELECT pg_advisory_lock(7365871)")
        .execute(&mut admin)
        .await
        .expect("lock");
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut admin)
        .await
        .expect("query pg_database");
    if !exists {
        let building = format!("{name}_building");
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .expect("drop");
        sqlx::query(&format!("CREATE DATABASE \"{building}\""))
            .execute(&mut admin)
            .await
            .expect("create template");
        {
            let pool = sqlx::PgPool::connect(&database_url(&building))
                .await
                .expect("connect to the template");
            migrator::run(&pool, &plan)
                .await
                .expect("migrations apply to an empty database");
            pool.close().await;
        }
        sqlx::query(&format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\""))
            .execute(&mut admin)
            .await
            .expect("rename");
    }
    sqlx::query("SELECT pg_advisory_unlock(7365871)")
        .execute(&mut admin)
        .await
        .expect("unlock");
    let _ = admin.close().await;
    name
}
