//! The plugin contract between the Qubital host and its feature crates.
//!
//! A feature crate depends on this crate (never on the `qubital` binary crate) and registers
//! exactly one [`Feature`] with [`inventory::submit!`]. The host collects every registration at
//! start-up and turns them into one HTTP API, one migration plan and one job set:
//!
//! ```ignore
//! static MIGRATIONS: qubital_plugin::Migrator = qubital_plugin::sqlx::migrate!("../../migrations/spaces");
//!
//! qubital_plugin::inventory::submit! {
//!     qubital_plugin::Feature::new("spaces")
//!         .api(qubital_plugin::Api::of::<SpacesApi>())
//!         .migrations(&MIGRATIONS)
//!         .jobs(&[qubital_plugin::Job::new("spaces.cleanup", ProcessRole::Serve, Duration::from_secs(60), cleanup)])
//! }
//! ```
//!
//! Everything in here is deliberately free of any particular feature's vocabulary.

pub mod auth;
mod context;
pub mod feature;
pub mod jobs;
pub mod metrics;
pub mod problem;
pub mod request;

pub use context::{AppContext, Boot, Environment};
pub use feature::{Api, Feature, InitFn, Settings};
pub use jobs::{prune_expired, Job, JobContext, ProcessRole};
pub use problem::{FieldError, Problem};

// Re-exported so that feature crates name the exact versions the host was built with.
pub use inventory;
pub use poem;
pub use poem_openapi;
pub use sqlx;
pub use sqlx::migrate::Migrator;

inventory::collect!(Feature);

/// Every feature registered in this binary, in a stable order (by name).
pub fn registered_features() -> Vec<&'static Feature> {
    let mut features: Vec<&'static Feature> = inventory::iter::<Feature>.into_iter().collect();
    features.sort_by_key(|f| f.name);
    features
}
