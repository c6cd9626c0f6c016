//! The load generator: `concurrency` workers on this process's runtime, each sending one
//! request after another over its own keep-alive connection for a fixed time, timing each.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, COOKIE};

/// How the body of each request is made.
#[derive(Clone)]
pub enum Body {
    None,
    /// The same JSON every time.
    Fixed(Vec<u8>),
    /// JSON made per request from the worker's number and the request's sequence number.
    PerRequest(Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync>),
}

/// One kind of request, repeated.
pub struct Target {
    pub method: reqwest::Method,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Body,
}

impl Target {
    pub fn new(method: reqwest::Method, url: String, cookie: Option<&HeaderValue>, body: Body) -> Self {
        let mut headers = HeaderMap::new();
        if let Some(cookie) = cookie {
            headers.insert(COOKIE, cookie.clone());
        }
        if !matches!(body, Body::None) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Self {
            method,
            url,
            headers,
            body,
        }
    }

    async fn send(&self, client: &reqwest::Client, worker: usize, seq: u64) -> Result<(), String> {
        let mut request = client
            .request(self.method.clone(), &self.url)
            .headers(self.headers.clone());
        request = match &self.body {
            Body::None => request,
            Body::Fixed(bytes) => request.body(bytes.clone()),
            Body::PerRequest(make) => request.body(make(worker, seq)),
        };
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(())
        } else {
            let text = String::from_utf8_lossy(&body);
            Err(format!(
                "{status}: {}",
                text.chars().take(300).collect::<String>()
            ))
        }
    }
}

/// What one run of a target measured.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    pub requests: usize,
    pub errors: u64,
    /// One of the errors, for the report.
    pub first_error: Option<String>,
    pub throughput: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// A client with room for `concurrency` keep-alive connections.
pub fn client(concurrency: usize) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency.max(1) * 2)
        .tcp_nodelay(true)
        .build()
}

/// Sends requests for `duration` without measuring them (connections, caches, the server's
/// pool). The sequence numbers do not overlap [`measure`]'s.
pub async fn warm_up(client: &reqwest::Client, target: Arc<Target>, concurrency: usize, duration: Duration) {
    run(client, target, concurrency, duration, u64::MAX / 2).await;
}

/// Drives `target` with `concurrency` workers for `duration`.
pub async fn measure(
    client: &reqwest::Client,
    target: Arc<Target>,
    concurrency: usize,
    duration: Duration,
) -> Measured {
    run(client, target, concurrency, duration, 0).await
}

async fn run(
    client: &reqwest::Client,
    target: Arc<Target>,
    concurrency: usize,
    duration: Duration,
    first_seq: u64,
) -> Measured {
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(Mutex::new(None));
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            let (client, target, errors, first_error) = (
                client.clone(),
                target.clone(),
                errors.clone(),
                first_error.clone(),
            );
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(16 * 1024);
                let mut seq = first_seq;
                while Instant::now() < deadline {
                    let begun = Instant::now();
                    if let Err(error) = target.send(&client, worker, seq).await {
                        errors.fetch_add(1, Ordering::Relaxed);
                        first_error.lock().unwrap().get_or_insert(error);
                    }
                    latencies.push(begun.elapsed().as_micros() as u32);
                    seq += 1;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.expect("a load worker panicked"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        let index = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        f64::from(latencies[index]) / 1000.0
    };
    let first_error = first_error.lock().unwrap().take();
    let errors = errors.load(Ordering::Relaxed);
    Measured {
        requests: latencies.len(),
        errors,
        first_error,
        // Successful requests only.
        throughput: latencies.len().saturating_sub(errors as usize) as f64 / elapsed,
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
    }
}
