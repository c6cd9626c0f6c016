//! Rate limits: fixed one-minute windows counted in Postgres (`auth_rate_limits`), so a limit
//! holds across every replica; the housekeeping job drops old windows. The sign-in operations
//! are limited per client IP ([`check`]), and Magic Auth also per address (codes emailed to it;
//! attempts at its pending code), so neither a botnet nor one client can mail-bomb an address or
//! guess its code. Other features limit what they choose with [`limit`].

use poem::Request;
use qubital_plugin::{AppContext, Problem};

use crate::{state::AuthState, store};

/// Magic Auth codes emailed to one address per minute, whoever asks.
pub const MAGIC_AUTH_SENDS_PER_EMAIL: u32 = 3;
/// Attempts at one address's Magic Auth code per minute, from anywhere (a 6-digit code then
/// takes years to guess).
pub const MAGIC_AUTH_ATTEMPTS_PER_EMAIL: u32 = 5;

/// Counts one Magic Auth send to `email`; 429 past [`MAGIC_AUTH_SENDS_PER_EMAIL`].
pub async fn magic_auth_send(ctx: &AppContext, email: &str) -> Result<(), Problem> {
    per_email(ctx, "magic-send", email, MAGIC_AUTH_SENDS_PER_EMAIL).await
}

/// Counts one attempt at `email`'s Magic Auth code; 429 past [`MAGIC_AUTH_ATTEMPTS_PER_EMAIL`].
pub async fn magic_auth_attempt(ctx: &AppContext, email: &str) -> Result<(), Problem> {
    per_email(ctx, "magic-attempt", email, MAGIC_AUTH_ATTEMPTS_PER_EMAIL).await
}

async fn per_email(ctx: &AppContext, kind: &str, email: &str, per_minute: u32) -> Result<(), Problem> {
    let email = email.trim().to_lowercase();
    limit(
        ctx,
        &format!("{kind}:{email}"),
        per_minute,
        "Too many sign-in codes for this address; try again in a minute.",
    )
    .await
}

/// Counts one sign-in request from the caller's IP; 429 once the window's budget is spent.
pub(crate) async fn check(ctx: &AppContext, state: &AuthState, req: &Request) -> Result<(), Problem> {
    let Some(ip) = state.client_ip(req) else {
        return Ok(());
    };
    limit(
        ctx,
        &format!("sign-in:{ip}"),
        state.settings().sign_in_rate_limit,
        "Too many sign-in attempts from this address; try again in a minute.",
    )
    .await
}

/// Counts one request in `bucket` (a key naming what is limited and whose it is, prefixed by
/// the feature: `guest-join-ip:203.0.113.7`); `429 rate-limited` (with `Retry-After` and
/// `detail`) once more than `per_minute` were counted in the current minute.
pub async fn limit(ctx: &AppContext, bucket: &str, per_minute: u32, detail: &str) -> Result<(), Problem> {
    let hits = store::rate_limits::hit(ctx.db(), bucket).await?;
    if i64::from(hits) > i64::from(per_minute) {
        // The kind only: the rest of the bucket is an address or an email.
        let kind = bucket.split(':').next().unwrap_or_default();
        tracing::warn!(kind, hits, "rate limit reached");
        return Err(Problem::new(&qubital_plugin::problem::types::RATE_LIMITED)
            .with_retry_after(60)
            .with_detail(detail));
    }
    Ok(())
}
