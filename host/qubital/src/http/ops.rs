//! Ops endpoints: liveness, readiness, metrics. GETs, outside the POST-verb convention.
//!
//! The probes ([`ProbesApi`]) are on every listener; `/metrics` ([`MetricsApi`]: usage per
//! organization) only on the ops listener (`OPS_PORT` for `serve`, a worker's own port), which
//! is not exposed to the internet.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc, OnceLock,
};

use poem::web::Data;
use poem_openapi::{
    payload::{Json, PlainText},
    ApiResponse, Object, OpenApi, Tags,
};
use qubital_plugin::AppContext;

use crate::migrator::{self, PlannedMigration};

#[derive(Tags)]
enum OpsTag {
    /// Probes and metrics for the platform running the service.
    Ops,
}

#[derive(Object)]
struct Status {
    /// `ok` or `ready`.
    status: String,
}

#[derive(ApiResponse)]
enum Readiness {
    /// The database answers and every migration is applied.
    #[oai(status = 200)]
    Ready(Json<Status>),
    /// Not ready: the database is unreachable or migrations are pending.
    #[oai(status = 503, content_type = "application/problem+json")]
    NotReady(Json<serde_json::Value>),
}

/// The migrations this binary expects, computed once.
pub fn expected_migrations() -> &'static [PlannedMigration] {
    static PLAN: OnceLock<Vec<PlannedMigration>> = OnceLock::new();
    PLAN.get_or_init(|| migrator::plan(&qubital_plugin::registered_features()).unwrap_or_default())
}

/// Set when the process starts shutting down: from then on `/readyz` answers 503, so the load
/// balancer stops sending requests before the listener closes.
#[derive(Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_started(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

pub struct ProbesApi;

#[OpenApi(tag = "OpsTag::Ops")]
impl ProbesApi {
    /// Liveness probe
    ///
    /// Liveness: the process is up. Never touches the database.
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self) -> Json<Status> {
        Json(Status { status: "ok".into() })
    }

    /// Readiness probe
    ///
    /// Readiness: the database is reachable and every compiled-in migration is applied, and the
    /// process is not shutting down.
    #[oai(path = "/readyz", method = "get", operation_id = "readyz")]
    async fn readyz(&self, ctx: Data<&AppContext>) -> Readiness {
        if ctx.try_get::<Draining>().is_some_and(Draining::is_started) {
            let problem = qubital_plugin::Problem::new(&qubital_plugin::problem::types::NOT_READY)
                .with_detail("shutting down");
            return Readiness::NotReady(Json(problem.body()));
        }
        let check = tokio::time::timeout(
            std::time::Duration::from_secs(3),
            migrator::is_current(ctx.db(), expected_migrations()),
        )
        .await;
        let reason = match check {
            Ok(Ok(true)) => {
                return Readiness::Ready(Json(Status {
                    status: "ready".into(),
                }))
            }
            Ok(Ok(false)) => "migrations are pending",
            Ok(Err(error)) => {
                tracing::warn!(%error, "readiness: database check failed");
                "the database is unreachable"
            }
            Err(_) => "the database did not answer in time",
        };
        let problem =
            qubital_plugin::Problem::new(&qubital_plugin::problem::types::NOT_READY).with_detail(reason);
        Readiness::NotReady(Json(problem.body()))
    }
}

/// `/metrics`, on the ops listener only.
pub struct MetricsApi;

#[OpenApi(tag = "OpsTag::Ops")]
impl MetricsApi {
    /// Prometheus metrics in the text exposition format.
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(&self) -> PlainText<String> {
        PlainText(qubital_plugin::metrics::render())
    }
}
