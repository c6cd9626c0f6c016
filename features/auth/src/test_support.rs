//! Signing in, for integration tests of this and other features (Cargo feature `test-support`,
//! enabled from `[dev-dependencies]` only): the development sign-in through the real API,
//! giving a [`Client`] (`qubital_testkit::Client`) that holds the session cookie.

use qubital_testclient::Client;
use serde_json::json;

pub use qubital_testclient::{problem_type, read};

/// Signs in through the development sign-in (`/auth/dev/sign-in`) of the app at `base`
/// (`TestApp::address`): the user `email` becomes a member of `organization` (created if new)
/// with `role`. The client's `user` is the User DTO.
pub async fn sign_in(base: &str, email: &str, organization: &str, role: &str) -> Client {
    let mut client = Client::new(base);
    client.user = client
        .ok(
            "/auth/dev/sign-in",
            json!({"email": email, "organizationName": organization, "role": role}),
        )
        .await;
    client
}
