//! The calendar feature's settings and what `init` makes of them: the configured providers
//! ([`Providers`]; Google's settings are `platform_calendar::GoogleCalendarSettings`, registered
//! by this feature), the join links' base and how often connections are synced.

use std::time::Duration;

use anyhow::Context;
use platform_calendar::Url;
use qubital_plugin::Boot;

use crate::providers::Providers;

/// Calendar settings.
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Calendar")]
pub struct CalendarSettings {
    /// Base URL of a space in the web app: an event's join link is this URL followed by the
    /// space id (`https://app.example.com/spaces/` → `https://app.example.com/spaces/<id>`).
    /// Required in production when a calendar provider is configured; unset in development
    /// disables creating events (503).
    #[arg(long = "calendar-join-url-base", env = "CALENDAR_JOIN_URL_BASE")]
    pub join_url_base: Option<String>,

    /// Seconds between two syncs of a connection (10..86400).
    #[arg(
        long = "calendar-sync-interval-secs",
        env = "CALENDAR_SYNC_INTERVAL_SECS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(10..=86_400)
    )]
    pub sync_interval_secs: u64,
}

/// What the calendar operations and the sync job need, built once at boot.
#[derive(Clone, Debug)]
pub struct CalendarState {
    pub providers: Providers,
    /// `None`: creating events is disabled (development without the setting).
    pub join_url_base: Option<Url>,
    pub sync_interval: Duration,
}

impl CalendarState {
    /// The join link of a space.
    pub fn join_url(&self, space_id: uuid::Uuid) -> Option<String> {
        self.join_url_base
            .as_ref()
            .map(|base| format!("{base}{space_id}"))
    }
}

pub(crate) fn init(boot: &mut Boot) -> anyhow::Result<()> {
    let settings = boot
        .get::<CalendarSettings>()
        .cloned()
        .context("calendar settings are registered")?;
    let providers = Providers::build(boot)?;
    let join_url_base = if providers.any() {
        boot.environment
            .required(
                "CALENDAR_JOIN_URL_BASE",
                &settings.join_url_base,
                "creating calendar events is disabled",
            )?
            .map(parse_base)
            .transpose()?
    } else {
        None
    };
    boot.provide(CalendarState {
        providers,
        join_url_base,
        sync_interval: Duration::from_secs(settings.sync_interval_secs),
    });
    Ok(())
}

fn parse_base(value: &str) -> anyhow::Result<Url> {
    let url = Url::parse(value).context("CALENDAR_JOIN_URL_BASE is not a URL")?;
    anyhow::ensure!(
        matches!(url.scheme(), "https" | "http") && url.host().is_some(),
        "CALENDAR_JOIN_URL_BASE must be an absolute http(s) URL"
    );
    Ok(url)
}
