//! Boot: from settings to a running process of one role.

use std::{future::Future, net::SocketAddr};

use anyhow::Context;
use qubital_plugin::{AppContext, Boot, Feature, ProcessRole};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    config::Config,
    database::Database,
    housekeeping,
    http::{self, server},
    jobs::JobRunner,
    migrator,
};

/// Every job runs in `serve` or in a role some compiled-in feature registers: a job naming an
/// unknown role would silently never run.
fn check_jobs(features: &[&'static Feature]) -> anyhow::Result<()> {
    let roles: Vec<ProcessRole> = std::iter::once(ProcessRole::SERVE)
        .chain(features.iter().flat_map(|f| f.roles.iter().copied()))
        .collect();
    for feature in features {
        for job in feature.jobs {
            anyhow::ensure!(
                roles.contains(&job.role),
                "job `{}` of feature `{}` runs in the role `{}`, which no compiled-in feature registers",
                job.name,
                feature.name,
                job.role
            );
        }
    }
    Ok(())
}

/// A booted process: database open, features initialised, nothing listening yet.
pub struct App {
    pub ctx: AppContext,
    pub config: Config,
    /// The role this process was booted for.
    pub role: ProcessRole,
    features: Vec<&'static Feature>,
    database: Database,
}

impl App {
    /// Opens the database (starting the private cluster if needed) and lets each feature build
    /// its state. Feature init errors (a missing secret in production) stop the boot.
    pub async fn boot(
        config: Config,
        features: Vec<&'static Feature>,
        role: ProcessRole,
    ) -> anyhow::Result<Self> {
        check_jobs(&features)?;
        let database = Database::open(&config.host).await?;
        let state = config
            .feature_settings(&features)
            .map_err(|e| anyhow::anyhow!("{}", e.to_string().trim()))?;
        let mut boot = Boot::new(database.pool.clone(), config.host.environment(), role, state);
        boot.provide(http::ops::Draining::default());
        boot.insecure_development_allowed = config.host.allow_insecure_development;
        for feature in &features {
            if let Some(init) = feature.init {
                init(&mut boot).with_context(|| format!("feature `{}` cannot start", feature.name))?;
            }
        }
        Ok(Self {
            ctx: boot.finish(),
            config,
            role,
            features,
            database,
        })
    }

    /// Opens the database for `qubital migrate`: no feature is initialised, so a pre-deploy
    /// migration job needs `DATABASE_URL` alone, never a feature's secrets.
    pub async fn migrations_only(
        config: Config,
        features: Vec<&'static Feature>,
    ) -> anyhow::Result<Migrations> {
        let database = Database::open(&config.host).await?;
        Ok(Migrations { features, database })
    }

    /// The compiled-in features this process was booted with.
    pub fn features(&self) -> &[&'static Feature] {
        &self.features
    }

    pub async fn migrate(&self) -> anyhow::Result<migrator::Report> {
        let plan = migrator::plan(&self.features)?;
        migrator::run(self.ctx.db(), &plan).await
    }

    /// Every feature's jobs, and the host's housekeeping job.
    fn jobs(&self) -> Vec<qubital_plugin::Job> {
        self.features
            .iter()
            .flat_map(|f| f.jobs.iter().copied())
            .chain([housekeeping::JOB])
            .collect()
    }

    /// Binds the listener and starts serving this process's role in the background: the API
    /// for `serve` (with its ops endpoints on a free port of the same address), the ops
    /// endpoints alone for a worker role.
    pub async fn start(self, addr: SocketAddr) -> anyhow::Result<Running> {
        let ops = SocketAddr::new(addr.ip(), 0);
        self.start_with_ops(addr, ops).await
    }

    /// As [`App::start`], with `serve`'s ops listener (`/healthz`, `/readyz`, `/metrics`) on
    /// `ops` (`OPS_PORT`): `/metrics` (per-organization usage) is never on the API listener. A
    /// worker role listens on `addr` only, with the ops endpoints.
    pub async fn start_with_ops(self, addr: SocketAddr, ops: SocketAddr) -> anyhow::Result<Running> {
        let role = self.role;
        refuse_exposed_development(
            self.ctx.environment(),
            self.config.host.allow_insecure_development,
            addr,
        )?;
        let settings = http::HttpSettings {
            max_body_bytes: self.config.host.max_body_bytes,
            min_client_contract: self.config.host.min_client_contract.clone(),
            trusted_proxy_hops: self.config.host.trusted_proxy_hops,
            allowed_origins: self.config.host.cors_allowed_origins.clone(),
        };
        let (endpoint, ops_listener) = if role.serves_api() {
            let ops_endpoint = http::ops_app(self.ctx.clone(), settings.clone());
            let ops_listener = server::bind(ops).await?;
            (
                http::app(self.ctx.clone(), settings),
                Some((ops_listener, ops_endpoint)),
            )
        } else {
            (http::ops_app(self.ctx.clone(), settings), None)
        };
        crate::memory::release_startup_heap();
        let stop = CancellationToken::new();
        let listener = server::bind(addr).await?;
        let local_addr = listener.local_addr;
        let ops_addr = ops_listener.as_ref().map(|(l, _)| l.local_addr);
        tracing::info!(%local_addr, ?ops_addr, ?role, environment = ?self.ctx.environment(), "listening");

        let jobs = JobRunner::start(self.ctx.clone(), self.jobs(), role);
        let drain = self.config.host.shutdown_timeout;
        // Only the API sits behind a load balancer that must see readiness go first.
        let readiness_delay = if role.serves_api() {
            self.config.host.shutdown_readiness_delay
        } else {
            std::time::Duration::ZERO
        };
        let draining = self.ctx.get::<http::ops::Draining>().clone();
        // Cancelled once readiness has been off for the delay: then both listeners close.
        let closing = CancellationToken::new();
        tokio::spawn({
            let (stop, closing) = (stop.clone(), closing.clone());
            async move {
                stop.cancelled().await;
                draining.start();
                tracing::info!(
                    ?readiness_delay,
                    "readiness off; the listeners close after the delay"
                );
                tokio::time::sleep(readiness_delay).await;
                closing.cancel();
            }
        });
        let task = tokio::spawn({
            let ctx = self.ctx.clone();
            let database = self.database;
            async move {
                let api = server::run(listener, endpoint, closing.clone().cancelled_owned(), drain);
                let served = match ops_listener {
                    Some((ops_listener, ops_endpoint)) => {
                        let ops = server::run(ops_listener, ops_endpoint, closing.cancelled_owned(), drain);
                        let (api, ops) = tokio::join!(api, ops);
                        api.and(ops)
                    }
                    None => api.await,
                };
                jobs.shutdown().await;
                ctx.db().close().await;
                drop(database); // stops the private cluster if this process started it
                served
            }
        });
        Ok(Running {
            addr: local_addr,
            ops_addr,
            ctx: self.ctx,
            stop,
            task,
        })
    }

    /// Serves until `shutdown` resolves, then drains and stops.
    pub async fn run(
        self,
        addr: SocketAddr,
        ops: SocketAddr,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let running = self.start_with_ops(addr, ops).await?;
        shutdown.await;
        tracing::info!("shutting down: draining requests and stopping jobs");
        running.shutdown().await
    }
}

/// Development mode listens on loopback only: on any other address its development sign-in
/// would let anyone on the network in as anyone.
fn refuse_exposed_development(
    environment: qubital_plugin::Environment,
    allowed: bool,
    addr: SocketAddr,
) -> anyhow::Result<()> {
    if addr.ip().is_loopback() {
        return Ok(());
    }
    environment.refuse_development_with(&format!("the non-loopback address {}", addr.ip()), allowed)
}

/// A process serving in the background (the CLI waits on it; tests drive it).
pub struct Running {
    pub addr: SocketAddr,
    /// `serve`'s ops listener (a worker's ops endpoints are at `addr`).
    pub ops_addr: Option<SocketAddr>,
    pub ctx: AppContext,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Stops accepting connections, lets in-flight requests finish (up to the drain timeout),
    /// stops the jobs and closes the database.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.task.await.context("the server task panicked")?
    }

    /// A handle that starts the shutdown without waiting for it.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }
}

/// The database of a `qubital migrate` process.
pub struct Migrations {
    features: Vec<&'static Feature>,
    database: Database,
}

impl Migrations {
    pub async fn run(self) -> anyhow::Result<migrator::Report> {
        let plan = migrator::plan(&self.features)?;
        let report = migrator::run(&self.database.pool, &plan).await;
        self.database.pool.close().await;
        report
    }
}

#[cfg(test)]
mod tests {
    use qubital_plugin::Environment::{Development, Production};

    use super::refuse_exposed_development;

    #[test]
    fn development_mode_listens_on_loopback_only_unless_overridden() {
        let exposed = "0.0.0.0:8080".parse().unwrap();
        let error = refuse_exposed_development(Development, false, exposed).unwrap_err();
        assert!(
            error.to_string().contains("non-loopback address 0.0.0.0"),
            "{error}"
        );
        assert!(refuse_exposed_development(Development, true, exposed).is_ok());
        assert!(refuse_exposed_development(Development, false, "127.0.0.1:0".parse().unwrap()).is_ok());
        assert!(refuse_exposed_development(Development, false, "[::1]:0".parse().unwrap()).is_ok());
        assert!(refuse_exposed_development(Production, false, exposed).is_ok());
    }
}
