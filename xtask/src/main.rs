//! Developer tasks, run as `cargo xtask <task>` (see `.cargo/config.toml`).

mod bench;
mod fakes;
mod migration;
mod openapi;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Qubital developer tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Write `openapi/openapi.json` from the code (or, with --check, fail when it differs).
    Openapi {
        /// Compare instead of writing; exit non-zero on drift.
        #[arg(long)]
        check: bool,
    },
    /// Migration helpers.
    Migration {
        #[command(subcommand)]
        action: migration::Action,
    },
    /// Measure the release server under concurrent load next to two ceilings (bare poem-openapi,
    /// pgbench -S), with its CPU and memory: see docs/performance.md.
    Bench(bench::Options),
    /// (Internal to `bench`.) A process the bench measures against: `poem` (the HTTP ceiling)
    /// or `centrifugo` (the fake the chat relay publishes to).
    #[command(hide = true)]
    BenchPeer(bench::peer::PeerOptions),
    /// Run every vendor's local fake and print the environment pointing `serve --dev` at them.
    Fakes(fakes::Options),
    /// Events applied per second by the WorkOS follower (release build, local fake).
    BenchEventsync {
        /// Changes to generate in the fake WorkOS (each is one event).
        #[arg(long, default_value_t = 5000)]
        events: usize,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Openapi { check } => openapi::run(check),
        Task::Migration { action } => migration::run(action),
        Task::Bench(options) => bench::run(options),
        Task::BenchPeer(options) => bench::peer::run(options),
        Task::Fakes(options) => fakes::run(options),
        Task::BenchEventsync { events } => {
            let status = cargo()
                .args([
                    "bench",
                    "--package",
                    "qubital-eventsync",
                    "--bench",
                    "follow",
                    "--",
                    &events.to_string(),
                ])
                .status()?;
            anyhow::ensure!(status.success(), "the eventsync benchmark failed");
            Ok(())
        }
    }
}

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

/// `cargo`, as the one that runs us.
pub fn cargo() -> std::process::Command {
    let mut command = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
    command
}
