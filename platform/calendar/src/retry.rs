//! Retrying transient failures with exponential backoff, as Google asks of API clients (quota
//! errors and 5xx: "retry using truncated exponential backoff"), shared by every provider call.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

/// How often and how patiently a provider call is retried after a transient failure (a rate
/// limit, a 5xx, a connection that could not be made).
///
/// The n-th retry waits `base_delay * 2^(n-1)` plus up to `base_delay` of random jitter (so
/// that replicas throttled together do not retry together), capped at `max_delay`; a
/// `Retry-After` from the provider replaces that wait. A `Retry-After` longer than `max_delay`
/// ends the retries at once (the caller gets it in
/// [`CalendarError::RateLimited`](crate::CalendarError::RateLimited) and can schedule its next
/// run): a request handler should not sleep for minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 0.5 s doubling (0.5 + 1 + 2 + 4 s, under 8 s of waiting before giving up),
    /// waits capped at 32 s.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(32),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The default number of attempts with a tiny base delay: for tests.
    pub fn fast() -> Self {
        Self {
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_secs(2),
            ..Self::default()
        }
    }

    pub(crate) fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    /// The wait before retry number `retry` (1 for the first retry).
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exponential = self
            .base_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20));
        let base_ms = u64::try_from(self.base_delay.as_millis()).unwrap_or(u64::MAX);
        let jitter = Duration::from_millis(rand::thread_rng().gen_range(0..=base_ms));
        exponential.saturating_add(jitter).min(self.max_delay)
    }
}

/// A `Retry-After` header value: delay-seconds, or an HTTP-date (RFC 9110 §10.2.3) counted
/// from `now` (a date in the past means "now").
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) is a subset of RFC 2822's syntax.
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_bounded_jitter_and_a_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for _ in 0..50 {
            let first = policy.backoff(1);
            assert!((100..=200).contains(&first.as_millis()), "{first:?}");
            let third = policy.backoff(3);
            assert!((400..=500).contains(&third.as_millis()), "{third:?}");
            assert_eq!(policy.backoff(8), Duration::from_secs(1));
            assert_eq!(policy.backoff(u32::MAX), Duration::from_secs(1));
        }
        assert_eq!(RetryPolicy::never().attempts(), 1);
        assert_eq!(
            RetryPolicy {
                max_attempts: 0,
                ..RetryPolicy::default()
            }
            .attempts(),
            1
        );
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = DateTime::parse_from_rfc3339("1994-11-06T08:49:30Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }
}
