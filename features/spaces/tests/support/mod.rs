//! The spaces test steps, over `qubital_testkit::Client`s signed in with the identity feature's
//! `sign_in`.

#![allow(dead_code, unused_imports)] // each test binary uses part of it

pub use qubital_auth::test_support::{problem_type, sign_in};
pub use qubital_testkit::Client;
use serde_json::{json, Value};

/// Creates an office space named `name` in `client`'s organization; returns the Space.
pub async fn create_space(client: &Client, name: &str) -> Value {
    client
        .ok(
            "/spaces/create",
            json!({"name": name, "layout": "office", "dimension": "medium", "style": "modern"}),
        )
        .await
}

/// Creates a tag named `name` in `client`'s organization; returns its id.
pub async fn create_tag(client: &Client, name: &str) -> String {
    client.ok("/space-tags/create", json!({"name": name})).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}
