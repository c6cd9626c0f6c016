//! Settings: read once from flags and environment variables (a `.env` file is loaded first in
//! development), then handed around as typed structs.
//!
//! Every setting is a `clap` argument with an environment variable, so `qubital --help` lists
//! them all, including the ones features register through [`qubital_plugin::Settings`].

use std::{net::IpAddr, path::PathBuf, time::Duration};

use clap::{Args, Command, FromArgMatches};
use qubital_plugin::{Environment, Feature};

/// The host's own settings. Feature settings are separate structs registered by each feature.
/// `Debug` shows `DATABASE_URL` without its password.
#[derive(Args, Clone)]
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

    /// Lets development mode (development sign-in, throwaway keys) run on a non-loopback
    /// address or with live vendor credentials, with an error logged at boot. Never in real use.
    #[arg(long, env = "QUBITAL_ALLOW_INSECURE_DEVELOPMENT")]
    pub allow_insecure_development: bool,

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

    /// Seconds one SQL statement may run before Postgres cancels it (set on every pooled
    /// connection; 0 = no limit). Migrations are exempt.
    #[arg(long = "database-statement-timeout-secs", env = "DATABASE_STATEMENT_TIMEOUT_SECS", value_name = "DATABASE_STATEMENT_TIMEOUT_SECS", default_value = "30", value_parser = parse_secs)]
    pub database_statement_timeout: Duration,

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

    /// Web app origins (comma-separated `https://host[:port]`) whose scripts may call the API
    /// with the session cookie: CORS with credentials, and the cross-site check of cookie
    /// requests. The API's own origin is always allowed; any other is refused.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_delimiter = ',', value_parser = crate::http::web::parse_origin)]
    pub cors_allowed_origins: Vec<String>,

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
/// `Debug` shows the host's settings only: the raw matches hold every secret in clear.
#[derive(Clone)]
pub struct Config {
    pub host: HostSettings,
    pub matches: clap::ArgMatches,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

/// `postgres://user:password@host/db` without its password; a URL with a password in its query
/// (`?password=`) or that does not look like a URL is hidden whole.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "[REDACTED]".into();
    };
    if rest.contains("password") {
        return "[REDACTED]".into();
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:[REDACTED]@{host}{path}")
        }
        None => url.to_string(),
    }
}

impl std::fmt::Debug for HostSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let HostSettings {
            environment,
            dev,
            allow_insecure_development,
            host,
            port,
            database_url,
            database_max_connections,
            database_acquire_timeout,
            database_statement_timeout,
            data_dir,
            max_body_bytes,
            shutdown_timeout,
            shutdown_readiness_delay,
            trusted_proxy_hops,
            cors_allowed_origins,
            min_client_contract,
            log_filter,
            otel_endpoint,
            otel_service_name,
        } = self;
        f.debug_struct("HostSettings")
            .field("environment", environment)
            .field("dev", dev)
            .field("allow_insecure_development", allow_insecure_development)
            .field("host", host)
            .field("port", port)
            .field("database_url", &database_url.as_deref().map(redact_url))
            .field("database_max_connections", database_max_connections)
            .field("database_acquire_timeout", database_acquire_timeout)
            .field("database_statement_timeout", database_statement_timeout)
            .field("data_dir", data_dir)
            .field("max_body_bytes", max_body_bytes)
            .field("shutdown_timeout", shutdown_timeout)
            .field("shutdown_readiness_delay", shutdown_readiness_delay)
            .field("trusted_proxy_hops", trusted_proxy_hops)
            .field("cors_allowed_origins", cors_allowed_origins)
            .field("min_client_contract", min_client_contract)
            .field("log_filter", log_filter)
            .field("otel_endpoint", otel_endpoint)
            .field("otel_service_name", otel_service_name)
            .finish()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const MARKER: &str = "s3cr3t-marker-never-printed-0123456789abcdef";

    /// Every setting whose value `--help` hides (the secrets) set to a marker; the `Debug` of the
    /// host's settings, of the whole config and of every registered feature's settings struct
    /// must not show it.
    #[test]
    fn debug_of_every_settings_struct_redacts_secrets() {
        let features = qubital_plugin::registered_features();
        let command = settings_command(&features);
        let mut args = vec!["qubital".to_string()];
        for arg in command.get_arguments().filter(|a| a.is_hide_env_values_set()) {
            let long = arg.get_long().expect("settings have a flag");
            let value = if long == "database-url" {
                format!("postgres://qubital:{MARKER}@db.internal:5432/qubital")
            } else {
                MARKER.to_string()
            };
            args.push(format!("--{long}={value}"));
        }
        assert!(args.len() > 2, "no hidden setting found: {args:?}");
        let config = Config::parse_from(&features, &args).expect("the secrets parse");
        let mut printed = vec![format!("{config:?}"), format!("{:?}", config.host)];
        for feature in &features {
            for settings in feature.settings {
                printed.push((settings.debug)(&config.matches).expect("the settings parse"));
            }
        }
        for text in &printed {
            assert!(!text.contains(MARKER), "a secret is printed: {text}");
        }
        assert!(
            printed[1].contains("db.internal"),
            "the URL is still shown: {}",
            printed[1]
        );
    }
}
