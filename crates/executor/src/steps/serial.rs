//! Steps one after another; the first failure ends the sequence.

use super::*;

pub struct Serial {
    pub steps: Vec<BoxStep>,
}

#[async_trait]
impl Step for Serial {
    async fn run(
        self: Box<Self>,
        cancel: CancellationToken,
        ready: Ready,
    ) -> Result<(), StepError> {
        let last = self.steps.len().saturating_sub(1);
        // Ready when the last step is; an empty sequence is ready at once.
        let mut ready = Some(ready);
        if self.steps.is_empty() {
            if let Some(mut r) = ready.take() {
                r.fire();
            }
        }
        for (i, step) in self.steps.into_iter().enumerate() {
            let r = if i == last {
                ready.take().unwrap_or_else(Ready::none)
            } else {
                Ready::none()
            };
            step.run(cancel.clone(), r).await?;
            // Cancelled while that step ran and it still succeeded: the
            // rest does not start.
            if cancel.is_cancelled() && i != last {
                return Err(StepError::Cancelled);
            }
        }
        Ok(())
    }
}
