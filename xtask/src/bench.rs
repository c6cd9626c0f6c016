//! `cargo xtask bench`: throughput, latency percentiles and the server's peak memory.
//!
//! Builds the release binary, starts `qubital serve --dev` on a free port (against
//! `DATABASE_URL`, or the private cluster when unset), then drives each scenario with
//! `--concurrency` clients for `--seconds` and prints one row per scenario. The server's RSS is
//! sampled throughout; "peak RSS" is the highest sample (and the kernel's high-water mark).
//! Every request goes to 127.0.0.1 only.

use std::{
    future::Future,
    pin::Pin,
    process::{Child, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct Options {
    /// Seconds of load per scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Run only these scenarios (by name); all by default.
    #[arg(long = "scenario")]
    scenarios: Vec<String>,
    /// Use this binary instead of building `target/release/qubital`.
    #[arg(long)]
    binary: Option<std::path::PathBuf>,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

/// One kind of request to repeat.
struct Scenario {
    name: &'static str,
    method: reqwest::Method,
    path: &'static str,
    body: Option<fn() -> Value>,
    /// Needs a signed-in session (development sign-in).
    signed_in: bool,
    /// Runs once before the load, with the scenario's client and the base URL (e.g. creates the
    /// space a token is asked for); its value, when given, is the request body.
    setup: Option<Setup>,
}

type Setup = fn(reqwest::Client, String) -> Pin<Box<dyn Future<Output = anyhow::Result<Value>> + Send>>;

/// The scenarios, cheapest first. Later features add theirs here.
fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "healthz",
            method: reqwest::Method::GET,
            path: "/healthz",
            body: None,
            signed_in: false,
            setup: None,
        },
        Scenario {
            name: "readyz",
            method: reqwest::Method::GET,
            path: "/readyz",
            body: None,
            signed_in: false,
            setup: None,
        },
        Scenario {
            name: "user.get",
            method: reqwest::Method::POST,
            path: "/user/get",
            body: Some(|| json!({})),
            signed_in: true,
            setup: None,
        },
        Scenario {
            name: "spaces.list",
            method: reqwest::Method::POST,
            path: "/spaces/list",
            body: Some(|| json!({})),
            signed_in: true,
            // A full first page: 20 of 25 spaces, with their tags.
            setup: Some(|client, base| Box::pin(ensure_spaces(client, base, 25))),
        },
        Scenario {
            name: "conference-token",
            method: reqwest::Method::POST,
            path: "/realtime/conference-token",
            body: None,
            signed_in: true,
            setup: Some(|client, base| {
                Box::pin(async move {
                    let spaces = ensure_spaces(client, base, 1).await?;
                    Ok(json!({"spaceId": spaces["data"][0]["id"]}))
                })
            }),
        },
    ]
}

struct Outcome {
    name: &'static str,
    requests: usize,
    errors: u64,
    throughput: f64,
    p50_ms: f64,
    p99_ms: f64,
}

