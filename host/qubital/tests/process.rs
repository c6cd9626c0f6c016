//! The real binary as a process: trace export over OTLP, SIGTERM, the worker roles features
//! register.

use std::{
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use poem::{handler, listener::TcpListener, web::Data, Body, EndpointExt, Response, Route, Server};

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

/// One export request: its content type and body.
type Export = (String, Vec<u8>);

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Export>>>);

#[handler]
async fn collect(req: &poem::Request, body: Body, received: Data<&Received>) -> Response {
    let content_type = req.content_type().unwrap_or_default().to_owned();
    let body = body.into_vec().await.unwrap_or_default();
    received.0 .0.lock().unwrap().push((content_type, body));
    Response::builder()
        .content_type("application/x-protobuf")
        .body(Vec::<u8>::new())
}

#[tokio::test]
async fn spans_are_exported_over_otlp_when_an_endpoint_is_set_and_sigterm_stops_cleanly() {
    let received = Received::default();
    let collector_port = free_port();
    let collector = Route::new()
        .at("/v1/traces", poem::post(collect))
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
    let status = terminate(server).await;
    assert!(
        status.success(),
        "SIGTERM must stop the server cleanly: {status:?}"
    );

    let received = received.0.lock().unwrap();
    assert!(!received.is_empty(), "no spans were exported");
    let (content_type, body) = &received[0];
    assert_eq!(content_type, "application/x-protobuf");
    assert!(
        body.windows(b"request".len()).any(|w| w == b"request"),
        "the request span was not exported"
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
