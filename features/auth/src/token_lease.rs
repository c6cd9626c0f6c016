//! Spending a WorkOS refresh token without holding a lock across WorkOS.
//!
//! WorkOS refresh tokens are single use: a token refresh, entering another organization and
//! finishing a sign-up each send the stored token to WorkOS and store the one it returns. Two of
//! them at once would send the same token twice, and the second would end the session. So
//! whoever spends a row's token first takes the row's *lease* ([`Lease::take`], one short
//! statement), calls WorkOS holding no lock, transaction or pooled connection, and writes the
//! outcome in a transaction that first checks the lease is still theirs ([`Lease::finish`]).
//! Anyone else waits for the lease by polling ([`qubital_plugin::lease`]: a slow WorkOS stalls
//! only the requests of that one session, never a connection of the pool), and gets `409
//! session-busy` after [`WAIT`]. A holder that crashed leaves a lease that expires after [`TTL`].

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use qubital_plugin::{AppContext, Problem};
use uuid::Uuid;

use crate::{sessions::session_ended, sign_in::pending_invalid, store::leases};

pub use crate::store::leases::TokenHolder;

/// How long a lease lasts: longer than its holder's WorkOS calls can take (at most five in a row,
/// each cut off at `WORKOS_TIMEOUT_SECS`, 10 by default).
pub const TTL: Duration = Duration::from_secs(60);

/// How long a request waits for someone else's lease before answering `409 session-busy`.
pub const WAIT: Duration = Duration::from_secs(10);

/// A taken lease: the right to spend its row's refresh token until it is finished, released or
/// expired.
#[derive(Debug)]
pub struct Lease {
    id: Uuid,
    holder: TokenHolder,
    /// [`Lease::finish`] ended it (in a transaction that may still roll back).
    finished: AtomicBool,
}

impl Lease {
    /// Takes the lease of `holder`'s row, waiting (up to [`WAIT`]) while someone else holds it.
    /// A session that ended answers `session-ended`; a used or expired sign-up step
    /// `sign-in-step-invalid`.
    pub async fn take(ctx: &AppContext, holder: TokenHolder) -> Result<Lease, Problem> {
        let id = Uuid::new_v4();
        let claim = || async {
            if leases::claim(ctx.db(), &holder, id, TTL.as_secs_f64()).await? {
                return Ok(Some(()));
            }
            if !leases::is_live(ctx.db(), &holder).await? {
                return Err(gone(&holder));
            }
            Ok(None)
        };
        match qubital_plugin::lease::wait_for(WAIT, claim).await? {
            Some(()) => Ok(Lease {
                id,
                holder,
                finished: AtomicBool::new(false),
            }),
            None => Err(busy()),
        }
    }

    /// Ends the lease inside the transaction that writes what it bought (the row stays locked
    /// until that transaction ends). Refused when the row is no longer live, or the lease expired
    /// and someone else took it: the outcome must then not be written.
    pub async fn finish(&self, conn: &mut sqlx::PgConnection) -> Result<(), Problem> {
        if leases::finish(&mut *conn, &self.holder, self.id).await? {
            self.finished.store(true, Ordering::Relaxed);
            return Ok(());
        }
        if leases::is_live(&mut *conn, &self.holder).await? {
            Err(busy())
        } else {
            Err(gone(&self.holder))
        }
    }

    /// Gives the lease back after `outcome`, unless it succeeded through [`Lease::finish`] (whose
    /// transaction ended the lease): a failure, or a success that wrote nothing, should not make
    /// the next request wait for the lease to expire. Best effort: when the database is
    /// unreachable the lease expires on its own.
    pub async fn settle<T>(self, ctx: &AppContext, outcome: Result<T, Problem>) -> Result<T, Problem> {
        if outcome.is_err() || !self.finished.load(Ordering::Relaxed) {
            self.give_back(ctx).await;
        }
        outcome
    }

    /// Gives the lease back unused. Best effort, as in [`Lease::settle`].
    pub async fn give_back(self, ctx: &AppContext) {
        if let Err(error) = leases::release(ctx.db(), &self.holder, self.id).await {
            tracing::warn!(%error, "could not give a refresh-token lease back; it expires on its own");
        }
    }
}

fn gone(holder: &TokenHolder) -> Problem {
    match holder {
        TokenHolder::Session(_) => session_ended(),
        TokenHolder::SignUp(_) => pending_invalid(),
    }
}

fn busy() -> Problem {
    Problem::new(&qubital_plugin::problem::types::SESSION_BUSY).with_retry_after(1)
}
