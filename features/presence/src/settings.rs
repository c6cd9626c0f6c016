//! The presence feature's settings.

use std::time::Duration;

use anyhow::Context;
use qubital_plugin::Boot;

/// When a member without heartbeats goes offline.
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Presence")]
pub struct PresenceSettings {
    /// Seconds after the last heartbeat at which a member's automatic status becomes offline
    /// (clients send one every 30 s).
    #[arg(long = "presence-stale-secs", env = "PRESENCE_STALE_SECS", default_value_t = 90,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub stale_secs: u64,
}

/// What the presence operations and job need.
#[derive(Clone, Debug)]
pub struct PresenceState {
    pub stale_after: Duration,
}

pub(crate) fn init(boot: &mut Boot) -> anyhow::Result<()> {
    let settings = boot
        .get::<PresenceSettings>()
        .cloned()
        .context("presence settings are registered")?;
    boot.provide(PresenceState {
        stale_after: Duration::from_secs(settings.stale_secs),
    });
    Ok(())
}
