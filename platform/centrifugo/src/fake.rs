//! A local Centrifugo server API for tests of any crate (Cargo feature `fake`): a real HTTP
//! server on `127.0.0.1:<random port>` answering `POST /api/publish`, `/api/batch` and
//! `/api/info` with Centrifugo's JSON.
//!
//! Like Centrifugo, it:
//! - answers `401` to a request without the right key ([`API_KEY`], in `X-API-Key`, in
//!   `Authorization: apikey <key>` or in the `api_key` query parameter);
//! - answers `400` to a body that is not JSON, and `{"error": {"code": 107, …}}` to a publish
//!   without a channel or data;
//! - answers `{"error": {"code": 102, "message": "unknown channel"}}` to a channel whose
//!   namespace is not configured — once [`FakeCentrifugo::set_namespaces`] configured some
//!   (by default every namespace exists);
//! - drops a publication whose `idempotency_key` it saw on the same channel within the window
//!   (5 minutes by default), answering the first publication's result;
//! - processes a batch command by command, each with its own reply.
//!
//! Every channel has history (unless [`FakeCentrifugo::set_history`] turns it off), so a
//! publication gets an `offset` counting from 1 in its channel and the channel's `epoch`;
//! `skip_history` publications get neither. Only `publish` commands are supported in batches.
//!
//! A test scripts outages: [`FakeCentrifugo::set_down`] (every call `503`, as a load balancer
//! answers for a dead Centrifugo), [`FakeCentrifugo::fail_next`] (the next calls fail with a
//! status or a Centrifugo error), [`FakeCentrifugo::set_delay`] (answers come late).

use std::{
    collections::{hash_map::DefaultHasher, BTreeSet, HashMap, VecDeque},
    hash::{Hash, Hasher},
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use poem::{
    handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    web::{Data, Path},
    EndpointExt, Request, Response, Route, Server,
};
use serde_json::{json, Value};

use crate::{Centrifugo, CentrifugoSettings};

/// The API key the fake accepts.
pub const API_KEY: &str = "fake-centrifugo-api-key";

/// How long Centrifugo remembers an idempotency key (its documented window).
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(5 * 60);

/// A publication the fake accepted, in the order it accepted them.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedPublication {
    pub channel: String,
    pub data: Value,
    pub idempotency_key: Option<String>,
    pub skip_history: bool,
    /// The offset it got in its channel's history (`None` without history).
    pub offset: Option<u64>,
}

/// A request that reached the fake, whatever became of it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedCall {
    /// `publish`, `batch`, `info`… (the last path segment).
    pub method: String,
    /// The JSON body (`Null` when it was not JSON).
    pub body: Value,
}

/// How a scripted failing call fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// An HTTP status with a plain-text body, before the key is even checked (a proxy in front
    /// of Centrifugo, or Centrifugo crashing).
    Status(u16),
    /// A Centrifugo error in a `200` answer, after the key is checked: for a batch, in every
    /// reply.
    Api { code: u32, message: String },
}

impl Failure {
    /// `503 Service Unavailable`.
    pub fn unavailable() -> Self {
        Failure::Status(503)
    }

    /// Centrifugo's `100 internal server error` (temporary).
    pub fn internal() -> Self {
        Failure::Api {
            code: 100,
            message: "internal server error".into(),
        }
    }

    /// Centrifugo's `111 too many requests` (temporary).
    pub fn too_many_requests() -> Self {
        Failure::Api {
            code: 111,
            message: "too many requests".into(),
        }
    }
}

struct Remembered {
    result: Value,
    until: Instant,
}

struct State {
    publications: Vec<RecordedPublication>,
    calls: Vec<RecordedCall>,
    down: bool,
    failures: VecDeque<Failure>,
    delay: Duration,
    /// `None`: every namespace exists.
    namespaces: Option<BTreeSet<String>>,
    history: bool,
    idempotency_window: Duration,
    /// By `(channel, idempotency key)`.
    idempotent: HashMap<(String, String), Remembered>,
    /// Last offset of each channel's history.
    offsets: HashMap<String, u64>,
    /// Distinguishes this server's epochs from another's.
    seed: u64,
    started: Instant,
}

type Shared = Arc<Mutex<State>>;

impl State {
    fn epoch(&self, channel: &str) -> String {
        let mut hasher = DefaultHasher::new();
        (self.seed, channel).hash(&mut hasher);
        format!("{:08x}", hasher.finish() as u32)
    }

