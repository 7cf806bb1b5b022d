//! A step cancelled when it runs longer than its timeout.

use super::error::go_duration;
use super::*;
use std::time::Duration;

pub struct Timeout {
    pub inner: BoxStep,
    pub timeout: Duration,
}

#[async_trait]
impl Step for Timeout {
    async fn run(
        self: Box<Self>,
        cancel: CancellationToken,
        ready: Ready,
    ) -> Result<(), StepError> {
        let inner_cancel = cancel.child_token();
        let run = self.inner.run(inner_cancel.clone(), ready);
        tokio::pin!(run);
        tokio::select! {
            r = &mut run => r,
            _ = tokio::time::sleep(self.timeout) => {
                inner_cancel.cancel();
                let inner = run.await;
                let mut message = format!("exceeded {} timeout", go_duration(self.timeout));
                if let Err(e @ StepError::Emittable { .. }) = &inner {
                    message.push_str("; ");
                    message.push_str(&e.to_string());
                }
                match inner {
                    Err(e) => Err(StepError::emittable_wrapping(message, e)),
                    Ok(()) => Err(StepError::emittable(message)),
                }
            }
        }
    }
}
