//! What one bench run measured, as tables or one JSON document.

use serde_json::{json, Value};

use super::{load::Measured, pgbench::PgbenchResult, process::Usage, scenarios::Ceiling, Relay};

/// The machine the run happened on, and how busy it was.
pub struct Machine {
    pub date: String,
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    /// 1-minute load average when the report was made (other work on the machine shows here).
    pub load_average: f64,
}

impl Machine {
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, name)| name.trim().to_owned())
            .unwrap_or_else(|| "unknown CPU".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|l| l.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let load_average = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        Self {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib: memory_kib / 1024.0 / 1024.0,
            load_average,
        }
    }
}

pub enum CeilingRow {
    Http { measured: Measured, usage: Usage },
    Database(PgbenchResult),
}

impl CeilingRow {
    pub fn http(measured: Measured, usage: Usage) -> Self {
        CeilingRow::Http { measured, usage }
    }

    pub fn database(result: PgbenchResult) -> Self {
        CeilingRow::Database(result)
    }

    fn kind(&self) -> Ceiling {
        match self {
            CeilingRow::Http { .. } => Ceiling::Http,
            CeilingRow::Database(_) => Ceiling::Database,
        }
    }

    fn throughput(&self) -> f64 {
        match self {
            CeilingRow::Http { measured, .. } => measured.throughput,
            CeilingRow::Database(result) => result.tps,
        }
    }
}

pub struct ScenarioRow {
    pub name: &'static str,
    pub about: &'static str,
    pub ceiling: Ceiling,
    pub measured: Measured,
    /// The server's CPU and memory over the measured window.
    pub usage: Usage,
    pub relay: Option<Relay>,
}

pub struct Report {
    pub machine: Machine,
    pub concurrency: usize,
    pub seconds: u64,
    pub rust_log: Option<String>,
    pub boot_ms: f64,
    pub idle: Usage,
    pub idle_seconds: u64,
    /// The server's RSS high-water mark over the whole run (the kernel's `VmHWM`).
    pub peak_rss_mib: f64,
    pub ceilings: Vec<CeilingRow>,
    /// The Node `livekit-server-sdk` token server, when `conference-token` ran and Node was there.
    pub node_peer: Option<PeerRow>,
    pub rows: Vec<ScenarioRow>,
}

/// A peer measured like a scenario (the Node token server of [`super::node_peer`]).
pub struct PeerRow {
    pub measured: Measured,
    pub usage: Usage,
}

impl Report {
    /// A scenario's throughput as a fraction of its ceiling's, when that was measured.
    fn ratio(&self, row: &ScenarioRow) -> Option<f64> {
        self.ceilings
            .iter()
            .find(|c| c.kind() == row.ceiling)
            .map(|c| row.measured.throughput / c.throughput())
            .filter(|r| r.is_finite())
    }

    /// "42% of bare poem", or "—" without the ceiling (the plain and the Markdown table).
    fn ratio_label(&self, row: &ScenarioRow) -> String {
        match self.ratio(row) {
            Some(r) => format!("{:.0}% of {}", r * 100.0, row.ceiling.name()),
            None => "—".into(),
        }
    }

    /// How many times the Node peer's throughput `conference-token` reached, with the sentence.
    fn node_peer_line(&self) -> Option<(f64, String)> {
        let peer = self.node_peer.as_ref()?;
        let ours = self.rows.iter().find(|row| row.name == "conference-token")?;
        let times = ours.measured.throughput / peer.measured.throughput.max(f64::MIN_POSITIVE);
        Some((
            times,
            format!(
                "`conference-token` is {times:.2}× the Node `livekit-server-sdk` {} token server \
                 ({:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {:.2} cores, one Node process).",
                super::node_peer::SDK_VERSION,
                peer.measured.throughput,
                peer.measured.p50_ms,
                peer.measured.p99_ms,
                peer.usage.cores
            ),
        ))
    }

