//! The operations: one `#[OpenApi]` type per resource (each its own tag).

mod invitations;
mod members;
mod organizations;

pub use invitations::InvitationsApi;
pub use members::MembersApi;
pub use organizations::{Organization, OrganizationsApi};
