//! Test harness: the real app, in-process, on a random port, against a fresh database.
//!
//! ```ignore
//! let app = qubital_testkit::spawn_app().await;
//! let response = app.post("/user/get", &serde_json::json!({})).await;
//! assert_eq!(response.status(), 200);
//! ```
//!
//! Databases: every test gets its own database, cloned from a template that has every
//! compiled-in migration applied (built once per migration set, shared across test processes).
//! The server is `TEST_DATABASE_URL` (an admin URL, e.g. `postgres://postgres@127.0.0.1:5432/postgres`)
//! or, when that is unset, a private cluster started from the installed Postgres binaries in
//! `$TMPDIR/qubital-test-postgres` and left running for the next test process.
//!
//! Test-only features: `inventory::submit!` a [`qubital_plugin::Feature`] in the test file; each
//! integration-test file is its own binary, so the feature exists only there.

mod database;
pub mod proxy;

use std::net::SocketAddr;

use qubital::{app::App, config::Config};
use qubital_plugin::{registered_features, AppContext, ProcessRole};

pub use database::{admin_url, database_url, empty_database, fresh_database, TestDatabase};
pub use qubital_testclient::{problem_type, read, Client};

/// How long after `since` `seen` first holds, asked every 20 ms; panics naming `what` once
/// `limit` has passed. For the bounds of caches and notifications: "a change is seen within…".
pub async fn seen_within<F: std::future::Future<Output = bool>>(
    since: std::time::Instant,
    limit: std::time::Duration,
    what: &str,
    mut seen: impl FnMut() -> F,
) -> std::time::Duration {
    loop {
        if seen().await {
            return since.elapsed();
        }
        assert!(since.elapsed() < limit, "{what} not seen after {limit:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Starts the app in development mode with default test settings.
pub async fn spawn_app() -> TestApp {
    TestApp::builder().spawn().await
}

/// Settings for [`TestApp`]: command-line flags, exactly as `qubital` takes them.
pub struct TestAppBuilder {
    args: Vec<String>,
    role: ProcessRole,
    database: Option<TestDatabase>,
    database_url: Option<String>,
}

impl TestAppBuilder {
    /// Adds a setting flag, e.g. `.arg("--max-body-bytes").arg("64")`.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// One pooled database connection, given up on after a second: a request that held it
    /// across a slow vendor call would make every other request fail (the invariant in
    /// ARCHITECTURE.md that no transaction or pooled connection is held across one).
    pub fn one_pooled_connection(self) -> Self {
        self.arg("--database-max-connections")
            .arg("1")
            .arg("--database-acquire-timeout-secs")
            .arg("1")
    }

    /// Runs as production instead of development.
    pub fn production(mut self) -> Self {
        self.args.retain(|a| a != "--dev");
        self.args.extend(["--environment".into(), "production".into()]);
        self
    }

    pub fn role(mut self, role: ProcessRole) -> Self {
        self.role = role;
        self
    }

    /// Uses this database instead of a fresh one.
    pub fn database(mut self, database: TestDatabase) -> Self {
        self.database = Some(database);
        self
    }

    /// Connects to the test database through `url` instead (for example through a
    /// [`proxy::TcpProxy`]); the database is still created and dropped as usual.
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = Some(url.into());
        self
    }

    pub async fn spawn(self) -> TestApp {
        let database = match self.database {
            Some(database) => database,
            None => fresh_database().await,
        };
        let url = self.database_url.unwrap_or_else(|| database.url.clone());
        let mut args = vec!["qubital".to_owned(), "--database-url".to_owned(), url];
        args.extend(self.args);
        let config = Config::parse_from(&registered_features(), &args).expect("test settings parse");
        let app = App::boot(config, registered_features(), self.role)
            .await
            .expect("the app boots");
        app.migrate().await.expect("migrations apply");
        let running = app
            .start(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("the app listens");
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        TestApp {
            address: format!("http://{}", running.addr),
            ops_address: running.ops_addr.map(|addr| format!("http://{addr}")),
            ctx: running.ctx.clone(),
            client,
            running: Some(running),
            database,
        }
    }
}

/// A running app. Dropping it stops the server and drops its database.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    /// `http://127.0.0.1:<ops port>`: `serve`'s ops listener (`/metrics`).
    pub ops_address: Option<String>,
    /// Keeps cookies, like a browser session.
    pub client: reqwest::Client,
    pub ctx: AppContext,
    running: Option<qubital::app::Running>,
    pub database: TestDatabase,
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            args: vec![
                "--dev".into(),
                "--log-filter".into(),
                "warn".into(),
                // Tests stop apps by the hundred; a test of the delay sets its own.
                "--shutdown-readiness-delay-secs".into(),
                "0".into(),
            ],
            role: ProcessRole::SERVE,
            database: None,
            database_url: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A new browser (its own cookie jar) for this app.
    pub fn browser(&self) -> Client {
        Client::new(&self.address)
    }

    pub fn db(&self) -> &sqlx::PgPool {
        self.ctx.db()
    }

    /// `POST path` with a JSON body, as every API operation is called.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("the request is sent")
    }

    /// `GET path` on the ops listener (`/metrics` is served there only).
    pub async fn ops_get(&self, path: &str) -> reqwest::Response {
        let base = self.ops_address.as_deref().unwrap_or(&self.address);
        self.client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("the request is sent")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("the request is sent")
    }

    /// Applies the retention rules of the feature called `feature` now (what the housekeeping
    /// job does hourly); the number of rows deleted.
    pub async fn prune(&self, feature: &str) -> u64 {
        self.prune_until(feature, || false).await
    }

    /// As [`TestApp::prune`], stopping when `stop()` says so.
    pub async fn prune_until(&self, feature: &str, stop: impl Fn() -> bool) -> u64 {
        let feature = qubital_plugin::registered_feature(feature)
            .unwrap_or_else(|| panic!("no feature `{feature}` is compiled in"));
        feature
            .prune_expired(self.db(), stop)
            .await
            .expect("the retention rules apply")
            .into_iter()
            .map(|(_, deleted)| deleted)
            .sum()
    }

    /// Stops the server gracefully (draining in-flight requests) and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await.expect("the server stops cleanly");
        }
    }

    /// Starts a graceful shutdown without waiting for it.
    pub fn begin_shutdown(&self) {
        if let Some(running) = &self.running {
            running.stop_token().cancel();
        }
    }
}

/// Reads a response as a problem, asserting its content type.
pub async fn problem(response: reqwest::Response) -> serde_json::Value {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let status = response.status();
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    assert_eq!(
        content_type, "application/problem+json",
        "status {status}, body {body}"
    );
    assert_eq!(body["status"], status.as_u16(), "{body}");
    body
}

/// The address of the Postgres server the tests use (for proxies).
pub fn database_server_addr() -> std::net::SocketAddr {
    use std::{net::ToSocketAddrs, str::FromStr};
    let options =
        sqlx::postgres::PgConnectOptions::from_str(&admin_url()).expect("a valid TEST_DATABASE_URL");
    (options.get_host(), options.get_port())
        .to_socket_addrs()
        .expect("resolve the database host")
        .next()
        .expect("the database host has an address")
}
