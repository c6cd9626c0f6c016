//! The plugin contract between the Qubital host and its feature crates.
//!
//! A feature crate depends on this crate (never on the `qubital` binary crate) and registers
//! exactly one [`Feature`] with [`inventory::submit!`]. The host collects every registration at
//! start-up and turns them into one HTTP API, one migration plan and one job set:
//!
//! ```ignore
//! static MIGRATIONS: Migrator = qubital_plugin::sqlx::migrate!("../../migrations/notes");
//!
//! qubital_plugin::inventory::submit! {
//!     Feature::new("notes")
//!         .apis(&[Api::of::<api::NotesApi>()])
//!         .migrations(&MIGRATIONS)
//!         .tables(&[Table::kept("notes", "deleted with their organization")])
//!         .jobs(&[jobs::REINDEX])
//!         .settings(&[Settings::of::<settings::NotesSettings>()])
//!         .init(settings::init)
//! }
//! ```
//!
//! Besides that value, a feature declares its permissions ([`permissions!`]) and its problem
//! types ([`problem_types!`]); both are collected at link time for the generated docs.
//!
//! Everything in here is deliberately free of any particular feature's vocabulary.

pub mod auth;
pub mod cache;
mod context;
pub mod feature;
pub mod jobs;
pub mod lease;
pub mod list;
pub mod metrics;
pub mod payload;
pub mod probe;
pub mod problem;
pub mod request;
pub mod roles;
pub mod secret;
pub mod tables;
pub mod wire;

pub use context::{AppContext, Boot, Environment, MIN_PRODUCTION_SECRET_BYTES};
pub use feature::{Api, Feature, InitFn, Settings};
pub use jobs::{Job, JobContext, JobFn};
pub use list::{Page, PageInfo};
pub use payload::DirectJson;
pub use probe::{Probe, Probed};
pub use problem::{FieldError, Problem, ProblemType};
pub use roles::ProcessRole;
pub use secret::{ExposeSecret, SecretString};
pub use tables::{prune_expired, Retention, Table};

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

/// The registered feature called `name`, if it is compiled in.
pub fn registered_feature(name: &str) -> Option<&'static Feature> {
    inventory::iter::<Feature>.into_iter().find(|f| f.name == name)
}

/// Every process role of this binary: `serve`, then the roles features registered (by name).
pub fn registered_roles() -> Vec<ProcessRole> {
    let mut roles: Vec<ProcessRole> = registered_features()
        .into_iter()
        .flat_map(|f| f.roles.iter().copied())
        .collect();
    roles.sort_by_key(|r| r.name);
    roles.dedup();
    roles.insert(0, ProcessRole::SERVE);
    roles
}
