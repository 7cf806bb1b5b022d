//! The run step: a process in the container; cancelling it sends TERM, then
//! KILL after the graceful shutdown interval.

use super::*;
use crate::env::networking_env;
use crate::logs::LogStreamer;
use garden::{ProcessIo, ProcessSpec, Signal};
use models::resource_limits::OptionalNofile;
use models::RunAction;
use std::sync::Arc;
use std::time::Duration;

/// How long a KILLed process may take to be reported gone.
const EXIT_TIMEOUT: Duration = Duration::from_secs(1);

pub struct Run {
    ctx: Arc<StepContext>,
    model: RunAction,
    log: LogStreamer,
    suppress_exit_status: bool,
}

impl Run {
    pub fn new(
        ctx: Arc<StepContext>,
        model: RunAction,
        log: LogStreamer,
        suppress_exit_status: bool,
    ) -> Self {
        Self {
            ctx,
            model,
            log,
            suppress_exit_status,
        }
    }

    fn say(&self, message: &str) {
        if !self.model.suppress_log_output {
            self.log.out(message);
        }
    }

    /// Why the container may have failed, from the backend's events: it
    /// ran out of memory (Diego's reason), or used up its disk (ours:
    /// Garden reports no such event).
    async fn exhausted(&self) -> Vec<&'static str> {
        let Ok(info) = self.ctx.backend.info(&self.ctx.handle).await else {
            return Vec::new();
        };
        let mut why = Vec::new();
        if info
            .events
            .iter()
            .any(|e| e == "out of memory" || e == "Out of memory")
        {
            why.push("out of memory");
        }
        if info.events.iter().any(|e| e == garden::DISK_QUOTA_EXCEEDED) {
            why.push(garden::DISK_QUOTA_EXCEEDED);
        }
        why
    }
}

#[async_trait]
impl Step for Run {
    async fn run(
        self: Box<Self>,
        cancel: CancellationToken,
        mut ready: Ready,
    ) -> Result<(), StepError> {
        if cancel.is_cancelled() {
            return Err(StepError::Cancelled);
        }
        let mut env: Vec<String> = self
            .model
            .env
            .iter()
            .map(|e| format!("{}={}", e.name, e.value))
            .collect();
        env.extend(
            networking_env(
                &self.ctx.external_ip,
                &self.ctx.internal_ip,
                &self.ctx.ports,
            )
            .into_iter()
            .map(|(k, v)| format!("{k}={v}")),
        );
        let nofile = self
            .model
            .resource_limits
            .as_ref()
            .and_then(|r| r.optional_nofile)
            .map(|OptionalNofile::Nofile(n)| n);
        let io = if self.model.suppress_log_output {
            ProcessIo::default()
        } else {
            ProcessIo {
                stdin: None,
                stdout: Some(Box::new(self.log.stdout())),
                stderr: Some(Box::new(self.log.stderr())),
            }
        };
        let spec = ProcessSpec {
            path: self.model.path.clone(),
            args: self.model.args.clone(),
            env,
            dir: self.model.dir.clone(),
            user: self.model.user.clone(),
            nofile,
            ..Default::default()
        };
        let process = tokio::select! {
            p = self.ctx.backend.run(&self.ctx.handle, spec, io) => match p {
                Ok(p) => p,
                Err(e) => {
                    self.say(&format!("failed-creating-process: {e}"));
                    return Err(StepError::Failed(e.to_string()));
                }
            },
            _ = cancel.cancelled() => return Err(StepError::Cancelled),
        };
        ready.fire();

        let wait = process.wait();
        tokio::pin!(wait);
        let mut cancelled = false;
        let mut killed = false;
        let far = || tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
        let kill_at = tokio::time::sleep_until(far());
        tokio::pin!(kill_at);
        let give_up_at = tokio::time::sleep_until(far());
        tokio::pin!(give_up_at);
        let status = loop {
            tokio::select! {
                status = &mut wait => break status,
                _ = cancel.cancelled(), if !cancelled => {
                    cancelled = true;
                    if let Err(e) = process.signal(Signal::Terminate).await {
                        tracing::warn!(handle = %self.ctx.handle, "signalling terminate failed: {e}");
                    }
                    kill_at.as_mut().reset(tokio::time::Instant::now() + self.ctx.graceful_shutdown_interval);
                }
                _ = &mut kill_at, if cancelled && !killed => {
                    killed = true;
                    if let Err(e) = process.signal(Signal::Kill).await {
                        tracing::warn!(handle = %self.ctx.handle, "signalling kill failed: {e}");
                    }
                    give_up_at.as_mut().reset(tokio::time::Instant::now() + EXIT_TIMEOUT);
                }
                _ = &mut give_up_at, if killed => return Err(StepError::ExitTimeout),
            }
        };
        let status = status.map_err(|e| StepError::Failed(e.to_string()))?;

        let (mut message, mut emittable) = if self.suppress_exit_status {
            (String::new(), String::new())
        } else {
            (
                format!("Exit status {status}"),
                format!("{}: Exited with status {status}", self.log.source_name()),
            )
        };
        if killed {
            message = format!(
                "{message} (exceeded {} graceful shutdown interval)",
                go_duration(self.ctx.graceful_shutdown_interval)
            );
        }
        if status != 0 {
            for why in self.exhausted().await {
                message.push_str(&format!(" ({why})"));
                emittable.push_str(&format!(" ({why})"));
            }
        }
        self.say(&message);
        if killed {
            return Err(StepError::ExceededGracefulShutdownInterval);
        }
        if cancelled {
            return Err(StepError::Cancelled);
        }
        if status != 0 {
            return Err(StepError::emittable(emittable));
        }
        Ok(())
    }
}

use super::error::go_duration;
