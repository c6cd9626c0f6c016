//! The providers this deployment offers, by name (the `{provider}` of the paths).
//!
//! A provider registers itself with a [`ProviderRegistration`] (an `inventory` item, as
//! features do): at boot, each registration builds its provider from the settings, or declines
//! (not configured). Google is registered here; another provider (Outlook) is one more
//! registration and one more [`CalendarProvider`] implementation, nothing else — the tests
//! register a second one this way.

use std::{collections::BTreeMap, sync::Arc};

use anyhow::Context;
use platform_calendar::{CalendarProvider, GoogleCalendar, GoogleCalendarSettings};
use qubital_plugin::Boot;

/// A provider shared by every request and job.
pub type SharedProvider = Arc<dyn CalendarProvider>;

/// Builds a provider from the boot's settings, or `None` when it is not configured.
pub type Build = fn(&Boot) -> anyhow::Result<Option<SharedProvider>>;

/// Builds one provider at boot. `build` answers `Ok(None)` when the deployment does not
/// configure it (its operations then answer `503 integration-disabled`).
pub struct ProviderRegistration {
    /// The provider's name, as [`CalendarProvider::name`] says it.
    pub name: &'static str,
    pub build: Build,
}

qubital_plugin::inventory::collect!(ProviderRegistration);

qubital_plugin::inventory::submit! {
    ProviderRegistration { name: platform_calendar::google::NAME, build: google }
}

/// Google Calendar, when its client id, secret and redirect URI are set (optional in every
/// environment: a deployment may offer no calendar).
fn google(boot: &Boot) -> anyhow::Result<Option<Arc<dyn CalendarProvider>>> {
    let settings = boot
        .get::<GoogleCalendarSettings>()
        .context("Google Calendar settings are registered")?;
    if let Some(missing) = settings.missing() {
        let any_set = [
            &settings.client_id,
            &settings.client_secret,
            &settings.redirect_uri,
        ]
        .iter()
        .any(|v| v.as_deref().is_some_and(|s| !s.trim().is_empty()));
        if any_set {
            anyhow::bail!(
                "{missing} is not set (Google Calendar needs the client id, secret and redirect URI)"
            );
        }
        tracing::info!("Google Calendar is not offered: {missing} is not set");
        return Ok(None);
    }
    let google =
        GoogleCalendar::from_settings(settings).context("the Google Calendar settings are not usable")?;
    Ok(Some(Arc::new(google)))
}

/// Every registered name, with the provider when this deployment configures it.
#[derive(Clone, Debug, Default)]
pub struct Providers {
    known: BTreeMap<&'static str, Option<Arc<dyn CalendarProvider>>>,
}

/// What a `{provider}` of a path names.
pub(crate) enum Lookup<'a> {
    Ready(&'a Arc<dyn CalendarProvider>),
    /// Known, not configured here.
    Disabled,
    Unknown,
}

impl Providers {
    /// Builds every registered provider.
    pub fn build(boot: &Boot) -> anyhow::Result<Self> {
        let mut known = BTreeMap::new();
        for registration in qubital_plugin::inventory::iter::<ProviderRegistration> {
            let provider = (registration.build)(boot)?;
            if let Some(provider) = &provider {
                anyhow::ensure!(
                    provider.name() == registration.name,
                    "the calendar provider registered as {} calls itself {}",
                    registration.name,
                    provider.name()
                );
            }
            anyhow::ensure!(
                known.insert(registration.name, provider).is_none(),
                "two calendar providers are registered as {}",
                registration.name
            );
        }
        Ok(Self { known })
    }

    pub(crate) fn lookup(&self, name: &str) -> Lookup<'_> {
        match self.known.get(name) {
            Some(Some(provider)) => Lookup::Ready(provider),
            Some(None) => Lookup::Disabled,
            None => Lookup::Unknown,
        }
    }

    /// The configured provider called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn CalendarProvider>> {
        self.known.get(name).and_then(Option::as_ref)
    }

    /// Whether any provider is configured.
    pub fn any(&self) -> bool {
        self.known.values().any(Option::is_some)
    }
}
