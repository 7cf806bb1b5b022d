//! A step whose failure is ignored.

use super::*;

pub struct Try {
    pub inner: BoxStep,
}

#[async_trait]
impl Step for Try {
    async fn run(
        self: Box<Self>,
        cancel: CancellationToken,
        ready: Ready,
    ) -> Result<(), StepError> {
        if let Err(e) = self.inner.run(cancel, ready).await {
            tracing::info!("try step failed (ignored): {e}");
        }
        Ok(())
    }
}