    pub fn print(&self) {
        let m = &self.machine;
        println!(
            "{} · {} · {} cores · {:.0} GiB · load average {:.2}",
            m.date, m.cpu, m.cores, m.memory_gib, m.load_average
        );
        println!(
            "{} connections, {} s per measurement after a warm-up; server log level: {}",
            self.concurrency,
            self.seconds,
            self.rust_log.as_deref().unwrap_or("default")
        );
        println!();
        println!(
            "{:<34} {:>10} {:>8} {:>8} {:>10}",
            "ceiling", "req/s", "p50 ms", "p99 ms", "CPU cores"
        );
        for ceiling in &self.ceilings {
            match ceiling {
                CeilingRow::Http { measured, usage } => println!(
                    "{:<34} {:>10.0} {:>8.2} {:>8.2} {:>10.2}",
                    "bare poem-openapi GET /healthz",
                    measured.throughput,
                    measured.p50_ms,
                    measured.p99_ms,
                    usage.cores
                ),
                CeilingRow::Database(result) => println!(
                    "{:<34} {:>10.0} {:>8} {:>8} {:>10}   ({}; average latency {:.2} ms)",
                    "pgbench -S (tps)", result.tps, "", "", "", result.command, result.latency_avg_ms
                ),
            }
        }
        println!();
        println!(
            "{:<17} {:>9} {:>7} {:>7} {:>6} {:>20} {:>6} {:>8} {:>8}",
            "scenario", "req/s", "p50 ms", "p99 ms", "errors", "vs ceiling", "CPU", "CPU µs", "peak RSS"
        );
        println!(
            "{:<17} {:>9} {:>7} {:>7} {:>6} {:>20} {:>6} {:>8} {:>8}",
            "", "", "", "", "", "", "cores", "/ req", "MiB"
        );
        for row in &self.rows {
            let ratio = self.ratio_label(row);
            println!(
                "{:<17} {:>9.0} {:>7.2} {:>7.2} {:>6} {:>20} {:>6.2} {:>8.0} {:>8.1}",
                row.name,
                row.measured.throughput,
                row.measured.p50_ms,
                row.measured.p99_ms,
                row.measured.errors,
                ratio,
                row.usage.cores,
                cpu_micros_per_request(row),
                row.usage.peak_rss_mib
            );
        }
        for row in &self.rows {
            if let Some(error) = &row.measured.first_error {
                println!("  {} error: {error}", row.name);
            }
            if let Some(relay) = row.relay {
                println!(
                    "  {} relay: {:.0} publications/s delivered during the load; outbox {}",
                    row.name,
                    relay.published_per_second,
                    match relay.drained_after_seconds {
                        Some(s) => format!("empty {s:.1} s after it"),
                        None => "still not empty 60 s after it".into(),
                    }
                );
            }
        }
        if let Some((_, line)) = self.node_peer_line() {
            println!("{}", line.replace('`', ""));
        }
        println!();
        println!(
            "server: boot to ready {:.0} ms (migrated database); idle ({} s after ready) {:.1}% of a core, RSS {:.1} MiB; peak RSS over the run {:.1} MiB",
            self.boot_ms,
            self.idle_seconds,
            self.idle.cores * 100.0,
            self.idle.rss_mib,
            self.peak_rss_mib
        );
    }

    /// The tables in Markdown, as docs/performance.md keeps them.
    pub fn print_markdown(&self) {
        let m = &self.machine;
        println!(
            "{}, {} ({} cores, {:.0} GiB), 1-minute load average {:.1} at the end of the run. \
             {} connections, {} s per measurement after a warm-up, server log level {}.",
            m.date,
            m.cpu,
            m.cores,
            m.memory_gib,
            m.load_average,
            self.concurrency,
            self.seconds,
            self.rust_log.as_deref().unwrap_or("default")
        );
        println!();
        println!("| ceiling | req/s | p50 ms | p99 ms |");
        println!("|---|---:|---:|---:|");
        for ceiling in &self.ceilings {
            match ceiling {
                CeilingRow::Http { measured, .. } => println!(
                    "| bare poem-openapi `GET /healthz` | {:.0} | {:.2} | {:.2} |",
                    measured.throughput, measured.p50_ms, measured.p99_ms
                ),
                CeilingRow::Database(result) => println!(
                    "| `{}` (tps) | {:.0} | — | — (average {:.2}) |",
                    result.command, result.tps, result.latency_avg_ms
                ),
            }
        }
        println!();
        println!("| scenario | req/s | p50 ms | p99 ms | errors | vs ceiling | server CPU (cores) | CPU µs / request | peak RSS MiB |");
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for row in &self.rows {
            let ratio = self.ratio_label(row);
            println!(
                "| `{}` | {:.0} | {:.2} | {:.2} | {} | {} | {:.2} | {:.0} | {:.1} |",
                row.name,
                row.measured.throughput,
                row.measured.p50_ms,
                row.measured.p99_ms,
                row.measured.errors,
                ratio,
                row.usage.cores,
                cpu_micros_per_request(row),
                row.usage.peak_rss_mib
            );
        }
        println!();
        for row in &self.rows {
            if let Some(relay) = row.relay {
                println!(
                    "- `{}` relay: {:.0} publications/s delivered to the fake Centrifugo during the load; the outbox was {}.",
                    row.name,
                    relay.published_per_second,
                    match relay.drained_after_seconds {
                        Some(s) => format!("empty {s:.1} s after it"),
                        None => "still not empty 60 s after it".into(),
                    }
                );
            }
        }
        if let Some((_, line)) = self.node_peer_line() {
            println!("- {line}");
        }
        println!(
            "- Server: boot to ready {:.0} ms (migrated database); idle ({} s after ready) {:.1}% of a core and {:.1} MiB RSS; peak RSS over the run {:.1} MiB.",
            self.boot_ms,
            self.idle_seconds,
            self.idle.cores * 100.0,
            self.idle.rss_mib,
            self.peak_rss_mib
        );
    }

