//! Spaces: the persistent 2D environments of an organization (table `rooms`), the
//! server-authored set of valid layout/dimension/style combinations, and tags.
//!
//! Every operation acts inside the caller's current organization; a space or tag of another
//! organization is `404` (or an unknown tag, `422`), never visible. Decisions are written down
//! in `docs/spaces-and-realtime.md`.
//!
//! Other features reach spaces through [`store`] and [`occupancy`] (declared Cargo dependency),
//! never through the tables.

pub mod api;
pub mod occupancy;
pub mod store;
mod validate;

pub use store::SpaceRef;

static MIGRATIONS: qubital_plugin::Migrator = qubital_plugin::sqlx::migrate!("../../migrations/spaces");

qubital_plugin::inventory::submit! {
    qubital_plugin::Feature::new("spaces")
        .apis(&[qubital_plugin::Api::of::<api::SpacesApi>()])
        .migrations(&MIGRATIONS)
        .jobs(&[occupancy::HOUSEKEEPING])
}
