//! Avatar and organization-logo uploads, in two steps: an *upload ticket* (a presigned `PUT`
//! for 120 s to a `tmp/` key the server chooses, signed for the declared content type and
//! size, at most 5 MiB), then *finalize* (the object is read back and checked from its bytes:
//! PNG, JPEG or WebP by its magic bytes, 16 to 4096 pixels a side; copied to a key the server
//! derives; its public URL set; the temporary object deleted). Tickets are rows of
//! `upload_tickets`, bound to the user, the organization and the kind of image, used once.
//! The `uploads.tmp_cleanup` job deletes what was never finalized. Decisions are written down
//! in `docs/uploads.md`.
//!
//! It owns `/user/avatar/*` and `/organizations/{id}/logo/*` (under the `User` and
//! `Organizations` tags): one pattern, one bucket, one ticket table. The avatar lives on the
//! membership row and the logo on the organization row, both `qubital_auth`'s
//! (`store::memberships::set_avatar_url`, `store::organizations::set_logo_url`); the logo
//! operations answer `qubital_organizations::Organization`, need its `ManageOrganization`, and
//! are audited through `qubital_audit`.
//!
//! # API boundary
//!
//! No other feature calls this one. Public for tests and operators: [`settings`], [`jobs`]
//! (one cleanup pass on demand), [`problems`].

mod api;
mod image;
pub mod jobs;
mod probes;
pub mod problems;
pub mod settings;
mod store;

use qubital_plugin::{Api, Feature, Migrator, Settings, Table};

static MIGRATIONS: Migrator = qubital_plugin::sqlx::migrate!("../../migrations/uploads");

qubital_plugin::inventory::submit! {
    Feature::new("uploads")
        .apis(&[Api::of::<api::AvatarApi>(), Api::of::<api::LogoApi>()])
        .migrations(&MIGRATIONS)
        .tables(&[Table::pruned(
            "upload_tickets",
            "expires_at < now() - interval '1 day'",
            "a ticket is finalized within minutes or never; for a day after it expired, finalize \
             still says it expired rather than that it is unknown",
        )])
        .settings(&[Settings::of::<settings::UploadSettings>()])
        .jobs(&[jobs::TMP_CLEANUP])
        .probes(&[probes::STORAGE])
        .init(settings::init)
}
