//! The signed-in user ("me"): `/user/get` and `/user/update`.
//!
//! Profile data is per organization (display name, avatar live on the membership); first and
//! last name are global and kept in step with WorkOS for WorkOS users. The avatar's
//! `/user/avatar/*` operations are the uploads feature's (`qubital-uploads`, with the logo's:
//! one upload pattern, one bucket); the DTO's `avatarUrl` is what they set.
//!
//! The rows are `qubital_auth`'s (it owns the identity tables); this crate calls its store.

mod api;

use qubital_plugin::{Api, Feature};

qubital_plugin::inventory::submit! {
    Feature::new("users").apis(&[Api::of::<api::UserApi>()])
}
