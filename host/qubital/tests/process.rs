//! The real binary as a process: trace export over OTLP, SIGTERM, the worker roles features
//! register.

use std::{
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use opentelemetry_proto::tonic::{
    collector::{logs::v1::ExportLogsServiceRequest, trace::v1::ExportTraceServiceRequest},
    common::v1::{any_value::Value, AnyValue},
};
use poem::{handler, listener::TcpListener, web::Data, Body, EndpointExt, Response, Route, Server};
use prost::Message;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qubital"));
    command
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .env("RUST_LOG", "info");
    for (key, value) in envs {
        command.env(key, value);
    }
    command.spawn().expect("start qubital")
}

async fn wait_until_ok(url: &str) {
    for _ in 0..200 {
        if let Ok(response) = reqwest::get(url).await {
            if response.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} never answered 200");
}

async fn terminate(mut child: Child) -> std::process::ExitStatus {
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap()
}

/// One export request: its path (`/v1/traces`, `/v1/logs`), content type and body.
type Export = (String, String, Vec<u8>);

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Export>>>);

#[handler]
async fn collect(req: &poem::Request, body: Body, received: Data<&Received>) -> Response {
    let path = req.uri().path().to_owned();
    let content_type = req.content_type().unwrap_or_default().to_owned();
    let body = body.into_vec().await.unwrap_or_default();
    received.0 .0.lock().unwrap().push((path, content_type, body));
    Response::builder()
        .content_type("application/x-protobuf")
        .body(Vec::<u8>::new())
}

#[tokio::test]
async fn spans_and_logs_are_exported_over_otlp_when_an_endpoint_is_set_and_sigterm_stops_cleanly() {
    let received = Received::default();
    let collector_port = free_port();
    let collector = Route::new()
        .at("/v1/traces", poem::post(collect))
        .at("/v1/logs", poem::post(collect))
        .data(received.clone());
    tokio::spawn(Server::new(TcpListener::bind(format!("127.0.0.1:{collector_port}"))).run(collector));

    let db = qubital_testkit::fresh_database().await;
    let port = free_port();
    let port_text = port.to_string();
    let endpoint = format!("http://127.0.0.1:{collector_port}");
    let server = spawn(
        &["serve", "--dev", "--port", &port_text, "--ops-port", "0"],
        &[
            ("DATABASE_URL", &db.url),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ],
    );
    wait_until_ok(&format!("http://127.0.0.1:{port}/healthz")).await;
    let request_id = "otlp-correlation-1";
    let answered = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .header("x-request-id", request_id)
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);
    let status = terminate(server).await;
    assert!(
        status.success(),
        "SIGTERM must stop the server cleanly: {status:?}"
    );

    let received = received.0.lock().unwrap();
    let contains = |body: &[u8], text: &str| body.windows(text.len()).any(|w| w == text.as_bytes());
    let traces: Vec<&Export> = received.iter().filter(|e| e.0 == "/v1/traces").collect();
    let logs: Vec<&Export> = received.iter().filter(|e| e.0 == "/v1/logs").collect();
    assert!(!traces.is_empty(), "no spans were exported");
    assert!(traces.iter().all(|e| e.1 == "application/x-protobuf"));
    assert!(
        traces.iter().any(|e| contains(&e.2, "request")),
        "the request span was not exported"
    );
    // The log record of that request, naming it, beside the spans.
    assert!(!logs.is_empty(), "no log records were exported");
    assert!(logs.iter().all(|e| e.1 == "application/x-protobuf"));
    assert!(
        logs.iter()
            .any(|e| contains(&e.2, "request finished") && contains(&e.2, request_id)),
        "the request's log record (with its request id) was not exported"
    );

    // Correlation: the log record carries the trace and span of the request's span.
    let request_spans: Vec<(Vec<u8>, Vec<u8>)> = traces
        .iter()
        .flat_map(|e| {
            ExportTraceServiceRequest::decode(e.2.as_slice())
                .unwrap()
                .resource_spans
        })
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .filter(|span| span.name == "request")
        .map(|span| (span.trace_id, span.span_id))
        .collect();
    let record = logs
        .iter()
        .flat_map(|e| ExportLogsServiceRequest::decode(e.2.as_slice()).unwrap().resource_logs)
        .flat_map(|r| r.scope_logs)
        .flat_map(|s| s.log_records)
        .find(|record| {
            record.attributes.iter().any(|a| {
                a.key == "request_id"
                    && matches!(&a.value, Some(AnyValue { value: Some(Value::StringValue(v)) }) if v == request_id)
            })
        })
        .expect("no log record with the request's request_id attribute");
    assert_eq!(record.trace_id.len(), 16, "the log record has no trace id");
    assert!(
        request_spans.contains(&(record.trace_id.clone(), record.span_id.clone())),
        "the log record's trace and span ({:?}, {:?}) are not a request span's: {request_spans:?}",
        record.trace_id,
        record.span_id
    );
}

