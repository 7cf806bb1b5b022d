//! The download step: fetch, then stream into the container at `to`.

use super::*;
use crate::download::byte_size;
use crate::logs::LogStreamer;
use models::DownloadAction;
use std::sync::Arc;

pub struct Download {
    ctx: Arc<StepContext>,
    model: DownloadAction,
    log: LogStreamer,
}

impl Download {
    pub fn new(ctx: Arc<StepContext>, model: DownloadAction, log: LogStreamer) -> Self {
        Self { ctx, model, log }
    }

    /// Progress lines appear only for named artifacts.
    fn say(&self, message: &str) {
        if !self.model.artifact.is_empty() {
            self.log.out(message);
        }
    }

    /// Errors go to stderr capped at 1 KiB.
    fn complain(&self, message: &str) {
        const MAX: usize = 1024;
        const MARK: &str = " (error truncated)";
        if message.len() > MAX {
            let mut cut = MAX - MARK.len();
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            self.log.err(&format!("{}{MARK}", &message[..cut]));
        } else {
            self.log.err(message);
        }
    }

    async fn perform(&self) -> Result<(), StepError> {
        let m = &self.model;
        self.say(&format!("Downloading {}...", m.artifact));
        let (fetched, size) = match self
            .ctx
            .transfers
            .fetch(
                &m.from,
                &m.cache_key,
                &m.checksum_algorithm,
                &m.checksum_value,
            )
            .await
        {
            Ok(f) => f,
            Err(e) => {
                let message = if m.artifact.is_empty() {
                    "Downloading failed".to_string()
                } else {
                    format!("Downloading {} failed", m.artifact)
                };
                tracing::info!(from = %m.from, "download failed: {e}");
                self.complain(&message);
                return Err(StepError::emittable_wrapping(message, StepError::Failed(e)));
            }
        };
        let streamed = async {
            let file = tokio::fs::File::open(fetched.path()).await?;
            self.ctx
                .backend
                .stream_in(&self.ctx.handle, &m.to, &m.user, Box::new(file))
                .await
        }
        .await;
        if let Err(e) = streamed {
            let message = if m.artifact.is_empty() {
                format!("Copying into the container failed: {e}")
            } else {
                format!("Copying {} into the container failed: {e}", m.artifact)
            };
            self.complain(&message);
            return Err(StepError::emittable_wrapping(
                message,
                StepError::Failed(e.to_string()),
            ));
        }
        if size != 0 {
            self.say(&format!("Downloaded {} ({})", m.artifact, byte_size(size)));
        } else {
            self.say(&format!("Downloaded {}", m.artifact));
        }
        Ok(())
    }
}

#[async_trait]
impl Step for Download {
    async fn run(
        self: Box<Self>,
        cancel: CancellationToken,
        mut ready: Ready,
    ) -> Result<(), StepError> {
        ready.fire();
        let _slot = tokio::select! {
            s = self.ctx.transfers.downloads.acquire() => s.map_err(|e| StepError::Failed(e.to_string()))?,
            _ = cancel.cancelled() => return Err(StepError::Cancelled),
        };
        tokio::select! {
            r = self.perform() => r,
            _ = cancel.cancelled() => Err(StepError::Cancelled),
        }
    }
}