    pub fn to_json(&self) -> Value {
        let m = &self.machine;
        let ceilings: Vec<Value> = self
            .ceilings
            .iter()
            .map(|c| match c {
                CeilingRow::Http { measured, usage } => json!({
                    "ceiling": "bare-poem-healthz", "throughput_rps": measured.throughput,
                    "requests": measured.requests, "errors": measured.errors,
                    "p50_ms": measured.p50_ms, "p99_ms": measured.p99_ms, "cpu_cores": usage.cores,
                }),
                CeilingRow::Database(result) => json!({
                    "ceiling": "pgbench-select-only", "throughput_rps": result.tps,
                    "latency_avg_ms": result.latency_avg_ms, "command": result.command,
                }),
            })
            .collect();
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                json!({
                    "scenario": row.name, "about": row.about,
                    "ceiling": row.ceiling.name(), "ratio_to_ceiling": self.ratio(row),
                    "requests": row.measured.requests, "errors": row.measured.errors,
                    "first_error": row.measured.first_error,
                    "throughput_rps": row.measured.throughput,
                    "p50_ms": row.measured.p50_ms, "p99_ms": row.measured.p99_ms,
                    "server_cpu_cores": row.usage.cores,
                    "server_cpu_us_per_request": cpu_micros_per_request(row),
                    "server_peak_rss_mib": row.usage.peak_rss_mib,
                    "server_rss_mib_after": row.usage.rss_mib,
                    "relay": row.relay.map(|r| json!({
                        "published_per_second": r.published_per_second,
                        "drained_after_seconds": r.drained_after_seconds,
                    })),
                })
            })
            .collect();
        json!({
            "machine": {"date": m.date, "cpu": m.cpu, "cores": m.cores,
                        "memory_gib": m.memory_gib, "load_average": m.load_average},
            "concurrency": self.concurrency,
            "seconds": self.seconds,
            "rust_log": self.rust_log,
            "server": {
                "boot_to_ready_ms": self.boot_ms,
                "idle": {"seconds": self.idle_seconds, "cpu_cores": self.idle.cores,
                         "rss_mib": self.idle.rss_mib},
                "peak_rss_mib": self.peak_rss_mib,
            },
            "ceilings": ceilings,
            "node_peer": self.node_peer.as_ref().map(|peer| json!({
                "sdk": format!("livekit-server-sdk {}", super::node_peer::SDK_VERSION),
                "throughput_rps": peer.measured.throughput, "requests": peer.measured.requests,
                "errors": peer.measured.errors, "p50_ms": peer.measured.p50_ms,
                "p99_ms": peer.measured.p99_ms, "cpu_cores": peer.usage.cores,
                "conference_token_times": self.node_peer_line().map(|(times, _)| times),
            })),
            "scenarios": rows,
        })
    }
}

/// The server's CPU time per successful request, microseconds.
fn cpu_micros_per_request(row: &ScenarioRow) -> f64 {
    let ok = row.measured.requests as f64 - row.measured.errors as f64;
    if ok <= 0.0 {
        return 0.0;
    }
    row.usage.cpu_seconds * 1e6 / ok
}
