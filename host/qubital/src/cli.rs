//! The `qubital` command line.

use std::{net::SocketAddr, process::ExitCode};

use clap::{Arg, FromArgMatches, Subcommand};
use qubital_plugin::{registered_features, registered_roles, Environment, ProcessRole};

use crate::{
    app::App,
    config::{self, Config},
    http, telemetry,
};

/// The host's own subcommands. Worker roles registered by features are added beside them
/// ([`command`]) and parsed into [`Command::Worker`].
#[derive(Subcommand, Debug)]
enum Builtin {
    /// Serve the HTTP API and run the API's background jobs (migrates first).
    Serve {
        /// Do not apply pending migrations at boot (for deployments that run `qubital migrate`).
        #[arg(long)]
        no_migrate: bool,
        /// Port of the ops listener (/healthz, /readyz, /metrics), on the same address as the
        /// API. `/metrics` is served only there, never on the API's port.
        #[arg(
            long = "ops-port",
            env = "OPS_PORT",
            value_name = "OPS_PORT",
            default_value_t = 9090
        )]
        ops_port: u16,
    },
    /// Apply every compiled-in feature's pending migrations and exit.
    Migrate,
    /// Ask every dependency this deployment is configured for one harmless question (the
    /// database and its migrations, then WorkOS, LiveKit, object storage, … as the features
    /// define), print one line each (ok / disabled / failed: why), and exit non-zero when a
    /// configured one fails. Run it with the deployment's settings before sending it traffic.
    Check {
        /// The process role whose settings to check (`serve`, or a worker role this build
        /// registers): each role requires only its own secrets.
        #[arg(long, default_value = "serve", value_name = "ROLE")]
        role: String,
        /// How long each dependency may take to answer.
        #[arg(long = "timeout-secs", default_value_t = 5, value_name = "SECS")]
        timeout_secs: u64,
    },
    /// Print the OpenAPI document of this build (production operations) and exit.
    Openapi {
        /// Include the development-only operations.
        #[arg(long = "with-dev-operations")]
        with_dev_operations: bool,
    },
}

/// What the process was asked to do.
#[derive(Debug)]
pub enum Command {
    Serve {
        no_migrate: bool,
        ops_port: u16,
    },
    /// A worker role registered by a feature, with the port of its ops listener.
    Worker {
        role: ProcessRole,
        ops_port: u16,
    },
    Migrate,
    Check {
        role: ProcessRole,
        timeout: std::time::Duration,
    },
    Openapi {
        with_dev_operations: bool,
    },
}

impl Command {
    fn from_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        if let Some((name, sub)) = matches.subcommand() {
            if let Some(role) = registered_roles()
                .into_iter()
                .find(|r| r.name == name && !r.serves_api())
            {
                let ops_port = *sub.get_one::<u16>("ops_port").expect("a default is set");
                return Ok(Command::Worker { role, ops_port });
            }
        }
        Ok(match Builtin::from_arg_matches(matches)? {
            Builtin::Serve { no_migrate, ops_port } => Command::Serve { no_migrate, ops_port },
            Builtin::Migrate => Command::Migrate,
            Builtin::Check { role, timeout_secs } => Command::Check {
                role: registered_roles()
                    .into_iter()
                    .find(|r| r.name == role)
                    .ok_or_else(|| {
                        let known: Vec<&str> = registered_roles().iter().map(|r| r.name).collect();
                        clap::Error::raw(
                            clap::error::ErrorKind::InvalidValue,
                            format!("unknown role `{role}`; this build has: {}\n", known.join(", ")),
                        )
                    })?,
                timeout: std::time::Duration::from_secs(timeout_secs.max(1)),
            },
            Builtin::Openapi { with_dev_operations } => Command::Openapi { with_dev_operations },
        })
    }
}

/// The subcommand of a worker role: its jobs, and an ops listener on its own port.
fn worker_subcommand(role: ProcessRole) -> clap::Command {
    let port = role.ops_port.expect("worker roles have an ops port");
    clap::Command::new(role.name)
        .about(format!("{} Serves only the ops endpoints.", role.about))
        .arg(
            Arg::new("ops_port")
                .long("ops-port")
                .env(port.env)
                .value_name(port.env)
                // Built once per process; clap wants a `'static` default.
                .default_value(&*Box::leak(port.default.to_string().into_boxed_str()))
                .value_parser(clap::value_parser!(u16))
                .help("Port of the worker's ops listener (/healthz, /readyz, /metrics)."),
        )
}

/// The full command: subcommands plus every setting (host and features), all global so that
/// `qubital serve --help` lists them too.
pub fn command() -> clap::Command {
    let settings = config::settings_command(&registered_features()).mut_args(|arg| arg.global(true));
    let mut command = Builtin::augment_subcommands(settings);
    for role in registered_roles().into_iter().filter(|r| !r.serves_api()) {
        command = command.subcommand(worker_subcommand(role));
    }
    command
        .about("The Qubital backend: the API server, its workers and the migrator in one binary.")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true)
}

pub fn main() -> ExitCode {
    crate::memory::limit_malloc_arenas();
    load_dotenv_in_development();
    let matches = command().get_matches();
    let command = match Command::from_matches(&matches) {
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
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::CheckFailed) => ExitCode::FAILURE,
        Err(error) => fail(error),
    }
}

