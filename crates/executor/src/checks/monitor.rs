//! The legacy monitor action: an action run again and again, first every
//! unhealthy interval until it succeeds (within the start timeout), then
//! every healthy interval until it fails.

use crate::steps::{BoxStep, Ready, Step, StepError};
use async_trait::async_trait;
use std::time::Duration;
use tokio::time::{sleep, Instant};
use tokio_util::sync::CancellationToken;

pub type StepFactory = std::sync::Arc<dyn Fn() -> Result<BoxStep, StepError> + Send + Sync>;

/// Repeats until the step succeeds; fails with its last error once
/// `timeout` (0: none) has passed.
pub struct EventuallySucceeds {
    pub create: StepFactory,
    pub interval: Duration,
    pub timeout: Duration,
}

#[async_trait]
impl Step for EventuallySucceeds {
    async fn run(
        self: Box<Self>,
        cancel: CancellationToken,
        mut ready: Ready,
    ) -> Result<(), StepError> {
        ready.fire();
        let start = Instant::now();
        loop {
            tokio::select! {
                _ = sleep(self.interval) => {}
                _ = cancel.cancelled() => return Err(StepError::Cancelled),
            }
            let err = match (self.create)()?.run(cancel.clone(), Ready::none()).await {
                Ok(()) => return Ok(()),
                Err(e) if cancel.is_cancelled() => return Err(e),
                Err(e) => e,
            };
            if self.timeout > Duration::ZERO && start.elapsed() > self.timeout {
                return Err(err);
            }
        }
    }
}

/// Repeats every interval until the step fails.
pub struct ConsistentlySucceeds {
    pub create: StepFactory,
    pub interval: Duration,
}

#[async_trait]
impl Step for ConsistentlySucceeds {
    async fn run(
        self: Box<Self>,
        cancel: CancellationToken,
        mut ready: Ready,
    ) -> Result<(), StepError> {
        ready.fire();
        loop {
            tokio::select! {
                _ = sleep(self.interval) => {}
                _ = cancel.cancelled() => return Err(StepError::Cancelled),
            }
            (self.create)()?.run(cancel.clone(), Ready::none()).await?;
        }
    }
}
