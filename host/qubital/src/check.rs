//! `qubital check`: before a deployment takes traffic, ask every dependency it is configured
//! for one harmless question (the database, then each feature's [`Probe`]s) and say, one line
//! each, whether it answered.

use std::{fmt, time::Duration};

use qubital_plugin::{AppContext, Feature, Probe, Probed};

use crate::{app::App, migrator};

/// One dependency's answer.
#[derive(Debug)]
pub struct Line {
    pub dependency: &'static str,
    /// The feature that asked (`host` for the database).
    pub asked_by: &'static str,
    pub outcome: Probed,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (status, text) = match &self.outcome {
            Probed::Ok(text) => ("ok", text),
            Probed::Disabled(text) => ("disabled", text),
            Probed::Failed(text) => ("failed", text),
        };
        write!(f, "{:<10} {status}: {text} ({})", self.dependency, self.asked_by)
    }
}

impl App {
    /// Runs every probe at once, each bounded by `timeout`: the database first, then the
    /// features' probes in feature order.
    pub async fn check(&self, timeout: Duration) -> Vec<Line> {
        let database = Line {
            dependency: "database",
            asked_by: "host",
            outcome: database(&self.ctx, self.features(), timeout).await,
        };
        let probes = self
            .features()
            .iter()
            .flat_map(|feature| feature.probes.iter().map(move |probe| (feature.name, probe)))
            .map(|(asked_by, probe)| run(&self.ctx, asked_by, probe, timeout));
        std::iter::once(database)
            .chain(futures::future::join_all(probes).await)
            .collect()
    }
}

async fn run(ctx: &AppContext, asked_by: &'static str, probe: &Probe, timeout: Duration) -> Line {
    let outcome = tokio::time::timeout(timeout, (probe.run)(ctx))
        .await
        .unwrap_or_else(|_| Probed::Failed(no_answer(timeout)));
    Line {
        dependency: probe.dependency,
        asked_by,
        outcome,
    }
}

/// Reachable, and every compiled-in migration applied (what `/readyz` also requires).
async fn database(ctx: &AppContext, features: &[&'static Feature], timeout: Duration) -> Probed {
    let plan = match migrator::plan(features) {
        Ok(plan) => plan,
        Err(error) => return Probed::Failed(format!("the migration plan is invalid: {error}")),
    };
    // One connection of our own first: the pool would only say it timed out, this says why
    // (refused, authentication, TLS, unknown database). sqlx's messages never echo the URL.
    use sqlx::Connection;
    let options = ctx.db().connect_options();
    match tokio::time::timeout(timeout, sqlx::PgConnection::connect_with(&options)).await {
        Ok(Ok(connection)) => drop(connection),
        Ok(Err(error)) => return Probed::Failed(format!("unreachable: {error}")),
        Err(_) => return Probed::Failed(no_answer(timeout)),
    }
    match tokio::time::timeout(timeout, migrator::is_current(ctx.db(), &plan)).await {
        Ok(Ok(true)) => Probed::Ok(format!("reachable; all {} migrations applied", plan.len())),
        Ok(Ok(false)) => {
            Probed::Failed("reachable, but migrations are pending: run `qubital migrate`".into())
        }
        Ok(Err(error)) => Probed::Failed(format!("unreachable: {error:#}")),
        Err(_) => Probed::Failed(no_answer(timeout)),
    }
}

fn no_answer(timeout: Duration) -> String {
    format!("no answer within {} s", timeout.as_secs_f32())
}
