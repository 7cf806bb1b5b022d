//! When a crashed instance may be restarted: a few immediate restarts,
//! then exponential back-off from 30 s, capped, up to a maximum count.

use std::time::Duration;

pub const DEFAULT_IMMEDIATE_RESTARTS: i32 = 3;
pub const DEFAULT_MAX_BACKOFF_DURATION: Duration = Duration::from_secs(16 * 60);
pub const DEFAULT_MAX_RESTARTS: i32 = 200;
pub const CRASH_BACKOFF_MIN_DURATION: Duration = Duration::from_secs(30);
/// A crash after running this long resets the crash count to 1.
pub const CRASH_RESET_TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartCalculator {
    pub immediate_restarts: i32,
    pub max_backoff_count: i32,
    pub max_backoff_duration: Duration,
    pub max_restart_attempts: i32,
}

impl Default for RestartCalculator {
    fn default() -> Self {
        Self::new(
            DEFAULT_IMMEDIATE_RESTARTS,
            DEFAULT_MAX_BACKOFF_DURATION,
            DEFAULT_MAX_RESTARTS,
        )
    }
}

impl RestartCalculator {
    pub fn new(immediate_restarts: i32, max_backoff_duration: Duration, max_restarts: i32) -> Self {
        // floor(log2(ceil(max / min))): how many doublings fit under the cap.
        let steps = (max_backoff_duration.as_nanos() as f64
            / CRASH_BACKOFF_MIN_DURATION.as_nanos() as f64)
            .ceil();
        let max_backoff_count = if steps >= 1.0 {
            steps.log2().floor() as i32
        } else {
            0
        };
        Self {
            immediate_restarts,
            max_backoff_count,
            max_backoff_duration,
            max_restart_attempts: max_restarts,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.max_backoff_duration < CRASH_BACKOFF_MIN_DURATION {
            return Err(format!(
                "MaxBackoffDuration '{:?}' must be larger than CrashBackoffMinDuration '{:?}'",
                self.max_backoff_duration, CRASH_BACKOFF_MIN_DURATION
            ));
        }
        Ok(())
    }

    /// The wait after the crash that made `crash_count`, before a restart.
    pub fn backoff(&self, crash_count: i32) -> Duration {
        if crash_count < self.immediate_restarts {
            return Duration::ZERO;
        }
        let exponent = (crash_count - self.immediate_restarts).clamp(0, self.max_backoff_count);
        let d = CRASH_BACKOFF_MIN_DURATION * (1u32 << exponent.min(30));
        d.min(self.max_backoff_duration)
    }

    /// Times in Unix nanoseconds.
    pub fn should_restart(&self, now_ns: i64, crashed_at_ns: i64, crash_count: i32) -> bool {
        if crash_count < self.immediate_restarts {
            return true;
        }
        if crash_count < self.max_restart_attempts {
            let next = crashed_at_ns + self.backoff(crash_count).as_nanos() as i64;
            return next <= now_ns;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn two_immediate_restarts_then_backoff_doubling_to_sixteen_minutes() {
        let c = RestartCalculator::default();
        assert_eq!(c.max_backoff_count, 5);
        assert!(c.should_restart(0, 0, 0));
        assert!(c.should_restart(0, 0, 1));
        assert!(c.should_restart(0, 0, 2));
        let expect: [(i32, i64); 8] = [
            (3, 30),
            (4, 60),
            (5, 120),
            (6, 240),
            (7, 480),
            (8, 960),
            (9, 960),
            (50, 960),
        ];
        for (count, secs) in expect {
            assert_eq!(
                c.backoff(count),
                Duration::from_secs(secs as u64),
                "count {count}"
            );
            let crashed = 1_000 * S;
            assert!(!c.should_restart(crashed + secs * S - 1, crashed, count));
            assert!(c.should_restart(crashed + secs * S, crashed, count));
        }
    }

    #[test]
    fn no_restarts_at_max_attempts() {
        let c = RestartCalculator::default();
        assert!(c.should_restart(i64::MAX / 2, 0, 199));
        assert!(!c.should_restart(i64::MAX / 2, 0, 200));
    }

    #[test]
    fn rejects_cap_below_minimum() {
        let c = RestartCalculator::new(3, Duration::from_secs(10), 200);
        assert!(c.validate().is_err());
    }
}
