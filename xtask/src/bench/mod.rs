//! `cargo xtask bench`: the server's throughput, latency and resource use next to two ceilings
//! measured in the same run on the same machine.
//!
//! `cargo xtask` runs a debug build of xtask; a debug load generator would be the bottleneck, so
//! the bench first builds `qubital` and xtask in release ([`build_release`]) and runs the
//! release xtask with the same arguments. That process:
//! 1. creates a scratch database on the Postgres server given (`DATABASE_URL`, else
//!    `TEST_DATABASE_URL`), migrates it with `qubital migrate`, and starts the fake Centrifugo
//!    ([`peer`], its own process) for the chat relay;
//! 2. starts `qubital serve --dev` on free ports against it (default log level, stdout
//!    discarded) and times boot to the first `200` from `/readyz`; leaves it idle for
//!    `--idle-seconds` and reads its idle CPU and RSS;
//! 3. makes the fixture through the API ([`scenarios::prepare`]);
//! 4. measures the ceilings: the bare poem-openapi `/healthz` ([`peer`], its own process) with
//!    the same load generator, and `pgbench -S` with the same concurrency ([`pgbench`]); and,
//!    when `conference-token` runs, issue 15's Node `livekit-server-sdk` token server
//!    ([`node_peer`]);
//! 5. drives each scenario ([`load`]) for `--seconds` after a short warm-up, reading the
//!    server's CPU time and RSS over the window ([`process`]);
//! 6. prints one row per scenario with its ratio to its ceiling ([`report`]), then drops the
//!    scratch databases.
//!
//! Every request goes to 127.0.0.1 only.

mod database;
mod load;
mod node_peer;
pub mod peer;
mod pgbench;
mod process;
mod report;
mod scenarios;

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};

use self::{
    database::Scratch,
    process::{quiet, Process, Watch},
    report::{CeilingRow, PeerRow, Report, ScenarioRow},
};

#[derive(clap::Args)]
pub struct Options {
    /// Seconds of load per scenario and per ceiling.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent clients (keep-alive connections) for every scenario, the HTTP ceiling and
    /// pgbench.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds the server is left alone after it is ready, before its idle CPU and RSS are read.
    #[arg(long, default_value_t = 5)]
    idle_seconds: u64,
    /// Run only these scenarios (by name, repeatable); all by default.
    #[arg(long = "scenario")]
    scenarios: Vec<String>,
    /// Skip the ceilings (bare poem, pgbench).
    #[arg(long)]
    no_ceilings: bool,
    /// Postgres server on which the scratch databases are created and dropped (any database
    /// on it; default `TEST_DATABASE_URL` when this is unset).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// `RUST_LOG` for the server; by default none (the server's default level).
    #[arg(long)]
    rust_log: Option<String>,
    /// Use this server binary instead of building `qubital` in release.
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Print everything as one JSON document instead of tables.
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// Print the tables in Markdown (as docs/performance.md keeps them).
    #[arg(long)]
    markdown: bool,
}

pub fn run(options: Options) -> anyhow::Result<()> {
    let known: Vec<&str> = scenarios::all().iter().map(|s| s.name).collect();
    if let Some(unknown) = options.scenarios.iter().find(|s| !known.contains(&s.as_str())) {
        bail!("unknown scenario `{unknown}`; there are: {}", known.join(", "));
    }
    if cfg!(debug_assertions) {
        return rerun_in_release(&options);
    }
    let binary = match &options.binary {
        Some(binary) => binary.clone(),
        None => {
            build_release(true)?;
            target_dir()?.join("release/qubital")
        }
    };
    let report = measure(&options, &binary)?;
    if options.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else if options.markdown {
        report.print_markdown();
    } else {
        report.print();
    }
    Ok(())
}

/// Builds the server and xtask in release, then runs the release xtask with our arguments.
fn rerun_in_release(options: &Options) -> anyhow::Result<()> {
    let target = target_dir()?;
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if options.binary.is_none() {
        args.push("--binary".into());
        args.push(target.join("release/qubital").into());
    }
    build_release(options.binary.is_none())?;
    let status = Command::new(target.join("release/xtask"))
        .args(args)
        .status()
        .context("cannot run the release build of xtask")?;
    if !status.success() {
        bail!("the bench failed");
    }
    Ok(())
}

