//! The database ceiling: `pgbench -S` (one primary-key `SELECT` per transaction, the simple
//! query protocol, pgbench's defaults) with the bench's concurrency, against the Postgres the
//! server uses, in a scratch database initialised at scale 1 and dropped afterwards.

use std::process::{Command, Stdio};

use anyhow::{bail, Context};

use super::database::Scratch;

/// What a `pgbench -S` run measured.
#[derive(Clone, Debug)]
pub struct PgbenchResult {
    /// Transactions per second, without the initial connection time.
    pub tps: f64,
    /// pgbench's average latency, milliseconds.
    pub latency_avg_ms: f64,
    /// The command, for the report (without the URL).
    pub command: String,
}

pub fn run(admin_url: &str, clients: usize, seconds: u64) -> anyhow::Result<PgbenchResult> {
    let scratch = Scratch::create(admin_url, "qubital_pgbench")?;
    let init = Command::new("pgbench")
        .args(["-i", "-q", "-s", "1", &scratch.url])
        .stdin(Stdio::null())
        .output()
        .context("cannot run pgbench (install the PostgreSQL client tools)")?;
    if !init.status.success() {
        bail!(
            "pgbench -i failed: {}",
            String::from_utf8_lossy(&init.stderr).trim()
        );
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(clients.max(1));
    let args = [
        "-S".to_owned(),
        "-n".to_owned(),
        "-c".to_owned(),
        clients.to_string(),
        "-j".to_owned(),
        threads.to_string(),
        "-T".to_owned(),
        seconds.to_string(),
    ];
    let output = Command::new("pgbench")
        .args(&args)
        .arg(&scratch.url)
        .stdin(Stdio::null())
        .output()
        .context("cannot run pgbench")?;
    drop(scratch);
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench -S failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let number_after = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
    };
    Ok(PgbenchResult {
        tps: number_after("tps = ").context("pgbench printed no tps")?,
        latency_avg_ms: number_after("latency average = ").unwrap_or(0.0),
        command: format!("pgbench {}", args.join(" ")),
    })
}
