//! The committed spec is the code's spec, and the code follows the wire conventions.

use qubital_plugin::Environment;

const COMMITTED: &str = include_str!("../../../openapi/openapi.json");

#[test]
#[cfg_attr(
    not(all_default_features),
    ignore = "the committed spec describes the default feature set"
)]
fn the_committed_spec_matches_the_code() {
    let generated = qubital::http::openapi_spec(Environment::Production);
    assert!(
        COMMITTED.trim_end() == generated.trim_end(),
        "openapi/openapi.json is stale: run `cargo xtask openapi` and commit the result"
    );
}

/// Ops endpoints (the host's, and discovery documents under `/.well-known/`) are GETs; every
/// other operation is a POST on a path that ends in a verb.
#[test]
fn every_operation_follows_the_wire_conventions() {
    let spec: serde_json::Value =
        serde_json::from_str(&qubital::http::openapi_spec(Environment::Development)).unwrap();
    let ops = ["/healthz", "/readyz"];
    for (path, operations) in spec["paths"].as_object().expect("the spec has paths") {
        let methods: Vec<&String> = operations.as_object().unwrap().keys().collect();
        if ops.contains(&path.as_str()) || path.starts_with("/.well-known/") {
            assert_eq!(methods, ["get"], "{path}");
            continue;
        }
        assert_eq!(methods, ["post"], "{path} must be a single POST");
        let last = path.rsplit('/').next().unwrap();
        assert!(
            !last.starts_with('{') && !last.is_empty(),
            "{path} must end in an explicit verb"
        );
        assert!(
            !path.starts_with("/api/") && !path.contains("/v1/"),
            "{path}: no URL versions"
        );
        let operation = &operations["post"];
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses
                .values()
                .any(|r| r["content"].get("application/problem+json").is_some()),
            "{path} documents no problem response"
        );
    }
}

/// Docs UIs and generated clients name an operation by its `summary`: a short title, with the
/// explanation in `description` (a doc comment's first paragraph is the summary).
#[test]
fn every_operation_has_a_short_summary_and_a_description() {
    let spec: serde_json::Value =
        serde_json::from_str(&qubital::http::openapi_spec(Environment::Development)).unwrap();
    let mut offences = Vec::new();
    for (path, operations) in spec["paths"].as_object().expect("the spec has paths") {
        for (method, operation) in operations.as_object().unwrap() {
            let summary = operation["summary"].as_str().unwrap_or_default();
            let short = !summary.is_empty() && summary.chars().count() <= 60 && !summary.contains('\n');
            if !short || summary.ends_with('.') {
                offences.push(format!("{method} {path}: summary {summary:?}"));
            }
            if operation["description"]
                .as_str()
                .unwrap_or_default()
                .trim()
                .is_empty()
            {
                offences.push(format!("{method} {path}: no description"));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "operations without a short title: {offences:#?}"
    );
}
