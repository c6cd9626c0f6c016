//! The Qubital host: configuration, boot, HTTP surface, migrator and job runner.
//!
//! It names no feature. The feature crates enabled as Cargo features of this crate are linked in
//! by the generated file below (see `build.rs`), and everything else is found through
//! [`qubital_plugin::registered_features`].

pub mod app;
pub mod check;
pub mod cli;
pub mod config;
pub mod database;
pub mod housekeeping;
pub mod http;
pub mod jobs;
mod memory;
pub mod migrator;
pub mod telemetry;

// `extern crate` for every enabled feature crate, so that the linker keeps their registrations.
include!(concat!(env!("OUT_DIR"), "/linked_features.rs"));