    fn known(&self, channel: &str) -> bool {
        match (&self.namespaces, channel.split_once(':')) {
            (Some(namespaces), Some((namespace, _))) => namespaces.contains(namespace),
            _ => true,
        }
    }

    /// One publish command: its `result` object, or Centrifugo's `(code, message)`.
    fn publish(&mut self, request: &Value) -> Result<Value, (u32, &'static str)> {
        const BAD_REQUEST: (u32, &str) = (107, "bad request");
        let channel = request
            .get("channel")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .ok_or(BAD_REQUEST)?;
        let data = match (
            request.get("data"),
            request.get("b64data").and_then(Value::as_str),
        ) {
            (Some(data), _) => data.clone(),
            (None, Some(b64)) if !b64.is_empty() => Value::String(b64.to_owned()),
            _ => return Err(BAD_REQUEST),
        };
        if !self.known(channel) {
            return Err((102, "unknown channel"));
        }
        let skip_history = request
            .get("skip_history")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let key = request
            .get("idempotency_key")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .map(|k| (channel.to_owned(), k.to_owned()));
        let now = Instant::now();
        if let Some(key) = &key {
            match self.idempotent.get(key) {
                Some(remembered) if remembered.until > now => return Ok(remembered.result.clone()),
                Some(_) => {
                    self.idempotent.remove(key);
                }
                None => {}
            }
        }
        let offset = (self.history && !skip_history).then(|| {
            let offset = self.offsets.entry(channel.to_owned()).or_default();
            *offset += 1;
            *offset
        });
        let result = match offset {
            Some(offset) => json!({"offset": offset, "epoch": self.epoch(channel)}),
            None => json!({}),
        };
        if let Some(key) = key {
            self.idempotent.insert(
                key,
                Remembered {
                    result: result.clone(),
                    until: now + self.idempotency_window,
                },
            );
        }
        self.publications.push(RecordedPublication {
            channel: channel.to_owned(),
            data,
            idempotency_key: request
                .get("idempotency_key")
                .and_then(Value::as_str)
                .map(str::to_owned),
            skip_history,
            offset,
        });
        Ok(result)
    }
}

/// A running fake. Dropping it stops the server.
pub struct FakeCentrifugo {
    url: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeCentrifugo {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl std::fmt::Debug for FakeCentrifugo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeCentrifugo")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn text(status: StatusCode, body: &str) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/plain; charset=utf-8")
        .body(body.to_owned())
}

fn json_ok(body: Value) -> Response {
    Response::builder()
        .content_type("application/json")
        .body(body.to_string())
}

fn error_json(code: u32, message: &str) -> Value {
    json!({"code": code, "message": message})
}

/// Centrifugo's three ways of passing the key.
fn authorized(req: &Request) -> bool {
    let header = req.header("x-api-key");
    let authorization = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("apikey "));
    let query = req
        .uri()
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("api_key="));
    [header, authorization, query].contains(&Some(API_KEY))
}

