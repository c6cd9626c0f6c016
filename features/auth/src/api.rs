//! The identity operations: one `#[OpenApi]` type per resource.

mod auth;
mod dev;

pub use auth::AuthApi;
pub use dev::DevApi;
