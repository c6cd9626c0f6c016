//! Per-IP rate limit of the sign-in operations.
//!
//! Fixed one-minute windows counted in Postgres (`auth_rate_limits`), so the limit holds across
//! every replica; a cleanup job drops old windows.

use poem::Request;
use qubital_plugin::{AppContext, Problem};

use crate::{state::AuthState, store};

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
