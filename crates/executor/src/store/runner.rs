//! A container's whole step tree (Diego's `StepsRunner`): setup, then the
//! action alongside its health checks.

use crate::checks::{self, CheckConfig, StepFactory};
use crate::container::RunInfo;
use crate::logs::LogStreamer;
use crate::steps::{
    monitor_step_for, step_for, BoxStep, Codependent, Serial, StepContext, StepError,
};
use models::Action;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub(crate) struct Steps {
    pub root: BoxStep,
    /// Routability changes when the container has readiness checks.
    pub readiness: Option<mpsc::Receiver<bool>>,
}

pub(crate) fn build(
    ctx: &Arc<StepContext>,
    info: &RunInfo,
    log: &LogStreamer,
    cfg: &CheckConfig,
    http: &Arc<reqwest::Client>,
) -> Result<Steps, StepError> {
    let setup = info
        .setup
        .as_ref()
        .map(|a| step_for(ctx, log, a))
        .transpose()?;
    let action = info
        .action
        .as_ref()
        .ok_or_else(|| StepError::Failed("container cannot have empty action".into()))?;
    let mut long_lived = vec![step_for(ctx, log, action)?];
    let start_timeout = Duration::from_millis(info.start_timeout_ms);
    let mut readiness = None;
    if let Some(def) = &info.check_definition {
        if let Some(h) =
            checks::check_definition_step(def, &ctx.internal_ip, start_timeout, cfg, log, http)
        {
            long_lived.push(h);
        }
        let (tx, rx) = mpsc::channel(4);
        if let Some(r) = checks::readiness_step(def, &ctx.internal_ip, cfg, log, http, tx) {
            long_lived.push(r);
            readiness = Some(rx);
        }
    } else if let Some(monitor) = &info.monitor {
        let mut monitor = monitor.clone();
        // The monitor's output is always logged.
        unsuppress(&mut monitor);
        // Validate once so the factory cannot fail later.
        monitor_step_for(ctx, log, &monitor)?;
        let (step_ctx, step_log) = (ctx.clone(), log.clone());
        let create: StepFactory =
            Arc::new(move || monitor_step_for(&step_ctx, &step_log, &monitor));
        long_lived.push(checks::monitor_step(create, start_timeout, cfg, log));
    }
    let long_lived: BoxStep = if long_lived.len() > 1 {
        Box::new(Codependent {
            steps: long_lived,
            error_on_exit: false,
            cancel_others_on_exit: false,
        })
    } else {
        long_lived.pop().expect("the action")
    };
    let root = match setup {
        Some(s) => Box::new(Serial {
            steps: vec![s, long_lived],
        }),
        None => long_lived,
    };
    Ok(Steps { root, readiness })
}

fn unsuppress(action: &mut Action) {
    if let Some(r) = action.run_action.as_mut() {
        r.suppress_log_output = false;
    }
    let inner = [
        action
            .try_action
            .as_mut()
            .and_then(|a| a.action.as_deref_mut()),
        action
            .emit_progress_action
            .as_mut()
            .and_then(|a| a.action.as_deref_mut()),
        action
            .timeout_action
            .as_mut()
            .and_then(|a| a.action.as_deref_mut()),
    ];
    for a in inner.into_iter().flatten() {
        unsuppress(a);
    }
    let lists = [
        action.parallel_action.as_mut().map(|a| &mut a.actions),
        action.serial_action.as_mut().map(|a| &mut a.actions),
        action.codependent_action.as_mut().map(|a| &mut a.actions),
    ];
    for list in lists.into_iter().flatten() {
        list.iter_mut().for_each(unsuppress);
    }
}
