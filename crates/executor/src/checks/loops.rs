//! Checks repeated over time, as steps: startup (until it passes or the
//! start timeout), liveness (until it fails), and readiness's two halves.

use super::probe::Probe;
use crate::steps::error::go_duration;
use crate::steps::{Ready, Step, StepError};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep, sleep_until, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Passes once the probe succeeds; fails after `start_timeout`.
    Startup { start_timeout: Duration },
    /// Fails when the probe fails.
    Liveness,
    /// Passes once the probe succeeds; never times out.
    UntilReady,
    /// Fails when the probe fails (readiness lost).
    UntilFailure,
}

pub struct CheckLoop {
    pub probe: Probe,
    pub kind: Kind,
    pub interval: Duration,
    pub ip: String,
    pub http: Arc<reqwest::Client>,
}

impl CheckLoop {
    async fn startup(
        &self,
        cancel: &CancellationToken,
        start_timeout: Duration,
    ) -> Result<(), StepError> {
        // 0: no limit.
        let deadline = (start_timeout > Duration::ZERO).then(|| Instant::now() + start_timeout);
        let at_deadline = || async move {
            match deadline {
                Some(d) => sleep_until(d).await,
                None => futures::future::pending().await,
            }
        };
        let mut last = String::new();
        let mut attempt = 0u64;
        loop {
            attempt += 1;
            let timed_out = |last: &str, attempt: u64| {
                StepError::emittable(format!(
                    "Timed out after {} ({attempt} attempts) waiting for startup check to succeed: {last}",
                    go_duration(start_timeout)
                ))
            };
            tokio::select! {
                r = self.probe.check(&self.ip, &self.http) => match r {
                    Ok(()) => return Ok(()),
                    Err(e) => last = e,
                },
                _ = at_deadline() => return Err(timed_out(&last, attempt)),
                _ = cancel.cancelled() => return Err(StepError::Cancelled),
            }
            tokio::select! {
                _ = sleep(self.interval) => {}
                _ = at_deadline() => return Err(timed_out(&last, attempt)),
                _ = cancel.cancelled() => return Err(StepError::Cancelled),
            }
        }
    }

    async fn repeat(
        &self,
        cancel: &CancellationToken,
        until_ok: bool,
        failure: &str,
    ) -> Result<(), StepError> {
        loop {
            let r = tokio::select! {
                r = self.probe.check(&self.ip, &self.http) => r,
                _ = cancel.cancelled() => return Err(StepError::Cancelled),
            };
            match r {
                Ok(()) if until_ok => return Ok(()),
                Err(e) if !until_ok => return Err(StepError::emittable(format!("{failure}: {e}"))),
                _ => {}
            }
            tokio::select! {
                _ = sleep(self.interval) => {}
                _ = cancel.cancelled() => return Err(StepError::Cancelled),
            }
        }
    }
}

#[async_trait]
impl Step for CheckLoop {
    async fn run(
        self: Box<Self>,
        cancel: CancellationToken,
        mut ready: Ready,
    ) -> Result<(), StepError> {
        ready.fire();
        match self.kind {
            Kind::Startup { start_timeout } => self.startup(&cancel, start_timeout).await,
            Kind::Liveness => {
                self.repeat(&cancel, false, "Liveness check unsuccessful")
                    .await
            }
            Kind::UntilReady => self.repeat(&cancel, true, "").await,
            Kind::UntilFailure => {
                self.repeat(&cancel, false, "Readiness check unsuccessful")
                    .await
            }
        }
    }
}
