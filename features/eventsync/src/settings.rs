//! eventsync's settings, and its `init`: the webhook secret is required where the API runs.

use std::time::Duration;

use qubital_plugin::{Boot, SecretString};

#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "eventsync")]
pub struct EventsyncSettings {
    /// Events asked for per page of the WorkOS stream (1-100).
    #[arg(long = "eventsync-page-size", env = "EVENTSYNC_PAGE_SIZE", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub page_size: u32,

    /// Secret of the WorkOS webhook endpoint. Required in production; unset in development
    /// disables `/webhooks/workos` (503).
    #[arg(
        long = "workos-webhook-secret",
        env = "WORKOS_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    pub webhook_secret: Option<SecretString>,

    /// Largest accepted age (and clock skew) of a webhook signature, in seconds.
    #[arg(
        long = "workos-webhook-tolerance-secs",
        env = "WORKOS_WEBHOOK_TOLERANCE_SECS",
        default_value_t = 300
    )]
    pub webhook_tolerance_secs: u64,
}

impl EventsyncSettings {
    pub fn webhook_tolerance(&self) -> Duration {
        Duration::from_secs(self.webhook_tolerance_secs)
    }
}

/// Smallest accepted webhook secret, in bytes (WorkOS generates longer ones).
const MIN_WEBHOOK_SECRET_BYTES: usize = 16;

pub(crate) fn init(boot: &mut Boot) -> anyhow::Result<()> {
    let settings = boot
        .get::<EventsyncSettings>()
        .expect("registered by the feature");
    // The webhook is an API operation: only `serve` needs its secret.
    if boot.serves_api() {
        boot.environment.required_secret(
            "WORKOS_WEBHOOK_SECRET",
            &settings.webhook_secret,
            MIN_WEBHOOK_SECRET_BYTES,
            "/webhooks/workos answers 503",
        )?;
    }
    // Registers the series now, so `/metrics` shows them before the first event.
    crate::metrics::metrics();
    Ok(())
}
