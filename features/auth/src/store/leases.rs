//! The `lease_id` / `lease_until` columns of `user_sessions` and `pending_sign_ins`: who may
//! spend the WorkOS refresh token a row holds (see `crate::token_lease`).

use sqlx::PgExecutor;
use uuid::Uuid;

use crate::crypto::handle_hash;

/// A row holding a WorkOS refresh token.
#[derive(Clone, Debug)]
pub enum TokenHolder {
    /// A live session (`user_sessions.session_id`).
    Session(Uuid),
    /// A live sign-up step, by its handle.
    SignUp(String),
}

impl TokenHolder {
    /// The table, the condition selecting the live row by `$1`, and `$1`'s value.
    fn target(&self) -> (&'static str, &'static str, Key) {
        match self {
            TokenHolder::Session(id) => (
                "user_sessions",
                "session_id = $1 AND ended_at IS NULL AND expires_at > now()",
                Key::Uuid(*id),
            ),
            TokenHolder::SignUp(handle) => (
                "pending_sign_ins",
                "handle_hash = $1 AND kind = 'sign-up' AND expires_at > now()",
                Key::Hash(handle_hash(handle)),
            ),
        }
    }
}

enum Key {
    Uuid(Uuid),
    Hash(Vec<u8>),
}

fn bind<'q>(
    query: sqlx::query::QueryScalar<'q, sqlx::Postgres, i32, sqlx::postgres::PgArguments>,
    key: Key,
) -> sqlx::query::QueryScalar<'q, sqlx::Postgres, i32, sqlx::postgres::PgArguments> {
    match key {
        Key::Uuid(id) => query.bind(id),
        Key::Hash(hash) => query.bind(hash),
    }
}

/// Takes the lease of a live row for `secs` seconds, unless someone else holds an unexpired
/// one: whether it was taken.
pub async fn claim<'e>(
    db: impl PgExecutor<'e>,
    holder: &TokenHolder,
    lease_id: Uuid,
    secs: f64,
) -> Result<bool, sqlx::Error> {
    let (table, live, key) = holder.target();
    // In READ COMMITTED a concurrent claim of the same row makes this one re-check the lease
    // condition against the row it committed, so two claims never both win.
    let sql = format!(
        "UPDATE {table} SET lease_id = $2, lease_until = now() + make_interval(secs => $3)
         WHERE {live} AND (lease_until IS NULL OR lease_until <= now())
         RETURNING 1"
    );
    let taken = bind(sqlx::query_scalar(&sql), key)
        .bind(lease_id)
        .bind(secs)
        .fetch_optional(db)
        .await?;
    Ok(taken.is_some())
}

/// Whether the row is live (a session not ended, a sign-up step not used or expired).
pub async fn is_live<'e>(db: impl PgExecutor<'e>, holder: &TokenHolder) -> Result<bool, sqlx::Error> {
    let (table, live, key) = holder.target();
    let sql = format!("SELECT 1 FROM {table} WHERE {live}");
    Ok(bind(sqlx::query_scalar(&sql), key)
        .fetch_optional(db)
        .await?
        .is_some())
}

/// Ends a lease in the transaction that writes its outcome: true when the row is still live and
/// the lease still `lease_id`'s (the row stays locked until that transaction ends).
pub async fn finish<'e>(
    db: impl PgExecutor<'e>,
    holder: &TokenHolder,
    lease_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let (table, live, key) = holder.target();
    let sql = format!(
        "UPDATE {table} SET lease_id = NULL, lease_until = NULL
         WHERE {live} AND lease_id = $2
         RETURNING 1"
    );
    let finished = bind(sqlx::query_scalar(&sql), key)
        .bind(lease_id)
        .fetch_optional(db)
        .await?;
    Ok(finished.is_some())
}

/// Gives a lease back early (its holder failed), if it is still `lease_id`'s.
pub async fn release<'e>(
    db: impl PgExecutor<'e>,
    holder: &TokenHolder,
    lease_id: Uuid,
) -> Result<(), sqlx::Error> {
    let (table, _, key) = holder.target();
    let key_only = match holder {
        TokenHolder::Session(_) => "session_id = $1",
        TokenHolder::SignUp(_) => "handle_hash = $1",
    };
    let sql = format!(
        "UPDATE {table} SET lease_id = NULL, lease_until = NULL
         WHERE {key_only} AND lease_id = $2
         RETURNING 1"
    );
    bind(sqlx::query_scalar(&sql), key)
        .bind(lease_id)
        .fetch_optional(db)
        .await?;
    Ok(())
}
