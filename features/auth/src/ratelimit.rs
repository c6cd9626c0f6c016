//! Rate limits of the sign-in operations: per client IP, and for Magic Auth per address (codes
//! emailed to it; attempts at its pending code), so neither a botnet nor one client can mail-bomb
//! an address or guess its code.
//!
//! Fixed one-minute windows counted in Postgres (`auth_rate_limits`), so the limit holds across
//! every replica; a cleanup job drops old windows.

use poem::Request;
use qubital_plugin::{AppContext, Problem};

use crate::{state::AuthState, store};

/// Magic Auth codes emailed to one address per minute, whoever asks.
pub const MAGIC_AUTH_SENDS_PER_EMAIL: i32 = 3;
/// Attempts at one address's Magic Auth code per minute, from anywhere (a 6-digit code then
/// takes years to guess).
pub const MAGIC_AUTH_ATTEMPTS_PER_EMAIL: i32 = 5;

/// Counts one Magic Auth send to `email`; 429 past [`MAGIC_AUTH_SENDS_PER_EMAIL`].
pub async fn magic_auth_send(ctx: &AppContext, email: &str) -> Result<(), Problem> {
    per_email(ctx, "magic-send", email, MAGIC_AUTH_SENDS_PER_EMAIL).await
}

/// Counts one attempt at `email`'s Magic Auth code; 429 past [`MAGIC_AUTH_ATTEMPTS_PER_EMAIL`].
pub async fn magic_auth_attempt(ctx: &AppContext, email: &str) -> Result<(), Problem> {
    per_email(ctx, "magic-attempt", email, MAGIC_AUTH_ATTEMPTS_PER_EMAIL).await
}

async fn per_email(ctx: &AppContext, kind: &str, email: &str, limit: i32) -> Result<(), Problem> {
    let email = email.trim().to_lowercase();
    let hits = store::rate_limits::hit(ctx.db(), &format!("{kind}:{email}")).await?;
    if hits > limit {
        tracing::warn!(kind, hits, "Magic Auth rate limit reached for an address");
        return Err(Problem::new(&qubital_plugin::problem::types::RATE_LIMITED)
            .with_retry_after(60)
            .with_detail("Too many sign-in codes for this address; try again in a minute."));
    }
    Ok(())
}

/// Counts one sign-in request from the caller's IP; 429 once the window's budget is spent.
pub async fn check(ctx: &AppContext, state: &AuthState, req: &Request) -> Result<(), Problem> {
    let Some(ip) = state.client_ip(req) else {
        return Ok(());
    };
    let hits = store::rate_limits::hit(ctx.db(), &format!("sign-in:{ip}")).await?;
    if hits as i64 > state.settings().sign_in_rate_limit as i64 {
        tracing::warn!(%ip, hits, "sign-in rate limit reached");
        return Err(Problem::new(&qubital_plugin::problem::types::RATE_LIMITED)
            .with_retry_after(60)
            .with_detail("Too many sign-in attempts from this address; try again in a minute."));
    }
    Ok(())
}
