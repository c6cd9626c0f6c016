//! Settings: read once from flags and environment variables (a `.env` file is loaded first in
//! development), then handed around as typed structs.
//!
//! Every setting is a `clap` argument with an environment variable, so `qubital --help` lists
//! them all, including the ones features register through [`qubital_plugin::Settings`].

use std::{net::IpAddr, path::PathBuf, time::Duration};

use clap::{Args, Command, FromArgMatches};
use qubital_plugin::{Environment, Feature};

/// The host's own settings. Feature settings are separate structs registered by each feature.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Host settings")]
pub struct HostSettings {
    /// `production` (secrets required, JSON logs) or `development` (throwaway keys, readable logs).
    #[arg(
        long = "environment",
        env = "QUBITAL_ENV",
        value_enum,
        default_value = "production"
    )]
    pub environment: Environment,

    /// Short for `QUBITAL_ENV=development`.
    #[arg(long)]
    pub dev: bool,

    /// Address to listen on [default: 0.0.0.0, or 127.0.0.1 in development].
    #[arg(long, env = "HOST")]
    pub host: Option<IpAddr>,

    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,

    /// Postgres connection string. Unset: a private cluster is started from the Postgres
    /// binaries installed on this machine, in QUBITAL_DATA_DIR.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Largest number of pooled database connections.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub database_max_connections: u32,

    /// Seconds to wait for a pooled connection (and for a new one to open) before failing.
    #[arg(long = "database-acquire-timeout-secs", env = "DATABASE_ACQUIRE_TIMEOUT_SECS", value_name = "DATABASE_ACQUIRE_TIMEOUT_SECS", default_value = "5", value_parser = parse_secs)]
    pub database_acquire_timeout: Duration,

    /// Folder of the private Postgres cluster used when DATABASE_URL is unset
    /// [default: $XDG_DATA_HOME/qubital or ~/.local/share/qubital; /var/lib/qubital as root].
    #[arg(long, env = "QUBITAL_DATA_DIR", value_name = "QUBITAL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Seconds that in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long = "shutdown-timeout-secs", env = "SHUTDOWN_TIMEOUT_SECS", value_name = "SHUTDOWN_TIMEOUT_SECS", default_value = "20", value_parser = parse_secs)]
    pub shutdown_timeout: Duration,

    /// Seconds between SIGTERM and closing the listener, during which `/readyz` answers 503 while
    /// every other request is still served: the load balancer stops routing here first (`serve`).
    #[arg(long = "shutdown-readiness-delay-secs", env = "SHUTDOWN_READINESS_DELAY_SECS", value_name = "SHUTDOWN_READINESS_DELAY_SECS", default_value = "5", value_parser = parse_secs)]
    pub shutdown_readiness_delay: Duration,

    /// Reverse proxies in front of the server that append to `X-Forwarded-For` (a load balancer
    /// = 1). The client IP is the entry that many hops from the right; 0 uses the socket peer.
    #[arg(long, env = "TRUSTED_PROXY_HOPS", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=5))]
    pub trusted_proxy_hops: u8,

    /// Oldest client contract (semver in `X-Qubital-Contract`) still served; older clients get 426.
    #[arg(long, env = "MIN_CLIENT_CONTRACT")]
    pub min_client_contract: Option<semver::Version>,

    /// Log filter, in `tracing` directive syntax.
    #[arg(long, env = "RUST_LOG", value_name = "RUST_LOG", default_value = "info")]
    pub log_filter: String,

    /// OTLP/HTTP endpoint for trace and log export (e.g. http://alloy:4318). Unset: no export.
    #[arg(
        long,
        env = "OTEL_EXPORTER_OTLP_ENDPOINT",
        value_name = "OTEL_EXPORTER_OTLP_ENDPOINT"
    )]
    pub otel_endpoint: Option<String>,

    /// Service name reported with traces and logs.
    #[arg(
        long,
        env = "OTEL_SERVICE_NAME",
        value_name = "OTEL_SERVICE_NAME",
        default_value = "qubital"
    )]
    pub otel_service_name: String,
}

fn parse_secs(value: &str) -> Result<Duration, String> {
    let seconds: f64 = value
        .parse()
        .map_err(|_| format!("`{value}` is not a number of seconds"))?;
    if !(0.0..=86_400.0).contains(&seconds) {
        return Err(format!("`{value}` is not between 0 and 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

impl HostSettings {
    pub fn environment(&self) -> Environment {
        if self.dev {
            Environment::Development
        } else {
            self.environment
        }
    }

    pub fn listen_host(&self) -> IpAddr {
        self.host.unwrap_or(if self.environment().is_development() {
            IpAddr::from([127, 0, 0, 1])
        } else {
            IpAddr::from([0, 0, 0, 0])
        })
    }
}

/// All settings of one process: the host's, plus the raw matches each feature reads its own from.
#[derive(Clone, Debug)]
pub struct Config {
    pub host: HostSettings,
    pub matches: clap::ArgMatches,
}

/// The settings as a clap command (no subcommands): host settings, then each feature's.
pub fn settings_command(features: &[&'static Feature]) -> Command {
    let mut command = HostSettings::augment_args(Command::new("qubital"));
    for feature in features {
        for settings in feature.settings {
            command = (settings.augment)(command);
        }
    }
    command
}

impl Config {
    /// Parses settings from explicit arguments (and the process environment). Used by tests and
    /// by the CLI after it split off the subcommand.
    pub fn from_matches(matches: clap::ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self {
            host: HostSettings::from_arg_matches(&matches)?,
            matches,
        })
    }

    pub fn parse_from<I, T>(features: &[&'static Feature], args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::from_matches(settings_command(features).try_get_matches_from(args)?)
    }

    /// Each feature's settings struct, parsed, ready to be provided to the app context.
    pub fn feature_settings(&self, features: &[&'static Feature]) -> Result<http::Extensions, clap::Error> {
        let mut extensions = http::Extensions::new();
        for feature in features {
            for settings in feature.settings {
                (settings.extract)(&self.matches, &mut extensions)?;
            }
        }
        Ok(extensions)
    }
}
