//! The outermost middleware: request identity, the log span, error rendering and metrics.

use std::{
    collections::HashMap,
    sync::{Arc, OnceLock, RwLock},
    time::Instant,
};

use poem::{
    http::{HeaderValue, Method},
    Endpoint, IntoResponse, PathPattern, Request, Response,
};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, histogram::Histogram},
};
use qubital_plugin::request::{self, RequestInfo};
use tracing::{field::Empty, Instrument};

pub const REQUEST_ID_HEADER: &str = "x-request-id";
pub const TRACE_ID_HEADER: &str = "x-trace-id";

pub async fn surface<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    let started = Instant::now();
    let request_id = client_id(&req, REQUEST_ID_HEADER).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let trace_id =
        client_id(&req, TRACE_ID_HEADER).unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        trace_id = %trace_id,
        method = %method,
        path = %path,
        route = Empty,
        user_id = Empty,
        org_id = Empty,
    );
    let info = RequestInfo {
        request_id: request_id.clone(),
        path,
    };

    let mut response = request::scope(
        info,
        async {
            match next.call(req).await {
                Ok(response) => response.into_response(),
                Err(error) => {
                    let pattern = error.data::<PathPattern>().cloned();
                    let problem = super::problems::from_error(&error);
                    let mut response = poem::error::ResponseError::as_response(&problem);
                    if let Some(pattern) = pattern {
                        response.set_data(pattern);
                    }
                    response
                }
            }
        }
        .instrument(span.clone()),
    )
    .await;

    let pattern = response.data::<PathPattern>().map(|pattern| pattern.0.clone());
    let route: &str = match &pattern {
        Some(pattern) if !pattern.is_empty() => pattern,
        _ => "unmatched",
    };
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    span.record("route", route);
    // `request_id` rides on the event as well as on the span: an OTLP log record carries event
    // fields (and the trace context), not the fields of its enclosing spans.
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(
                %request_id,
                status,
                elapsed_ms = elapsed.as_millis() as u64,
                "request finished"
            );
        } else {
            tracing::info!(
                %request_id,
                status,
                elapsed_ms = elapsed.as_millis() as u64,
                "request finished"
            );
        }
    });
    let handles = metrics().handles(&method, route, status);
    handles.requests.inc();
    handles.duration.observe(elapsed.as_secs_f64());

    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(response)
}

/// A client-supplied id, if it is short and made of safe characters (it lands in logs).
fn client_id(req: &Request, header: &str) -> Option<String> {
    let value = req.headers().get(header)?.to_str().ok()?.trim();
    let acceptable = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    acceptable.then(|| value.to_owned())
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

struct Metrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<RequestLabels, Histogram>,
    /// The two series of each (method, route template, status) seen so far, so that recording a
    /// request allocates nothing and hashes no owned label strings once its series exist.
    resolved: RwLock<HashMap<(Method, u16), RouteHandles>>,
}

/// The series of each route template, for one method and status.
type RouteHandles = HashMap<Box<str>, Handles>;

/// One label set's series (handles share their values with the families).
#[derive(Clone)]
struct Handles {
    requests: Counter,
    duration: Histogram,
}

impl Metrics {
    fn handles(&self, method: &Method, route: &str, status: u16) -> Handles {
        // A method outside HTTP's own is one series, whatever the client made up.
        let method = match *method {
            Method::GET
            | Method::POST
            | Method::PUT
            | Method::DELETE
            | Method::PATCH
            | Method::HEAD
            | Method::OPTIONS => method.clone(),
            _ => Method::from_bytes(b"OTHER").expect("a valid method token"),
        };
        let key = (method.clone(), status);
        if let Some(handles) = self
            .resolved
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&key)
            .and_then(|routes| routes.get(route))
        {
            return handles.clone();
        }
        let labels = RequestLabels {
            method: method.to_string(),
            route: route.to_owned(),
            status,
        };
        let handles = Handles {
            requests: self.requests.get_or_create(&labels).clone(),
            duration: self.duration.get_or_create(&labels).clone(),
        };
        self.resolved
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(key)
            .or_default()
            .insert(route.into(), handles.clone());
        handles
    }
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let metrics = Metrics {
            resolved: RwLock::default(),
            requests: Family::default(),
            duration: Family::new_with_constructor(|| {
                Histogram::new([
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
            }),
        };
        qubital_plugin::metrics::register(
            "http_requests",
            "HTTP requests by route template and status",
            metrics.requests.clone(),
        );
        qubital_plugin::metrics::register(
            "http_request_duration_seconds",
            "HTTP request latency by route template and status",
            metrics.duration.clone(),
        );
        metrics
    })
}
