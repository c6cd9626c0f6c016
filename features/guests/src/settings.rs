//! The guests feature's settings (environment variables, also flags) and what `init` makes of
//! them.

use anyhow::{bail, Context};
use qubital_plugin::{Boot, Environment};

/// Where invitations point, and how often a guest may knock.
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Guests")]
pub struct GuestSettings {
    /// The web page a guest opens (`https://app.example.com/join`): an invitation's URL is this
    /// with `?space=<spaceId>&invite=<token>`. Required in production; development uses
    /// `http://localhost:3000/join`.
    #[arg(long = "guest-join-url", env = "GUEST_JOIN_URL")]
    pub join_url: Option<String>,

    /// `/guests/join` requests allowed per client IP per minute.
    #[arg(long = "guest-join-rate-limit-per-ip", env = "GUEST_JOIN_RATE_LIMIT_PER_IP", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub join_per_ip: u32,

    /// `/guests/join` requests allowed per invitation per minute (however many addresses they
    /// come from).
    #[arg(long = "guest-join-rate-limit-per-invite", env = "GUEST_JOIN_RATE_LIMIT_PER_INVITE", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub join_per_invite: u32,
}

/// The join page used in development when `GUEST_JOIN_URL` is unset.
const DEVELOPMENT_JOIN_URL: &str = "http://localhost:3000/join";

/// What the guest operations need, built once at boot.
#[derive(Clone, Debug)]
pub struct GuestState {
    /// The join page, without a query.
    pub join_url: String,
    pub join_per_ip: u32,
    pub join_per_invite: u32,
}

impl GuestState {
    /// From the settings: an absolute http(s) join URL without query or fragment (required in
    /// production).
    pub fn from_settings(environment: Environment, settings: &GuestSettings) -> anyhow::Result<Self> {
        let join_url = environment
            .required(
                "GUEST_JOIN_URL",
                &settings.join_url,
                "invitation URLs point at http://localhost:3000/join",
            )?
            .unwrap_or(DEVELOPMENT_JOIN_URL);
        if !(join_url.starts_with("https://") || join_url.starts_with("http://"))
            || join_url.contains(['?', '#'])
            || join_url.contains(char::is_whitespace)
        {
            bail!("GUEST_JOIN_URL must be an absolute http(s) URL without query or fragment");
        }
        Ok(Self {
            join_url: join_url.to_owned(),
            join_per_ip: settings.join_per_ip,
            join_per_invite: settings.join_per_invite,
        })
    }
}

pub(crate) fn init(boot: &mut Boot) -> anyhow::Result<()> {
    if !boot.serves_api() {
        return Ok(());
    }
    let settings = boot
        .get::<GuestSettings>()
        .cloned()
        .context("guest settings are registered")?;
    let state = GuestState::from_settings(boot.environment, &settings)?;
    boot.provide(state);
    Ok(())
}
