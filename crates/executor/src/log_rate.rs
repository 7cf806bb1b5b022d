//! The log rate limit of an instance (Diego's `logRateLimiter`): at most
//! `bytes_per_second` bytes (the LRP's `log_rate_limit`; -1: unlimited, 0:
//! nothing at all) and `lines_per_second` lines (the operator's
//! `max_log_lines_per_second`; 0: unlimited), each a token bucket whose
//! burst is one second's worth. Going over logs "app instance exceeded log
//! rate limit ..." and drops every line for the next second, so the
//! message comes at most once a second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub bytes_per_second: i64,
    pub lines_per_second: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            bytes_per_second: -1,
            lines_per_second: 0,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Drop,
    /// Dropped; log this instead.
    Report(String),
}

/// golang.org/x/time/rate's limiter, as Diego uses it: starts full.
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: f64, now: Instant) -> Self {
        Self {
            rate,
            burst: rate,
            tokens: rate,
            at: now,
        }
    }

    fn allow(&mut self, n: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

pub struct RateLimiter {
    limits: RateLimits,
    bytes: Option<Bucket>,
    lines: Option<Bucket>,
    last_overage: Option<Instant>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        let now = Instant::now();
        Self {
            limits,
            bytes: (limits.bytes_per_second > 0)
                .then(|| Bucket::new(limits.bytes_per_second as f64, now)),
            lines: (limits.lines_per_second > 0)
                .then(|| Bucket::new(f64::from(limits.lines_per_second), now)),
            last_overage: None,
        }
    }

    pub fn check(&mut self, len: usize, now: Instant) -> Verdict {
        if self.limits.bytes_per_second == 0 {
            return Verdict::Drop;
        }
        if self
            .last_overage
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1))
        {
            return Verdict::Drop;
        }
        if let Some(b) = self.bytes.as_mut() {
            if !b.allow(len as f64, now) {
                self.last_overage = Some(now);
                return Verdict::Report(format!(
                    "app instance exceeded log rate limit ({} bytes/sec)",
                    self.limits.bytes_per_second
                ));
            }
        }
        if let Some(l) = self.lines.as_mut() {
            if !l.allow(1.0, now) {
                self.last_overage = Some(now);
                return Verdict::Report(format!(
                    "app instance exceeded log rate limit ({} log-lines/sec) set by platform operator",
                    self.limits.lines_per_second
                ));
            }
        }
        Verdict::Pass
    }
}

static EXCEEDED: AtomicU64 = AtomicU64::new(0);

/// Diego's `AppInstanceExceededLogRateLimitCount`, counted per cell and
/// sent with the cell's envelopes.
pub fn count_exceeded(shipping: Option<&crate::logs::Shipping>) {
    let total = EXCEEDED.fetch_add(1, Ordering::Relaxed) + 1;
    if let Some(s) = shipping {
        s.sender.send(logs_client::envelope::counter(
            s.sender.origin(),
            "AppInstanceExceededLogRateLimitCount",
            1,
            total,
            &Default::default(),
        ));
    }
}

/// How many times instances on this cell went over their limit.
pub fn exceeded_total() -> u64 {
    EXCEEDED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_over_the_limit_report_once_then_drop_for_a_second() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(RateLimits {
            bytes_per_second: 100,
            lines_per_second: 0,
        });
        for _ in 0..10 {
            assert_eq!(l.check(10, t0), Verdict::Pass);
        }
        assert_eq!(
            l.check(10, t0),
            Verdict::Report("app instance exceeded log rate limit (100 bytes/sec)".into())
        );
        assert_eq!(l.check(1, t0 + Duration::from_millis(500)), Verdict::Drop);
        // A second later the bucket has refilled.
        assert_eq!(l.check(10, t0 + Duration::from_millis(1001)), Verdict::Pass);
    }

    #[test]
    fn lines_are_capped_by_the_operator() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(RateLimits {
            bytes_per_second: -1,
            lines_per_second: 3,
        });
        for _ in 0..3 {
            assert_eq!(l.check(1000, t0), Verdict::Pass);
        }
        assert_eq!(
            l.check(1, t0),
            Verdict::Report(
                "app instance exceeded log rate limit (3 log-lines/sec) set by platform operator"
                    .into()
            )
        );
    }

    #[test]
    fn zero_bytes_allows_nothing_and_minus_one_everything() {
        let t0 = Instant::now();
        let mut none = RateLimiter::new(RateLimits {
            bytes_per_second: 0,
            lines_per_second: 0,
        });
        assert_eq!(none.check(1, t0), Verdict::Drop);
        let mut all = RateLimiter::new(RateLimits::default());
        for _ in 0..100_000 {
            assert_eq!(all.check(60 * 1024, t0), Verdict::Pass);
        }
    }
}
