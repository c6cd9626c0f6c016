//! The chat feature's settings and what `init` makes of them. `CENTRIFUGO_*` (the server API,
//! `platform_centrifugo::CentrifugoSettings`) are registered here, once for the binary: chat's
//! relay is the one publisher (presence publishes through chat's outbox).

use anyhow::Context;
use platform_centrifugo::{Centrifugo, CentrifugoSettings};
use qubital_plugin::{Boot, Environment, ExposeSecret, SecretString};

use crate::metrics;

/// The internal subscribe-proxy endpoint's credential.
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "Chat")]
pub struct ChatSettings {
    /// Bearer token Centrifugo sends to the subscribe proxy (`POST
    /// /internal/centrifugo/subscribe`, set in Centrifugo's proxy `http_headers` / static
    /// headers), at least 32 characters. Unset: the endpoint refuses every call (503).
    #[arg(
        long = "centrifugo-proxy-token",
        env = "CENTRIFUGO_PROXY_TOKEN",
        hide_env_values = true
    )]
    pub proxy_token: Option<SecretString>,
}

/// Smallest accepted `CENTRIFUGO_PROXY_TOKEN`, in bytes.
const MIN_PROXY_TOKEN_BYTES: usize = 32;

/// What chat (and presence, through the outbox) need, built once at boot.
#[derive(Clone, Debug)]
pub struct ChatState {
    /// Disabled in development without `CENTRIFUGO_API_URL`: messages are stored, the relay
    /// idles, typing is not delivered.
    pub centrifugo: Centrifugo,
    /// `None`: the subscribe proxy answers 503.
    pub proxy_token: Option<SecretString>,
}

/// The state a process provides. Production refuses a missing Centrifugo setting (naming it);
/// development disables the fan-out with one warning; a process that serves no API needs none.
pub fn state(
    environment: Environment,
    serves_api: bool,
    centrifugo: &CentrifugoSettings,
    settings: &ChatSettings,
) -> anyhow::Result<ChatState> {
    let centrifugo = if !serves_api {
        Centrifugo::disabled()
    } else {
        match centrifugo.missing() {
            None => Centrifugo::from_settings(centrifugo)?,
            Some(variable) => {
                environment.required(
                    variable,
                    &None,
                    "chat messages and status changes are stored but not delivered live (the outbox relay idles)",
                )?;
                Centrifugo::disabled()
            }
        }
    };
    let proxy_token = environment
        .optional_secret(
            "CENTRIFUGO_PROXY_TOKEN",
            &settings.proxy_token,
            MIN_PROXY_TOKEN_BYTES,
        )?
        .map(|token| SecretString::from(token.expose_secret().trim()));
    Ok(ChatState {
        centrifugo,
        proxy_token,
    })
}

pub(crate) fn init(boot: &mut Boot) -> anyhow::Result<()> {
    let centrifugo = boot
        .get::<CentrifugoSettings>()
        .cloned()
        .context("Centrifugo settings are registered")?;
    let settings = boot
        .get::<ChatSettings>()
        .cloned()
        .context("chat settings are registered")?;
    let state = state(boot.environment, boot.serves_api(), &centrifugo, &settings)?;
    boot.provide(state);
    if boot.serves_api() {
        metrics::register();
    }
    Ok(())
}
