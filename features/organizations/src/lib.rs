//! Organizations, members, invitations and the invite link, kept in step with WorkOS.
//!
//! Every operation acts in the caller's current organization only: an id from another
//! organization answers 404. Write paths call WorkOS first (for mirrored organizations) and then
//! write locally in one transaction.

mod invitations;
mod members;
mod organizations;
mod permissions;
mod problems;

use qubital_plugin::{Api, Feature};

qubital_plugin::inventory::submit! {
    Feature::new("organizations").apis(&[
        Api::of::<organizations::OrganizationsApi>(),
        Api::of::<members::MembersApi>(),
        Api::of::<invitations::InvitationsApi>(),
    ])
}
