//! The `qubital` command line.

use std::{net::SocketAddr, process::ExitCode};

use clap::{FromArgMatches, Subcommand};
use qubital_plugin::{registered_features, Environment, ProcessRole};

use crate::{
    app::App,
    config::{self, Config},
    http, telemetry,
};

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the HTTP API and run the API's background jobs (migrates first).
    Serve {
        /// Do not apply pending migrations at boot (for deployments that run `qubital migrate`).
        #[arg(long)]
        no_migrate: bool,
    },
    /// Follow the WorkOS event stream and mirror it into Postgres; serves only the ops endpoints.
    Eventsync {
        /// Port of the worker's ops listener (/healthz, /readyz, /metrics).
        #[arg(long, env = "EVENTSYNC_PORT", default_value_t = 8081)]
        ops_port: u16,
    },
    /// Apply every compiled-in feature's pending migrations and exit.
    Migrate,
    /// Print the OpenAPI document of this build (production operations) and exit.
    Openapi {
        /// Include the development-only operations.
        #[arg(long = "with-dev-operations")]
        with_dev_operations: bool,
    },
}

/// The full command: subcommands plus every setting (host and features), all global so that
/// `qubital serve --help` lists them too.
pub fn command() -> clap::Command {
    let settings = config::settings_command(&registered_features()).mut_args(|arg| arg.global(true));
    Command::augment_subcommands(settings)
        .about("The Qubital backend: API server, WorkOS event follower and migrator in one binary.")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true)
}

pub fn main() -> ExitCode {
    load_dotenv_in_development();
    let matches = command().get_matches();
    let command = match Command::from_arg_matches(&matches) {
        Ok(command) => command,
        Err(error) => error.exit(),
    };
    if let Command::Openapi { with_dev_operations } = command {
        let environment = if with_dev_operations {
            Environment::Development
        } else {
            Environment::Production
        };
        println!("{}", http::openapi_spec(environment));
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_matches(matches) {
        Ok(config) => config,
        Err(error) => error.exit(),
    };
    let _telemetry = match telemetry::init(&config.host) {
        Ok(guard) => guard,
        Err(error) => return fail(error),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(error.into()),
    };
    match runtime.block_on(run(command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(error),
    }
}

fn fail(error: anyhow::Error) -> ExitCode {
    tracing::error!(error = format!("{error:#}"), "qubital stopped");
    eprintln!("error: {error:#}");
    ExitCode::FAILURE
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    let host = config.host.listen_host();
    match command {
        Command::Migrate => {
            let report = App::migrations_only(config, registered_features())
                .await?
                .run()
                .await?;
            tracing::info!(
                applied = report.applied.len(),
                already_applied = report.already_applied,
                "migrations done"
            );
            Ok(())
        }
        Command::Serve { no_migrate } => {
            let app = App::boot(config, registered_features(), ProcessRole::Serve).await?;
            if !no_migrate {
                app.migrate().await?;
            }
            let addr = SocketAddr::new(host, app.config.host.port);
            app.run(ProcessRole::Serve, addr, http::server::termination_signal())
                .await
        }
        Command::Eventsync { ops_port } => {
            let app = App::boot(config, registered_features(), ProcessRole::Eventsync).await?;
            let addr = SocketAddr::new(host, ops_port);
            app.run(ProcessRole::Eventsync, addr, http::server::termination_signal())
                .await
        }
        Command::Openapi { .. } => unreachable!("handled before boot"),
    }
}

/// Reads `.env` from the working directory, but only for a development process: production
/// takes its settings from the real environment alone. Real variables always win over the file.
fn load_dotenv_in_development() {
    let from_file = || {
        dotenvy::from_path_iter(".env")
            .ok()
            .and_then(|vars| vars.flatten().find(|(k, _)| k == "QUBITAL_ENV").map(|(_, v)| v))
    };
    let wants_dev = std::env::args().any(|a| a == "--dev")
        || std::env::var("QUBITAL_ENV")
            .map(|v| v == "development")
            .unwrap_or_else(|_| from_file().as_deref() == Some("development"));
    if wants_dev {
        let _ = dotenvy::dotenv();
    }
}