/// `cargo build --release -p qubital`, then `-p xtask`: two builds, so the benched server is
/// exactly what `cargo build --release -p qubital` ships (built together, Cargo would unify
/// features and compile xtask's vendor fakes into the server too).
fn build_release(with_server: bool) -> anyhow::Result<()> {
    eprintln!("building in release…");
    let packages: &[&str] = if with_server {
        &["qubital", "xtask"]
    } else {
        &["xtask"]
    };
    for package in packages {
        let status = crate::cargo()
            .args(["build", "--release", "--package", package])
            .status()?;
        if !status.success() {
            bail!("the release build of {package} failed");
        }
    }
    Ok(())
}

/// The workspace's target directory (configurable, so asked of cargo).
fn target_dir() -> anyhow::Result<PathBuf> {
    let output = crate::cargo()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        bail!("cargo metadata failed");
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    Ok(PathBuf::from(
        metadata["target_directory"]
            .as_str()
            .context("cargo metadata names no target directory")?,
    ))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A release xtask serving a peer (`poem`, `centrifugo`), with its base URL.
fn start_peer(kind: &str) -> anyhow::Result<(Process, String)> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(["bench-peer", kind])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut peer = Process::spawn(&format!("{kind} peer"), &mut command)?;
    let url = peer.first_line(Duration::from_secs(10))?;
    Ok((peer, url))
}

/// The server's settings for the bench, as environment variables.
fn server_command(binary: &Path, database_url: &str, options: &Options) -> Command {
    let mut command = Command::new(binary);
    command
        // `--dev` reads `.env` from the working directory: none there.
        .current_dir(std::env::temp_dir())
        .env("DATABASE_URL", database_url)
        // Conference tokens are signed locally: nothing contacts this address.
        .env("LIVEKIT_URL", "ws://127.0.0.1:7880")
        .env("LIVEKIT_API_KEY", "bench")
        .env("LIVEKIT_API_SECRET", "bench-secret-bench-secret-bench-secret");
    match &options.rust_log {
        Some(filter) => command.env("RUST_LOG", filter),
        None => command.env_remove("RUST_LOG"),
    };
    command
}

