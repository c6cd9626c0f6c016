//! Logging and tracing, set up once per process.
//!
//! Development: coloured, human-readable lines. Production: one JSON object per line on stdout.
//! Either way, each line written while serving a request carries the request span's fields
//! (`request_id`, `trace_id`, and after authentication `user_id`, `org_id`). With
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans and log records are also exported over OTLP/HTTP
//! (`/v1/traces`, `/v1/logs`); a record written inside a span carries that span's OpenTelemetry
//! trace and span ids, so the collector links each log line to its trace.
//!
//! Lines are written to stdout by a dedicated thread (`tracing_appender::non_blocking`): a request
//! only formats its line and queues it, so a slow stdout (a pipe the platform reads late) does not
//! stall the request path. The queue is not lossy: when it is full (16k lines) loggers wait
//! rather than drop lines. [`TelemetryGuard`] flushes it when the process ends.

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::{logs::SdkLoggerProvider, trace::SdkTracerProvider, Resource};
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

use crate::config::HostSettings;

/// Flushes exported spans and log records when dropped; keep it alive for the life of the
/// process.
pub struct TelemetryGuard {
    traces: Option<SdkTracerProvider>,
    logs: Option<SdkLoggerProvider>,
    /// Dropped last (fields drop in order): the exporters' own shutdown may still log.
    _stdout: Option<tracing_appender::non_blocking::WorkerGuard>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(traces) = self.traces.take() {
            if let Err(error) = traces.shutdown() {
                eprintln!("trace export did not flush: {error}");
            }
        }
        if let Some(logs) = self.logs.take() {
            if let Err(error) = logs.shutdown() {
                eprintln!("log export did not flush: {error}");
            }
        }
    }
}

pub fn init(settings: &HostSettings) -> anyhow::Result<TelemetryGuard> {
    let (stdout, flush) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        // The queue's slots are allocated up front: 16k lines (seconds of logging at full load)
        // cost 0.5 MiB where the default 128k costs 4 MiB resident.
        .buffered_lines_limit(16_384)
        .thread_name("qubital-log-writer")
        .finish(std::io::stdout());
    let mut guard = init_with_writer(settings, stdout)?;
    guard._stdout = Some(flush);
    Ok(guard)
}

/// [`init`], writing log lines to `writer` instead of stdout (tests capture them this way).
pub fn init_with_writer<W>(settings: &HostSettings, writer: W) -> anyhow::Result<TelemetryGuard>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(&settings.log_filter)
        .with_context(|| format!("RUST_LOG: `{}` is not a valid log filter", settings.log_filter))?;

    let fmt = if settings.environment().is_development() {
        tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_writer(writer)
            .boxed()
    } else {
        // `spans` carries every enclosing span's fields, so a line logged deep inside a request
        // still has the request span's `request_id` and `trace_id`.
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .with_writer(writer)
            .boxed()
    };

    let (traces, logs) = match &settings.otel_endpoint {
        Some(endpoint) => {
            let resource = Resource::builder()
                .with_service_name(settings.otel_service_name.clone())
                .build();
            (
                Some(otlp_traces(endpoint, resource.clone())?),
                Some(otlp_logs(endpoint, resource)?),
            )
        }
        None => (None, None),
    };
    // Context activation (entering a span makes its OpenTelemetry context current) is what gives
    // an exported log record the trace and span it was logged in: the log bridge reads the
    // current context. Tested by `tests/process.rs`.
    let otel_traces = traces.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("qubital"))
            .with_context_activation(true)
    });
    // The exporter's own HTTP stack logs through `tracing` too: exporting those records would
    // feed the exporter its own traffic.
    let otel_logs = logs.as_ref().map(|provider| {
        OpenTelemetryTracingBridge::new(provider).with_filter(
            EnvFilter::new("trace")
                .add_directive("hyper=off".parse().expect("a directive"))
                .add_directive("hyper_util=off".parse().expect("a directive"))
                .add_directive("reqwest=off".parse().expect("a directive"))
                .add_directive("h2=off".parse().expect("a directive"))
                .add_directive("opentelemetry=off".parse().expect("a directive"))
                .add_directive("opentelemetry_sdk=off".parse().expect("a directive"))
                .add_directive("opentelemetry_otlp=off".parse().expect("a directive")),
        )
    });

    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel_traces)
        .with(otel_logs)
        .try_init()
        .context("a global logger was already installed")?;
    Ok(TelemetryGuard {
        traces,
        logs,
        _stdout: None,
    })
}

fn otlp_url(endpoint: &str, signal: &str) -> String {
    format!("{}/v1/{signal}", endpoint.trim_end_matches('/'))
}

fn otlp_traces(endpoint: &str, resource: Resource) -> anyhow::Result<SdkTracerProvider> {
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(otlp_url(endpoint, "traces"))
        .build()
        .context("OTEL_EXPORTER_OTLP_ENDPOINT: cannot build the OTLP span exporter")?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

fn otlp_logs(endpoint: &str, resource: Resource) -> anyhow::Result<SdkLoggerProvider> {
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_endpoint(otlp_url(endpoint, "logs"))
        .build()
        .context("OTEL_EXPORTER_OTLP_ENDPOINT: cannot build the OTLP log exporter")?;
    Ok(SdkLoggerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}
