//! Logging and tracing, set up once per process.
//!
//! Development: coloured, human-readable lines. Production: one JSON object per line on stdout.
//! Either way, each line written while serving a request carries the request span's fields
//! (`request_id`, `trace_id`, and after authentication `user_id`, `org_id`). With
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are also exported over OTLP/HTTP.

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::{trace::SdkTracerProvider, Resource};
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

use crate::config::HostSettings;

/// Flushes exported spans when dropped; keep it alive for the life of the process.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(error) = provider.shutdown() {
                eprintln!("trace export did not flush: {error}");
            }
        }
    }
}

pub fn init(settings: &HostSettings) -> anyhow::Result<TelemetryGuard> {
    init_with_writer(settings, std::io::stdout)
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

    let provider = match &settings.otel_endpoint {
        Some(endpoint) => Some(otlp_provider(endpoint, &settings.otel_service_name)?),
        None => None,
    };
    let otel = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("qubital")));

    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()
        .context("a global logger was already installed")?;
    Ok(TelemetryGuard { provider })
}

fn otlp_provider(endpoint: &str, service_name: &str) -> anyhow::Result<SdkTracerProvider> {
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()
        .context("OTEL_EXPORTER_OTLP_ENDPOINT: cannot build the OTLP exporter")?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service_name.to_owned())
                .build(),
        )
        .build())
}
