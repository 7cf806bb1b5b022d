//! The health check step: startup checks until healthy (the container
//! becomes ready, i.e. running), then liveness checks until one fails. Its
//! failures are the crash reasons Diego reports.

use crate::logs::LogStreamer;
use crate::steps::error::go_duration;
use crate::steps::{BoxStep, Ready, Step, StepError};
use async_trait::async_trait;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

pub struct HealthCheck {
    pub startup: BoxStep,
    pub liveness: BoxStep,
    /// The instance's log.
    pub log: LogStreamer,
    /// Where check failures are written (source `HEALTH` by default).
    pub health_log: LogStreamer,
}

#[async_trait]
impl Step for HealthCheck {
    async fn run(
        self: Box<Self>,
        cancel: CancellationToken,
        mut ready: Ready,
    ) -> Result<(), StepError> {
        self.log.out("Starting health monitoring of container");
        let started = Instant::now();
        match self.startup.run(cancel.clone(), Ready::none()).await {
            Ok(()) => {}
            Err(StepError::Cancelled) => return Err(StepError::Cancelled),
            Err(_) if cancel.is_cancelled() => return Err(StepError::Cancelled),
            Err(e) => {
                // Diego rounds the time taken to milliseconds.
                let micros = started.elapsed().as_micros() as u64;
                let took = std::time::Duration::from_millis((micros + 500) / 1000);
                let took = go_duration(took);
                self.health_log.err(&e.to_string());
                self.log.err(&format!(
                    "Failed after {took}: startup health check never passed."
                ));
                return Err(StepError::emittable_wrapping(
                    format!("Instance never healthy after {took}: {e}"),
                    e,
                ));
            }
        }
        self.log.out("Container became healthy");
        ready.fire();
        match self.liveness.run(cancel.clone(), Ready::none()).await {
            Err(e) if !cancel.is_cancelled() && !e.is_cancelled() => {
                self.health_log.err(&e.to_string());
                self.log.err("Container became unhealthy");
                Err(StepError::emittable_wrapping(
                    format!("Instance became unhealthy: {e}"),
                    e,
                ))
            }
            _ => Err(StepError::Cancelled),
        }
    }
}