fn measure(options: &Options, binary: &Path) -> anyhow::Result<Report> {
    let admin_url = options
        .database_url
        .clone()
        .or_else(|| std::env::var("TEST_DATABASE_URL").ok())
        .context("set DATABASE_URL (or TEST_DATABASE_URL) to a Postgres server the bench may create scratch databases on")?;
    let selected: Vec<_> = scenarios::all()
        .into_iter()
        .filter(|s| options.scenarios.is_empty() || options.scenarios.iter().any(|n| n == s.name))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let client = load::client(options.concurrency)?;
    let seconds = Duration::from_secs(options.seconds.max(1));
    let warmup = (seconds / 5).min(Duration::from_secs(1));

    eprintln!("migrating a scratch database…");
    let scratch = Scratch::create(&admin_url, "qubital_bench")?;
    let migrate = server_command(binary, &scratch.url, options)
        .args(["migrate", "--dev"])
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    if !migrate.success() {
        bail!("qubital migrate failed");
    }

    let (_centrifugo, centrifugo_url) = start_peer("centrifugo")?;
    let (port, ops_port) = (free_port()?, free_port()?);
    let base = format!("http://127.0.0.1:{port}");
    let ops = format!("http://127.0.0.1:{ops_port}");
    let mut command = quiet(server_command(binary, &scratch.url, options));
    command
        .args(["serve", "--dev", "--port", &port.to_string()])
        .args(["--ops-port", &ops_port.to_string()])
        .env("CENTRIFUGO_API_URL", &centrifugo_url)
        .env("CENTRIFUGO_API_KEY", platform_centrifugo::fake::API_KEY);
    eprintln!("starting the server…");
    let booted = Instant::now();
    let mut server = Process::spawn("server", &mut command)?;
    runtime.block_on(wait_ready(&base, &mut server))?;
    let boot_ms = booted.elapsed().as_secs_f64() * 1000.0;
    let watch = Watch::start(server.pid());
    let idle_mark = watch.mark();
    std::thread::sleep(Duration::from_secs(options.idle_seconds));
    let idle = watch.usage_since(&idle_mark);

    eprintln!("preparing the organization…");
    let fixture = runtime.block_on(scenarios::prepare(&base))?;

    // A peer process driven like a scenario: warm-up, then the measured window with its CPU.
    let drive_peer = |target: load::Target, pid: u32| {
        let target = Arc::new(target);
        runtime.block_on(load::warm_up(
            &client,
            target.clone(),
            options.concurrency,
            warmup,
        ));
        let peer_watch = Watch::start(pid);
        let mark = peer_watch.mark();
        let measured = runtime.block_on(load::measure(&client, target, options.concurrency, seconds));
        PeerRow {
            measured,
            usage: peer_watch.usage_since(&mark),
        }
    };

    let mut ceilings = Vec::new();
    if !options.no_ceilings {
        eprintln!("measuring the ceilings…");
        let (poem, poem_url) = start_peer("poem")?;
        let target = load::Target::new(
            reqwest::Method::GET,
            format!("{poem_url}/healthz"),
            None,
            load::Body::None,
        );
        let PeerRow { measured, usage } = drive_peer(target, poem.pid());
        drop(poem);
        ceilings.push(CeilingRow::http(measured, usage));
        match pgbench::run(&admin_url, options.concurrency, options.seconds.max(1)) {
            Ok(result) => ceilings.push(CeilingRow::database(result)),
            Err(error) => eprintln!("pgbench skipped: {error:#}"),
        }
    }
    let node_peer = if !options.no_ceilings && selected.iter().any(|s| s.name == "conference-token") {
        eprintln!("measuring the Node peer…");
        let measured = target_dir()
            .and_then(|target| node_peer::start(&target))
            .map(|(peer, url)| {
                let body = format!(r#"{{"spaceId":"{}"}}"#, fixture.space_id);
                let target = load::Target::new(
                    reqwest::Method::POST,
                    url,
                    None,
                    load::Body::Fixed(body.into_bytes()),
                );
                drive_peer(target, peer.pid())
            });
        match measured {
            Ok(row) => Some(row),
            Err(error) => {
                eprintln!("Node peer skipped: {error:#}");
                None
            }
        }
    } else {
        None
    };

    let mut rows = Vec::new();
    for scenario in &selected {
        eprintln!("scenario {}…", scenario.name);
        let target = Arc::new(scenario.target(&base, &fixture));
        runtime.block_on(load::warm_up(
            &client,
            target.clone(),
            options.concurrency,
            warmup,
        ));
        let published_before = runtime.block_on(metric(&ops, "qubital_chat_outbox_published_total"));
        let mark = watch.mark();
        let loaded = Instant::now();
        let measured = runtime.block_on(load::measure(&client, target, options.concurrency, seconds));
        let usage = watch.usage_since(&mark);
        let relay = if scenario.name == "send-message" {
            Some(runtime.block_on(relay_drain(&ops, published_before, loaded.elapsed())))
        } else {
            None
        };
        rows.push(ScenarioRow {
            name: scenario.name,
            about: scenario.about,
            ceiling: scenario.ceiling,
            measured,
            usage,
            relay,
        });
        if !server.running() {
            bail!("the server stopped during {}", scenario.name);
        }
    }
    let peak_rss_mib = watch.high_water_mib();
    drop(watch);
    drop(server);
    drop(scratch);
    Ok(Report {
        machine: report::Machine::read(),
        concurrency: options.concurrency,
        seconds: options.seconds.max(1),
        rust_log: options.rust_log.clone(),
        boot_ms,
        idle,
        idle_seconds: options.idle_seconds,
        peak_rss_mib,
        ceilings,
        node_peer,
        rows,
    })
}

async fn wait_ready(base: &str, server: &mut Process) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
            if response.status().is_success() {
                return Ok(());
            }
        }
        if !server.running() {
            bail!("the server exited before it was ready");
        }
        if Instant::now() > deadline {
            bail!("the server did not become ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A sample's value on the ops listener's `/metrics` (0 when absent).
async fn metric(ops: &str, name: &str) -> f64 {
    let Ok(response) = reqwest::get(format!("{ops}/metrics")).await else {
        return 0.0;
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (key, value) = l.split_once(' ')?;
            (key == name).then(|| value.trim().parse().ok()).flatten()
        })
        .unwrap_or(0.0)
}

/// How the chat relay kept up with a send-message run.
#[derive(Clone, Copy, Debug)]
pub struct Relay {
    /// Publications delivered to Centrifugo per second of the measured load.
    pub published_per_second: f64,
    /// Seconds after the load until the outbox was empty (`None`: not within 60 s).
    pub drained_after_seconds: Option<f64>,
}

/// Reads the relay's progress right after a load of `loaded`, then waits
/// for the outbox to be empty.
async fn relay_drain(ops: &str, published_before: f64, loaded: Duration) -> Relay {
    let published_during = metric(ops, "qubital_chat_outbox_published_total").await - published_before;
    let started = Instant::now();
    let mut drained = None;
    while started.elapsed() < Duration::from_secs(60) {
        // The gauge is set after each relay pass: read it twice a pass.
        if metric(ops, "qubital_chat_outbox_backlog").await == 0.0 {
            drained = Some(started.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Relay {
        published_per_second: published_during / loaded.as_secs_f64(),
        drained_after_seconds: drained,
    }
}
