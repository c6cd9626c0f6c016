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