pub fn run(options: Options) -> anyhow::Result<()> {
    let binary = match &options.binary {
        Some(binary) => binary.clone(),
        None => {
            eprintln!("building the release binary…");
            let status = crate::cargo()
                .args(["build", "--release", "--package", "qubital"])
                .status()?;
            if !status.success() {
                bail!("the release build failed");
            }
            crate::root().join("target/release/qubital")
        }
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut server = std::process::Command::new(&binary)
        .args(["serve", "--dev", "--port", &port.to_string()])
        .env("RUST_LOG", "warn")
        // Conference tokens are signed locally: nothing contacts this address.
        .env("LIVEKIT_URL", "ws://127.0.0.1:7880")
        .env("LIVEKIT_API_KEY", "bench")
        .env("LIVEKIT_API_SECRET", "bench-secret-bench-secret-bench-secret")
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let result = drive(&options, port, &server);
    stop(&mut server);
    let (outcomes, peak_rss_kib) = result?;
    report(&options, &outcomes, peak_rss_kib);
    Ok(())
}

fn drive(options: &Options, port: u16, server: &Child) -> anyhow::Result<(Vec<Outcome>, u64)> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let base = format!("http://127.0.0.1:{port}");
    runtime.block_on(wait_ready(&base))?;

    let sampling = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = std::thread::spawn({
        let (sampling, peak, pid) = (sampling.clone(), peak.clone(), server.id());
        move || {
            while sampling.load(Ordering::Relaxed) {
                if let Some(rss) = status_field(pid, "VmRSS:") {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            status_field(pid, "VmHWM:").unwrap_or(0)
        }
    });

    let mut outcomes = Vec::new();
    for scenario in scenarios() {
        if !options.scenarios.is_empty() && !options.scenarios.iter().any(|s| s == scenario.name) {
            continue;
        }
        match runtime.block_on(load(&base, &scenario, options)) {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => eprintln!("scenario {} skipped: {error:#}", scenario.name),
        }
    }
    sampling.store(false, Ordering::Relaxed);
    let high_water = sampler.join().unwrap_or(0);
    Ok((outcomes, peak.load(Ordering::Relaxed).max(high_water)))
}

async fn wait_ready(base: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = reqwest::get(format!("{base}/readyz")).await {
            if response.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("the server did not become ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A client signed in through the development sign-in when the scenario needs one.
async fn client(base: &str, scenario: &Scenario) -> anyhow::Result<reqwest::Client> {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .pool_max_idle_per_host(1024)
        .build()?;
    if scenario.signed_in {
        let response = client
            .post(format!("{base}/auth/dev/sign-in"))
            .json(&json!({"email": "bench@example.com", "organizationName": "Bench"}))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("development sign-in answered {}", response.status());
        }
    }
    Ok(client)
}

async fn load(base: &str, scenario: &Scenario, options: &Options) -> anyhow::Result<Outcome> {
    let client = client(base, scenario).await?;
    let prepared = match scenario.setup {
        Some(setup) => Some(setup(client.clone(), base.to_owned()).await?),
        None => None,
    };
    let target = Arc::new(Target {
        method: scenario.method.clone(),
        url: format!("{base}{}", scenario.path),
        body: prepared.or_else(|| scenario.body.map(|make| make())),
    });
    // Warm up the connection pool and caches.
    for _ in 0..options.concurrency {
        target.send(&client).await?;
    }
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..options.concurrency {
        let (client, errors, target) = (client.clone(), errors.clone(), target.clone());
        workers.push(async move {
            let mut latencies = Vec::with_capacity(4096);
            while Instant::now() < deadline {
                let begun = Instant::now();
                match target.send(&client).await {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.bytes().await;
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                latencies.push(begun.elapsed().as_micros() as u64);
            }
            latencies
        });
    }
    let mut latencies: Vec<u64> = futures_join_all(workers).await.into_iter().flatten().collect();
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        let index = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[index] as f64 / 1000.0
    };
    Ok(Outcome {
        name: scenario.name,
        requests: latencies.len(),
        errors: errors.load(Ordering::Relaxed),
        throughput: latencies.len() as f64 / elapsed,
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
    })
}

/// Creates spaces (and a tag on each) until the signed-in organization has `count`; returns the
/// first page of `/spaces/list`.
async fn ensure_spaces(client: reqwest::Client, base: String, count: u64) -> anyhow::Result<Value> {
    let call = |path: &str, body: Value| {
        let request = client.post(format!("{base}{path}")).json(&body);
        async move {
            let response = request.send().await?;
            if !response.status().is_success() {
                bail!("setup: {} answered {}", response.url().path(), response.status());
            }
            Ok::<Value, anyhow::Error>(response.json().await?)
        }
    };
    let existing = call("/spaces/list", json!({})).await?;
    let have = existing["page"]["total"].as_u64().unwrap_or(0);
    if have >= count {
        return Ok(existing);
    }
    let tags = call("/space-tags/list", json!({})).await?;
    let tag = match tags["data"][0]["id"].as_str() {
        Some(id) => id.to_owned(),
        None => call("/space-tags/create", json!({"name": "bench"})).await?["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    };
    for i in have..count {
        call(
            "/spaces/create",
            json!({"name": format!("Bench space {i:03}"), "layout": "office", "dimension": "medium",
                   "style": "modern", "tagIds": [tag]}),
        )
        .await?;
    }
    call("/spaces/list", json!({})).await
}

/// One scenario's request, shared by its workers.
struct Target {
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
}

impl Target {
    async fn send(&self, client: &reqwest::Client) -> reqwest::Result<reqwest::Response> {
        let mut request = client.request(self.method.clone(), &self.url);
        if let Some(body) = &self.body {
            request = request.json(body);
        }
        request.send().await
    }
}

/// Runs the futures concurrently on the current task set.
async fn futures_join_all<F: std::future::Future<Output = T> + Send + 'static, T: Send + 'static>(
    futures: Vec<F>,
) -> Vec<T> {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(handle.await.expect("a load worker panicked"));
    }
    results
}

/// A `kB` field of `/proc/<pid>/status`, in KiB.
fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn stop(server: &mut Child) {
    // SIGTERM: the server drains and stops its private database cluster cleanly.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = server.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = server.kill();
}

fn report(options: &Options, outcomes: &[Outcome], peak_rss_kib: u64) {
    if options.json {
        let rows: Vec<Value> = outcomes
            .iter()
            .map(|o| {
                json!({"scenario": o.name, "requests": o.requests, "errors": o.errors,
                       "throughput_rps": o.throughput, "p50_ms": o.p50_ms, "p99_ms": o.p99_ms})
            })
            .collect();
        println!(
            "{}",
            json!({"concurrency": options.concurrency, "seconds": options.seconds,
                              "scenarios": rows, "peak_rss_mib": peak_rss_kib as f64 / 1024.0})
        );
        return;
    }
    println!(
        "concurrency {}, {} s per scenario",
        options.concurrency, options.seconds
    );
    println!(
        "{:<18} {:>10} {:>8} {:>12} {:>10} {:>10}",
        "scenario", "requests", "errors", "req/s", "p50 ms", "p99 ms"
    );
    for o in outcomes {
        println!(
            "{:<18} {:>10} {:>8} {:>12.0} {:>10.2} {:>10.2}",
            o.name, o.requests, o.errors, o.throughput, o.p50_ms, o.p99_ms
        );
    }
    println!("server peak RSS: {:.1} MiB", peak_rss_kib as f64 / 1024.0);
}
