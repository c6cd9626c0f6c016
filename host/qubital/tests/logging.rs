//! Production logs: one JSON object per line, and every line of a request names the request.
//! (Its own test binary: the global logger can be installed once per process.)

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use poem_openapi::{payload::PlainText, OpenApi};
use qubital_plugin::{Api, Feature};
use qubital_testkit::TestApp;

#[derive(Default)]
struct LoggingApi;

#[OpenApi]
impl LoggingApi {
    #[oai(path = "/test/log/write", method = "post")]
    async fn write(&self) -> PlainText<&'static str> {
        let inner = tracing::info_span!("handler_work");
        inner.in_scope(|| tracing::info!(marker = "deep-inside", "work done"));
        PlainText("ok")
    }
}

qubital_plugin::inventory::submit! { Feature::new("logging-test").apis(&[Api::of::<LoggingApi>()]) }

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn production_logs_are_json_lines_carrying_the_request_id() {
    let captured = Captured::default();
    let settings = qubital::config::Config::parse_from(&[], ["qubital", "--environment", "production"])
        .unwrap()
        .host;
    let writer = captured.clone();
    let _guard = qubital::telemetry::init_with_writer(&settings, move || writer.clone()).unwrap();

    let app = TestApp::builder().spawn().await;
    let response = app
        .client
        .post(app.url("/test/log/write"))
        .header("x-request-id", "log-test-1")
        .header("x-trace-id", "trace-test-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    app.shutdown().await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}")))
        .collect();
    let of_request: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l.to_string().contains("log-test-1"))
        .collect();
    let deep = of_request
        .iter()
        .find(|l| l["marker"] == "deep-inside")
        .expect("the handler's line names the request");
    let request_span = deep["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "request")
        .unwrap();
    assert_eq!(request_span["request_id"], "log-test-1");
    assert_eq!(request_span["trace_id"], "trace-test-1");
    assert!(of_request
        .iter()
        .any(|l| l["message"] == "request finished" && l["status"] == 200));
}
