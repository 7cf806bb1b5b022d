//! The upload step: the file at `from` in the container, POSTed to `to`
//! with its MD5 and SHA-256 (Diego's uploader).

use super::*;
use crate::download::byte_size;
use crate::logs::LogStreamer;
use base64::Engine;
use md5::Digest;
use models::UploadAction;
use std::io::Read;
use std::sync::Arc;

pub struct Upload {
    ctx: Arc<StepContext>,
    model: UploadAction,
    log: LogStreamer,
}

impl Upload {
    pub fn new(ctx: Arc<StepContext>, model: UploadAction, log: LogStreamer) -> Self {
        Self { ctx, model, log }
    }

    fn say(&self, message: &str) {
        if !self.model.artifact.is_empty() {
            self.log.out(message);
        }
    }

    /// "<what> for <artifact>", logged and returned.
    fn fail(&self, what: &str, cause: String) -> StepError {
        let message = if self.model.artifact.is_empty() {
            what.to_string()
        } else {
            format!("{what} for {}", self.model.artifact)
        };
        if !self.model.artifact.is_empty() {
            self.log.err(&message);
        }
        StepError::emittable_wrapping(message, StepError::Failed(cause))
    }

    async fn perform(&self) -> Result<(), StepError> {
        let m = &self.model;
        self.say(&format!("Uploading {}...", m.artifact));
        let url = reqwest::Url::parse(&m.to)
            .map_err(|e| self.fail("Failed to parse URL", e.to_string()))?;
        let tar = self
            .ctx
            .backend
            .stream_out(&self.ctx.handle, &m.from)
            .await
            .map_err(|e| self.fail("Failed to establish stream from container", e.to_string()))?;
        let payload = first_file(&tar)
            .map_err(|e| self.fail("Failed to find first item in tar stream", e))?;
        let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&payload));
        let sha256 =
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&payload));
        let size = payload.len() as u64;
        let resp = self
            .ctx
            .transfers
            .http
            .post(url)
            .header("Content-Type", "application/octet-stream")
            .header("Content-MD5", md5)
            .header("Content-Digest", format!("sha-256=:{sha256}:"))
            .body(payload)
            .send()
            .await;
        let failed = match resp {
            Ok(r) if r.status().as_u16() >= 400 => Some(format!(
                "Upload failed: Status code {}",
                r.status().as_u16()
            )),
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        };
        if let Some(cause) = failed {
            // The URL may carry credentials: it stays out of the message.
            return Err(self.fail("Failed to upload payload", cause));
        }
        self.say(&format!("Uploaded {} ({})", m.artifact, byte_size(size)));
        Ok(())
    }
}

/// The contents of the first entry of a tar.
fn first_file(tar: &[u8]) -> Result<Vec<u8>, String> {
    let mut archive = tar::Archive::new(tar);
    let mut entries = archive.entries().map_err(|e| e.to_string())?;
    let mut entry = entries
        .next()
        .ok_or_else(|| "empty tar stream".to_string())?
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    entry.read_to_end(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

#[async_trait]
impl Step for Upload {
    async fn run(
        self: Box<Self>,
        cancel: CancellationToken,
        mut ready: Ready,
    ) -> Result<(), StepError> {
        ready.fire();
        let _slot = tokio::select! {
            s = self.ctx.transfers.uploads.acquire() => s.map_err(|e| StepError::Failed(e.to_string()))?,
            _ = cancel.cancelled() => return Err(StepError::Cancelled),
        };
        tokio::select! {
            r = self.perform() => r,
            _ = cancel.cancelled() => Err(StepError::Cancelled),
        }
    }
}
