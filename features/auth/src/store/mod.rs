//! Every SQL statement on the identity tables, as typed functions returning typed rows.
//!
//! This crate owns the tables (`TABLES` in `lib.rs`); the users and organizations features, and
//! any other crate that needs to know who is a member of what, call these functions (or the
//! higher-level API built on them: [`crate::directory`], [`crate::sessions`], [`crate::enter`])
//! instead of naming a table.
//!
//! A function that runs one statement takes any executor (the pool, or `&mut *tx` inside a
//! transaction); one that runs several, or locks rows for the caller's transaction, takes
//! `&mut PgConnection`. Nothing here calls a vendor or knows about HTTP.

pub mod invitations;
pub mod leases;
pub mod memberships;
/// The WorkOS mirror's writes (newer-wins upserts and deletes), called by eventsync.
pub mod mirror;
pub mod organizations;
pub mod rate_limits;
pub mod sessions;
pub mod sign_in;
pub mod users;
