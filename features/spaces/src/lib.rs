//! Spaces: the persistent 2D environments of an organization (table `rooms`), the
//! server-authored set of valid layout/dimension/style combinations, and tags.
//!
//! Every operation acts inside the caller's current organization; a space or tag of another
//! organization is `404` (or an unknown tag, `422`), never visible. Decisions are written down
//! in `docs/spaces-and-realtime.md`.
//!
//! # API boundary
//!
//! Other features reach spaces through these (over a declared Cargo dependency), never through
//! the tables:
//!
//! - [`find_in_organization`]: a space of the caller's organization by its wire id, as a
//!   [`SpaceRef`] (wire id, internal id, organization, name) — for anything a caller asks
//!   (realtime's conference token, recordings' start and presence);
//! - [`cached_in_organization`]: the same, from a cache of at most `SPACE_CACHE_SECS` (the
//!   conference token; see [`cache`]);
//! - [`find`]: a space in whichever organization owns it — only for trusted service callers
//!   that check membership themselves (the Worker-facing endpoints);
//! - [`occupancy`]: who is in each space's conference (written by recordings, read by
//!   organizations);
//! - [`permissions`]: `ListRooms` also admits to a space's conference.

mod api;
pub mod cache;
pub mod occupancy;
pub mod permissions;
pub mod problems;
mod store;
mod validate;

use qubital_plugin::{Api, Feature, Migrator, Settings, Table};

pub use cache::cached_in_organization;
pub use store::{find, find_in_organization, SpaceRef};

static MIGRATIONS: Migrator = qubital_plugin::sqlx::migrate!("../../migrations/spaces");

qubital_plugin::inventory::submit! {
    Feature::new("spaces")
        .apis(&[
            Api::of::<api::SpacesApi>(),
            Api::of::<api::SpaceLayoutsApi>(),
            Api::of::<api::SpaceTagsApi>(),
        ])
        .migrations(&MIGRATIONS)
        .settings(&[Settings::of::<cache::SpaceCacheSettings>()])
        .init(cache::init)
        .jobs(&[cache::SPACE_CHANGES])
        .tables(&[
            Table::kept("rooms", "deleted by their organization's admins, or with the organization"),
            Table::kept("room_tags", "deleted by their organization's moderators, or with the organization"),
            Table::kept("room_tag_assignments", "at most 20 per space, deleted with the space or the tag"),
            Table::kept("valid_room_combinations", "a fixed set written by migrations"),
            Table::pruned(
                "space_occupants",
                "NOT present AND changed_at < now() - interval '7 days'",
                "a departed occupant's row only orders late conference news, which arrives within minutes",
            ),
        ])
}
