//! The process-wide Prometheus registry that `/metrics` renders.
//!
//! Features register their own series once (typically in their `init`) with [`register`].

use std::sync::{Mutex, OnceLock};

use prometheus_client::{
    encoding::text::encode,
    registry::{Metric, Registry},
};

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(Registry::with_prefix("qubital")))
}

/// Adds a metric to the registry. Names get the `qubital_` prefix.
///
/// Registering the same name twice (two apps in one test process) is harmless: the later metric
/// is rendered too, so tests should read values from their own handle rather than the text.
pub fn register(name: &str, help: &str, metric: impl Metric) {
    registry()
        .lock()
        .expect("metrics registry poisoned")
        .register(name, help, metric);
}

/// The registry in Prometheus text format.
pub fn render() -> String {
    let mut out = String::new();
    let registry = registry().lock().expect("metrics registry poisoned");
    encode(&mut out, &registry).expect("writing to a String cannot fail");
    out
}

/// Adds a collector whose series are computed when `/metrics` is scraped (e.g. a lag).
pub fn register_collector(collector: Box<dyn prometheus_client::collector::Collector>) {
    registry()
        .lock()
        .expect("metrics registry poisoned")
        .register_collector(collector);
}
