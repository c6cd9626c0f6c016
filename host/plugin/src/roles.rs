//! The kinds of process the `qubital` binary runs as.
//!
//! `serve` (the HTTP API) is the host's own. Any other long-running role — a worker that follows
//! a vendor's event stream, say — is registered by the feature that needs it
//! ([`Feature::roles`](crate::Feature::roles)) and becomes a subcommand of the binary with its
//! own ops listener (`/healthz`, `/readyz`, `/metrics`). A build without that feature has no such
//! subcommand.

use std::fmt;

/// A process role. Two roles are the same role when their names are equal.
#[derive(Clone, Copy)]
pub struct ProcessRole {
    /// The subcommand (`serve`, or a worker's name); also what jobs name.
    pub name: &'static str,
    /// One line for `qubital --help`.
    pub about: &'static str,
    /// `None` for `serve` (it listens on `PORT`); a worker's ops-listener port setting.
    pub ops_port: Option<OpsPort>,
}

/// The port setting of a worker role's ops listener (`--ops-port`, backed by `env`).
#[derive(Clone, Copy, Debug)]
pub struct OpsPort {
    pub env: &'static str,
    pub default: u16,
}

impl ProcessRole {
    /// `qubital serve`: the HTTP API and the API's background jobs.
    pub const SERVE: ProcessRole = ProcessRole {
        name: "serve",
        about: "Serve the HTTP API and run the API's background jobs (migrates first).",
        ops_port: None,
    };

    /// A worker role: it runs its jobs and serves only the ops endpoints, on the port `port_env`
    /// names (default `default_port`).
    pub const fn worker(
        name: &'static str,
        about: &'static str,
        port_env: &'static str,
        default_port: u16,
    ) -> Self {
        Self {
            name,
            about,
            ops_port: Some(OpsPort {
                env: port_env,
                default: default_port,
            }),
        }
    }

    /// Whether this role serves the HTTP API (and so needs its operations' secrets).
    pub fn serves_api(&self) -> bool {
        self.name == Self::SERVE.name
    }
}

impl PartialEq for ProcessRole {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for ProcessRole {}

impl fmt::Debug for ProcessRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl fmt::Display for ProcessRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}
