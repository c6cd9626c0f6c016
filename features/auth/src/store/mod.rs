//! The identity tables' SQL, as typed functions other crates call.

pub mod mirror;
