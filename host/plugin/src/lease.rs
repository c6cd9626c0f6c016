//! Waiting for a lease: the pattern features use instead of holding a row lock or an advisory
//! lock across a vendor call. A lease is a row (or columns) claimed with one statement that
//! succeeds only when the lease is free or expired; its holder calls the vendor holding no
//! connection, then ends the lease in the transaction that writes the outcome. Others wait
//! for it here, polling, so a slow vendor stalls only the requests that need the same lease,
//! never a pooled connection.

use std::{future::Future, time::Duration};

use tokio::time::{sleep, Instant};

/// The first pause between two attempts; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(10);
/// The longest pause between two attempts.
const MAX_PAUSE: Duration = Duration::from_millis(200);

/// Tries `claim` until it yields `Some`, pausing between attempts (10 ms, doubling to 200 ms),
/// for at most `wait`: `Ok(None)` when the time is up. An error of `claim` ends the wait.
pub async fn wait_for<T, E, F, Fut>(wait: Duration, mut claim: F) -> Result<Option<T>, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, E>>,
{
    let deadline = Instant::now() + wait;
    let mut pause = FIRST_PAUSE;
    loop {
        if let Some(claimed) = claim().await? {
            return Ok(Some(claimed));
        }
        if Instant::now() + pause > deadline {
            return Ok(None);
        }
        sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn it_polls_until_claimed_and_gives_up_at_the_deadline() {
        let mut attempts = 0;
        let claimed: Result<_, ()> = wait_for(Duration::from_millis(300), || {
            attempts += 1;
            let now = attempts;
            async move { Ok((now == 3).then_some(now)) }
        })
        .await;
        assert_eq!(claimed, Ok(Some(3)));

        let started = Instant::now();
        let never: Result<Option<()>, ()> = wait_for(Duration::from_millis(300), || async { Ok(None) }).await;
        assert_eq!(never, Ok(None));
        // Pauses of 10, 20, 40 and 80 ms; the next (160) would pass the deadline.
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert!(started.elapsed() < Duration::from_millis(300));

        let failed: Result<Option<()>, &str> =
            wait_for(Duration::from_millis(300), || async { Err("down") }).await;
        assert_eq!(failed, Err("down"));
    }
}
