//! For the legacy monitor's parallel and codependent parts: a step whose
//! output is kept aside and becomes its failure message.

use super::*;
use crate::logs::InstanceLog;
use std::sync::Arc;

pub struct OutputWrapper {
    pub inner: BoxStep,
    /// Where the inner step's output went.
    pub buffer: Arc<InstanceLog>,
}

#[async_trait]
impl Step for OutputWrapper {
    async fn run(
        self: Box<Self>,
        cancel: CancellationToken,
        ready: Ready,
    ) -> Result<(), StepError> {
        let Err(e) = self.inner.run(cancel, ready).await else {
            return Ok(());
        };
        let output: Vec<String> = self.buffer.lines().into_iter().map(|l| l.text).collect();
        let output = output.join("\n");
        let message = if output.trim().is_empty() {
            format!("Failed to invoke process: {e}")
        } else {
            output.trim().to_string()
        };
        Err(StepError::emittable_wrapping(message, e))
    }
}
