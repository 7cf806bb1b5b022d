//! Messages in the instance's log around a step (staging's "Downloading
//! app package...", "Uploading complete", ...).

use super::*;
use crate::logs::LogStreamer;

pub struct EmitProgress {
    pub inner: BoxStep,
    pub start_message: String,
    pub success_message: String,
    pub failure_message_prefix: String,
    pub log: LogStreamer,
}

#[async_trait]
impl Step for EmitProgress {
    async fn run(
        self: Box<Self>,
        cancel: CancellationToken,
        ready: Ready,
    ) -> Result<(), StepError> {
        if !self.start_message.is_empty() {
            self.log.out(&self.start_message);
        }
        let result = self.inner.run(cancel, ready).await;
        match &result {
            Err(e) if !self.failure_message_prefix.is_empty() => {
                let message = match e {
                    StepError::Emittable { message, .. } => {
                        format!("{}: {message}", self.failure_message_prefix)
                    }
                    _ => self.failure_message_prefix.clone(),
                };
                self.log.err(&message);
            }
            Ok(()) if !self.success_message.is_empty() => self.log.out(&self.success_message),
            _ => {}
        }
        result
    }
}
