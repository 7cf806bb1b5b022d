//! Readiness: until the checks pass the instance is not routable; after,
//! the first failure makes it unroutable again, and so on.

use crate::logs::LogStreamer;
use crate::steps::{BoxStep, Ready, Step, StepError};
use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub struct Readiness {
    /// Builds (a fresh) until-ready check and until-failure check.
    pub until_ready: Box<dyn Fn() -> BoxStep + Send + Sync>,
    pub until_failure: Box<dyn Fn() -> BoxStep + Send + Sync>,
    pub log: LogStreamer,
    /// true: ready (routable), false: not.
    pub changes: mpsc::Sender<bool>,
}

#[async_trait]
impl Step for Readiness {
    async fn run(
        self: Box<Self>,
        cancel: CancellationToken,
        mut ready: Ready,
    ) -> Result<(), StepError> {
        self.log
            .out("Starting readiness health monitoring of container");
        ready.fire();
        loop {
            if let Err(e) = (self.until_ready)()
                .run(cancel.clone(), Ready::none())
                .await
            {
                if !e.is_cancelled() {
                    self.log.out("Failed to run the readiness check");
                }
                return Err(e);
            }
            if self.changes.send(true).await.is_err() {
                return Err(StepError::Cancelled);
            }
            self.log.out("Container passed the readiness health check. Container marked ready and added to route pool.");
            match (self.until_failure)()
                .run(cancel.clone(), Ready::none())
                .await
            {
                Err(StepError::Cancelled) => return Err(StepError::Cancelled),
                Err(_) if cancel.is_cancelled() => return Err(StepError::Cancelled),
                Err(_) => {
                    if self.changes.send(false).await.is_err() {
                        return Err(StepError::Cancelled);
                    }
                    self.log.out("Container failed the readiness health check. Container marked not ready and removed from route pool.");
                }
                Ok(()) => {}
            }
        }
    }
}
