//! What every test file needs: a connected account and local times.
// Each test file uses its own share of these helpers.
#![allow(dead_code)]

use chrono::{DateTime, FixedOffset, TimeZone};
use platform_calendar::{fake::FakeGoogle, CalendarProvider, Pkce, Tokens};

/// The whole consent dance for the fake's signed-in user.
pub async fn connect(google: &FakeGoogle, provider: &dyn CalendarProvider) -> Tokens {
    let pkce = Pkce::generate();
    let url = provider.authorization_url("state", &pkce.challenge, provider.redirect_uri());
    let code = google
        .authorize(url.as_str())
        .expect("the consent screen approves")
        .code;
    provider
        .exchange_code(&code, &pkce.verifier, provider.redirect_uri())
        .await
        .expect("the code exchange succeeds")
}

/// A wall-clock time in Paris in winter (UTC+1).
pub fn paris(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<FixedOffset> {
    FixedOffset::east_opt(3600)
        .unwrap()
        .with_ymd_and_hms(year, month, day, hour, minute, 0)
        .unwrap()
}