/// Every worker role compiled into the binary is a subcommand that serves only the ops
/// endpoints, on its own port.
#[tokio::test]
async fn worker_roles_serve_only_the_ops_endpoints_on_their_own_port() {
    for role in qubital_plugin::registered_roles()
        .into_iter()
        .filter(|r| !r.serves_api())
    {
        worker_serves_only_ops(role.name).await;
    }
}

async fn worker_serves_only_ops(role: &str) {
    let db = qubital_testkit::fresh_database().await;
    let port = free_port();
    let port_text = port.to_string();
    let worker = spawn(
        &[role, "--dev", "--ops-port", &port_text],
        &[("DATABASE_URL", &db.url)],
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_until_ok(&format!("{base}/readyz")).await;
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(metrics.status(), 200);
    // No feature operation is served by the worker.
    let client = reqwest::Client::new();
    let operation = client
        .post(format!("{base}/user/get"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(operation.status(), 404);
    assert!(terminate(worker).await.success());
}

/// A rolling deploy as the load balancer sees it: load is running when SIGTERM arrives;
/// `/readyz` turns 503 while the listener still serves (the balancer's cue to stop routing
/// here), every request sent until then succeeds, and only then does the listener close.
#[tokio::test]
async fn sigterm_turns_readiness_off_before_the_listener_closes_and_fails_no_request() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let db = qubital_testkit::fresh_database().await;
    let port = free_port();
    let port_text = port.to_string();
    let server = spawn(
        &["serve", "--dev", "--port", &port_text, "--ops-port", "0"],
        &[
            ("DATABASE_URL", &db.url),
            ("SHUTDOWN_READINESS_DELAY_SECS", "1.5"),
        ],
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_until_ok(&format!("{base}/readyz")).await;

    // The balancer: routes traffic while the replica is ready.
    let routing = Arc::new(AtomicBool::new(true));
    let client = reqwest::Client::new();
    let load: Vec<_> = (0..8)
        .map(|_| {
            let (client, routing, url) = (client.clone(), routing.clone(), format!("{base}/healthz"));
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                while routing.load(Ordering::SeqCst) {
                    let outcome = client.get(&url).send().await.map(|r| r.status().as_u16());
                    outcomes.push(outcome.map_err(|e| e.to_string()));
                }
                outcomes
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };

    // Readiness turns off while the listener is still open (this very answer comes from it).
    let mut readiness_off = false;
    for _ in 0..100 {
        let ready = client.get(format!("{base}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status() == 503) {
            readiness_off = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(readiness_off, "/readyz never answered 503 after SIGTERM");
    // Requests are still served during the delay.
    let during = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(during.status(), 200);
    routing.store(false, Ordering::SeqCst);

    let mut sent = 0;
    for task in load {
        for outcome in task.await.unwrap() {
            sent += 1;
            assert_eq!(outcome, Ok(200), "a request failed during the rolling deploy");
        }
    }
    assert!(sent > 0, "no load was sent");
    let status = tokio::task::spawn_blocking(move || {
        let mut server = server;
        server.wait().unwrap()
    })
    .await
    .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "the listener is closed after the shutdown"
    );
}
