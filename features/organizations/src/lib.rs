//! Organizations, members, invitations and the invite link, kept in step with WorkOS.
//!
//! Every operation acts in the caller's current organization only: an id from another
//! organization answers 404. Write paths call WorkOS first (for mirrored organizations) and then
//! write locally in one transaction.
//!
//! The rows are `qubital_auth`'s (it owns the identity tables): this crate calls its store, and
//! its `enter` flows for creating, accepting an invitation and joining by link. Removing a
//! member disconnects them from the organization's conferences (`conference.rs`).
//!
//! # API boundary
//!
//! The uploads feature (the organization's logo) calls: [`Organization`], the DTO its logo
//! operations answer, and [`permissions`] (`ManageOrganization`).

mod api;
mod conference;
pub mod permissions;
mod problems;

pub use api::Organization;
use qubital_plugin::{Api, Feature};

qubital_plugin::inventory::submit! {
    Feature::new("organizations").apis(&[
        Api::of::<api::OrganizationsApi>(),
        Api::of::<api::MembersApi>(),
        Api::of::<api::InvitationsApi>(),
    ])
}