#[handler]
async fn api(
    Path(method): Path<String>,
    req: &Request,
    body: Vec<u8>,
    Data(state): Data<&Shared>,
) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let (delay, failure) = {
        let mut state = state.lock().unwrap();
        state.calls.push(RecordedCall {
            method: method.clone(),
            body: parsed.clone().unwrap_or(Value::Null),
        });
        let failure = if state.down {
            Some(Failure::unavailable())
        } else {
            state.failures.pop_front()
        };
        (state.delay, failure)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let api_failure = match failure {
        Some(Failure::Status(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return text(status, status.canonical_reason().unwrap_or("failure"));
        }
        Some(Failure::Api { code, message }) => Some(error_json(code, &message)),
        None => None,
    };
    if !authorized(req) {
        return text(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    if !matches!(method.as_str(), "publish" | "batch" | "info") {
        return text(StatusCode::NOT_FOUND, "404 page not found");
    }
    let Some(request) = parsed.filter(Value::is_object) else {
        return text(StatusCode::BAD_REQUEST, "Bad Request");
    };
    let mut state = state.lock().unwrap();
    match method.as_str() {
        "publish" => json_ok(match api_failure {
            Some(error) => json!({"error": error}),
            None => match state.publish(&request) {
                Ok(result) => json!({"result": result}),
                Err((code, message)) => json!({"error": error_json(code, message)}),
            },
        }),
        "batch" => {
            let Some(commands) = request.get("commands").and_then(Value::as_array) else {
                return text(StatusCode::BAD_REQUEST, "Bad Request");
            };
            let replies: Vec<Value> = commands
                .iter()
                .map(|command| match (&api_failure, command.get("publish")) {
                    (Some(error), _) => json!({"error": error}),
                    (None, Some(publish)) => match state.publish(publish) {
                        Ok(result) => json!({"publish": result}),
                        Err((code, message)) => json!({"error": error_json(code, message)}),
                    },
                    (None, None) => json!({"error": error_json(104, "method not found")}),
                })
                .collect();
            json_ok(json!({"replies": replies}))
        }
        _ => json_ok(match api_failure {
            Some(error) => json!({"error": error}),
            None => json!({"result": {"nodes": [{
                "uid": format!("fake-{:016x}", state.seed),
                "name": "fake-centrifugo",
                "version": "6.0.0-fake",
                "num_clients": 0,
                "num_users": 0,
                "num_channels": state.offsets.len(),
                "num_subs": 0,
                "uptime": state.started.elapsed().as_secs(),
            }]}}),
        }),
    }
}

impl FakeCentrifugo {
    /// Starts a server on `127.0.0.1:<random port>` in a task of the current Tokio runtime.
    pub async fn start() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        let state = Arc::new(Mutex::new(State {
            publications: Vec::new(),
            calls: Vec::new(),
            down: false,
            failures: VecDeque::new(),
            delay: Duration::ZERO,
            namespaces: None,
            history: true,
            idempotency_window: IDEMPOTENCY_WINDOW,
            idempotent: HashMap::new(),
            offsets: HashMap::new(),
            seed,
            started: Instant::now(),
        }));
        let app = Route::new()
            .at("/api/:method", poem::post(api))
            .data(state.clone());
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("the fake Centrifugo binds 127.0.0.1");
        let addr: SocketAddr = *acceptor.local_addr()[0]
            .as_socket_addr()
            .expect("a socket address");
        let server = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(app).await;
        });
        Self {
            url: format!("http://{addr}"),
            state,
            server,
        }
    }

    /// `http://127.0.0.1:<port>`: the value of `CENTRIFUGO_API_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The `--centrifugo-*` arguments of an app talking to this server.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--centrifugo-api-url".into(),
            self.url.clone(),
            "--centrifugo-api-key".into(),
            API_KEY.into(),
        ]
    }

    /// Settings pointing at this server.
    pub fn settings(&self) -> CentrifugoSettings {
        CentrifugoSettings {
            api_url: Some(self.url.clone()),
            api_key: Some(API_KEY.into()),
            ..CentrifugoSettings::default()
        }
    }

    /// A client of this server.
    pub fn client(&self) -> Centrifugo {
        Centrifugo::from_settings(&self.settings()).expect("the fake's settings are valid")
    }

    /// Every accepted publication, in order (duplicates dropped by idempotency key are not).
    pub fn publications(&self) -> Vec<RecordedPublication> {
        self.state().publications.clone()
    }

    /// The accepted publications into `channel`, in order.
    pub fn publications_on(&self, channel: &str) -> Vec<RecordedPublication> {
        self.state()
            .publications
            .iter()
            .filter(|p| p.channel == channel)
            .cloned()
            .collect()
    }

    /// Every request that reached the server, in order, refused ones included.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.state().calls.clone()
    }

    /// How many requests to `method` (`publish`, `batch`, `info`) reached the server.
    pub fn call_count(&self, method: &str) -> usize {
        self.state().calls.iter().filter(|c| c.method == method).count()
    }

    /// While down, every call answers `503` (and records nothing but the call).
    pub fn set_down(&self, down: bool) {
        self.state().down = down;
    }

    /// The next `calls` calls (of any method) fail with `failure`, after any already scripted.
    pub fn fail_next(&self, calls: usize, failure: Failure) {
        self.state().failures.extend(std::iter::repeat_n(failure, calls));
    }

    /// Every answer comes `delay` late (for timeouts).
    pub fn set_delay(&self, delay: Duration) {
        self.state().delay = delay;
    }

    /// Only channels of these namespaces (and channels without a namespace) exist from now
    /// on; others answer `102 unknown channel`.
    pub fn set_namespaces(&self, namespaces: &[&str]) {
        self.state().namespaces = Some(namespaces.iter().map(|n| (*n).to_owned()).collect());
    }

    /// Whether channels keep history (and so publications get an offset and epoch).
    pub fn set_history(&self, history: bool) {
        self.state().history = history;
    }

    /// How long an idempotency key is remembered from now on (default
    /// [`IDEMPOTENCY_WINDOW`]); already remembered keys keep their expiry.
    pub fn set_idempotency_window(&self, window: Duration) {
        self.state().idempotency_window = window;
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}