fn fail(error: anyhow::Error) -> ExitCode {
    tracing::error!(error = format!("{error:#}"), "qubital stopped");
    eprintln!("error: {error:#}");
    ExitCode::FAILURE
}

/// How a command that ran to its end went.
enum Outcome {
    Done,
    /// `qubital check` found a configured dependency failing (already printed).
    CheckFailed,
}

async fn run(command: Command, config: Config) -> anyhow::Result<Outcome> {
    let host = config.host.listen_host();
    match command {
        Command::Check { role, timeout } => {
            let app = App::boot(config, registered_features(), role).await?;
            let lines = app.check(timeout).await;
            for line in &lines {
                println!("{line}");
            }
            app.ctx.db().close().await;
            Ok(if lines.iter().any(|l| l.outcome.is_failed()) {
                Outcome::CheckFailed
            } else {
                Outcome::Done
            })
        }
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
            Ok(Outcome::Done)
        }
        Command::Serve { no_migrate, ops_port } => {
            let app = App::boot(config, registered_features(), ProcessRole::SERVE).await?;
            if !no_migrate {
                app.migrate().await?;
            }
            let addr = SocketAddr::new(host, app.config.host.port);
            let ops = SocketAddr::new(host, ops_port);
            app.run(addr, ops, http::server::termination_signal()).await?;
            Ok(Outcome::Done)
        }
        Command::Worker { role, ops_port } => {
            let app = App::boot(config, registered_features(), role).await?;
            let addr = SocketAddr::new(host, ops_port);
            app.run(addr, addr, http::server::termination_signal()).await?;
            Ok(Outcome::Done)
        }
        Command::Openapi { .. } => unreachable!("handled before boot"),
    }
}

/// Reads `.env` from the working directory, but only for a process that is development by its
/// own command line or real environment (`--dev`, `QUBITAL_ENV=development`): a `.env` file
/// left on a production machine can never switch it to development, because the file is not
/// even read unless the process already is. Real variables always win over the file.
fn load_dotenv_in_development() {
    let args: Vec<String> = std::env::args().collect();
    if reads_dotenv(&args, std::env::var("QUBITAL_ENV").ok().as_deref()) {
        let _ = dotenvy::dotenv();
    }
}

/// Every setting of this build as a Markdown table (variable, flag, default, meaning), read
/// from the same [`command`] that `qubital --help` prints: `docs/deploying.md` holds it, and a
/// test keeps the two equal. A worker role's own options are listed under its subcommand.
pub fn settings_table_markdown() -> String {
    let command = command();
    let mut rows = Vec::new();
    let subcommands = command.get_subcommands().map(|sub| (Some(sub.get_name()), sub));
    for (subcommand, cmd) in std::iter::once((None, &command)).chain(subcommands) {
        for arg in cmd.get_arguments() {
            let (Some(env), false) = (arg.get_env(), arg.is_hide_set()) else {
                continue;
            };
            if subcommand.is_some() && arg.is_global_set() {
                continue; // listed once, with the top-level command
            }
            let flag = match (subcommand, arg.get_long()) {
                (Some(sub), Some(long)) => format!("`{sub} --{long}`"),
                (None, Some(long)) => format!("`--{long}`"),
                (_, None) => String::new(),
            };
            let default: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| format!("`{}`", v.to_string_lossy()))
                .collect();
            let meaning = arg
                .get_help()
                .map(|help| help.to_string().replace('\n', " ").replace('|', "\\|"))
                .unwrap_or_default();
            rows.push(format!(
                "| `{}` | {flag} | {} | {meaning} |",
                env.to_string_lossy(),
                if default.is_empty() {
                    "—".into()
                } else {
                    default.join(", ")
                },
            ));
        }
    }
    let mut table = String::from("| Variable | Flag | Default | Meaning |\n|---|---|---|---|\n");
    for row in rows {
        table.push_str(&row);
        table.push('\n');
    }
    table
}

/// Whether `.env` is read: decided by the command line and the real environment alone.
fn reads_dotenv(args: &[String], qubital_env: Option<&str>) -> bool {
    args.iter().any(|a| a == "--dev")
        || args
            .windows(2)
            .any(|w| w[0] == "--environment" && w[1] == "development")
        || args.iter().any(|a| a == "--environment=development")
        || qubital_env == Some("development")
}

#[cfg(test)]
mod tests {
    use super::reads_dotenv;

    #[test]
    fn a_stray_dotenv_cannot_switch_production_to_development() {
        let serve = ["qubital".to_string(), "serve".to_string()];
        // Production (QUBITAL_ENV unset or production): `.env` is not read, so a
        // `QUBITAL_ENV=development` line in it changes nothing.
        assert!(!reads_dotenv(&serve, None));
        assert!(!reads_dotenv(&serve, Some("production")));
        // Development by the real command line or environment: `.env` fills in the rest.
        let dev = ["qubital".to_string(), "serve".to_string(), "--dev".to_string()];
        assert!(reads_dotenv(&dev, None));
        assert!(reads_dotenv(&serve, Some("development")));
    }
}
