//! Realtime access: short-lived credentials for the realtime transports, and the endpoints the
//! office-router Worker calls.
//!
//! - the conference token of a space (LiveKit, through `platform-livekit`),
//! - the office-router connection token (RS256, 60 s) and its JWKS with key rotation,
//! - the Centrifugo connection token (HS256, identity channels only),
//! - `/worker/...`: may user U enter space S, describe member U of organization O — behind the
//!   Worker's own JWT (`workerAuth`).
//!
//! Decisions are written down in `docs/spaces-and-realtime.md`.
//!
//! # API boundary
//!
//! It registers the LiveKit settings (`LIVEKIT_*`, once for the whole binary) and provides, in
//! the app context, what other features take from there rather than configure again:
//!
//! - `platform_livekit::LiveKit`: the conference client (recordings, organizations);
//! - [`CentrifugoTokens`]: the Centrifugo HMAC signer (chat's subscribe tokens);
//! - [`WorkerVerifier`]: the office-router Worker's token check, behind [`WorkerAuth`].
//!
//! - [`conference::mint`]: a conference token for one space with the grants of a role, never
//!   outliving a given instant (the guests feature's admitted guests).
//!
//! [`settings`] builds that state ([`settings::build`]), and [`Keyring`] / [`RouterKeys`] are
//! the office-router signing keys (public for tests that verify tokens through the JWKS).

mod api;
pub mod centrifugo;
pub mod conference;
pub mod keys;
mod probes;
pub mod settings;
pub mod worker_auth;

use platform_livekit::LiveKitSettings;
use qubital_plugin::{Api, Feature, Settings};

pub use centrifugo::CentrifugoTokens;
pub use keys::{Keyring, RouterKeys};
pub use worker_auth::{WorkerAuth, WorkerVerifier};

qubital_plugin::inventory::submit! {
    Feature::new("realtime")
        .apis(&[Api::of::<api::RealtimeApi>(), Api::of::<api::WorkerApi>()])
        .settings(&[
            Settings::of::<LiveKitSettings>(),
            Settings::of::<settings::RealtimeSettings>(),
            Settings::of::<settings::WorkerAuthSettings>(),
        ])
        .probes(&[probes::LIVEKIT])
        .init(settings::init)
}
