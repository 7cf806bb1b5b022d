//! Actions into steps (Diego's transformer, `stepFor`).

use super::*;
use crate::container::PortMapping;
use crate::download::Transfers;
use crate::logs::{InstanceLog, LogStreamer};
use garden::Backend;
use models::Action;
use std::sync::Arc;
use std::time::Duration;

/// What every step of one container needs.
pub struct StepContext {
    pub backend: Arc<dyn Backend>,
    pub handle: String,
    pub external_ip: String,
    pub internal_ip: String,
    pub ports: Vec<PortMapping>,
    /// Between TERM and KILL when a run step is cancelled.
    pub graceful_shutdown_interval: Duration,
    pub transfers: Arc<Transfers>,
}

/// The step for `action`.
pub fn step_for(
    ctx: &Arc<StepContext>,
    log: &LogStreamer,
    action: &Action,
) -> Result<BoxStep, StepError> {
    build(ctx, log, action, false)
}

/// The step for a legacy monitor action: exit statuses are left out of
/// run steps' messages, and the parts of a parallel or codependent action
/// fail with their own output instead of logging it.
pub fn monitor_step_for(
    ctx: &Arc<StepContext>,
    log: &LogStreamer,
    action: &Action,
) -> Result<BoxStep, StepError> {
    build(ctx, log, action, true)
}

fn build(
    ctx: &Arc<StepContext>,
    log: &LogStreamer,
    action: &Action,
    monitor: bool,
) -> Result<BoxStep, StepError> {
    let suppress_exit_status = monitor;
    let children = |actions: &[Action], log: &LogStreamer| {
        actions
            .iter()
            .map(|a| build(ctx, log, a, monitor))
            .collect::<Result<Vec<_>, _>>()
    };
    // Parallel and codependent parts of a monitor: output to a buffer.
    let wrapped_children = |actions: &[Action], log: &LogStreamer| {
        if !monitor {
            return children(actions, log);
        }
        actions
            .iter()
            .map(|a| -> Result<BoxStep, StepError> {
                let buffer = InstanceLog::new(1000);
                let inner = build(
                    ctx,
                    &LogStreamer::new(buffer.clone(), log.source_name()),
                    a,
                    monitor,
                )?;
                Ok(Box::new(OutputWrapper { inner, buffer }))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let inner = |a: &Option<Box<Action>>, log: &LogStreamer| match a {
        Some(a) => build(ctx, log, a, monitor),
        None => Err(StepError::Failed("action has no inner action".into())),
    };
    if let Some(run) = &action.run_action {
        return Ok(Box::new(Run::new(
            ctx.clone(),
            run.clone(),
            log.with_source(&run.log_source),
            suppress_exit_status,
        )));
    }
    if let Some(d) = &action.download_action {
        return Ok(Box::new(Download::new(
            ctx.clone(),
            d.clone(),
            log.with_source(&d.log_source),
        )));
    }
    if let Some(u) = &action.upload_action {
        return Ok(Box::new(Upload::new(
            ctx.clone(),
            u.clone(),
            log.with_source(&u.log_source),
        )));
    }
    if let Some(e) = &action.emit_progress_action {
        return Ok(Box::new(EmitProgress {
            inner: inner(&e.action, log)?,
            start_message: e.start_message.clone(),
            success_message: e.success_message.clone(),
            failure_message_prefix: e.failure_message_prefix.clone(),
            log: log.with_source(&e.log_source),
        }));
    }
    if let Some(t) = &action.timeout_action {
        let ms = if t.timeout_ms > 0 {
            t.timeout_ms as u64
        } else {
            (t.deprecated_timeout_ns.max(0) as u64) / 1_000_000
        };
        return Ok(Box::new(Timeout {
            inner: inner(&t.action, &log.with_source(&t.log_source))?,
            timeout: Duration::from_millis(ms),
        }));
    }
    if let Some(t) = &action.try_action {
        return Ok(Box::new(Try {
            inner: inner(&t.action, &log.with_source(&t.log_source))?,
        }));
    }
    if let Some(p) = &action.parallel_action {
        return Ok(Box::new(Parallel {
            steps: wrapped_children(&p.actions, &log.with_source(&p.log_source))?,
        }));
    }
    if let Some(c) = &action.codependent_action {
        return Ok(Box::new(Codependent {
            steps: wrapped_children(&c.actions, &log.with_source(&c.log_source))?,
            error_on_exit: true,
            cancel_others_on_exit: false,
        }));
    }
    if let Some(s) = &action.serial_action {
        return Ok(Box::new(Serial {
            steps: children(&s.actions, log)?,
        }));
    }
    Err(StepError::Failed("unknown action".into()))
}
