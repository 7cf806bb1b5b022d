//! Running a created container's steps and following them to completion.

use super::runner;
use super::*;
use crate::logs::LogStreamer;
use crate::steps::{Ready, StepContext};

impl ContainerStore {
    /// Starts the container's steps. It becomes running when they are ready
    /// (the action started, startup checks passed) and completed when they
    /// end.
    pub fn run(&self, guid: &str) -> Result<(), ExecutorError> {
        let (container, log) = {
            let st = self.inner.state.lock().unwrap();
            let node = st.nodes.get(guid).ok_or(ExecutorError::ContainerNotFound)?;
            if node.container.state != State::Created {
                return Err(ExecutorError::InvalidTransition);
            }
            (node.container.clone(), node.log.clone())
        };
        let info = &container.run_info;
        let ctx = Arc::new(StepContext {
            backend: self.inner.backend.clone(),
            handle: guid.to_string(),
            external_ip: container.external_ip.clone(),
            internal_ip: container.internal_ip.clone(),
            ports: info.ports.clone(),
            graceful_shutdown_interval: self.inner.config.graceful_shutdown_interval,
            transfers: self.inner.transfers.clone(),
        });
        let streamer = LogStreamer::new(log, info.log_config.source_name());
        let steps = runner::build(
            &ctx,
            info,
            &streamer,
            &self.inner.config.checks,
            &self.inner.http,
        )
        .map_err(|e| ExecutorError::StepsInvalid(e.to_string()))?;

        let cancel = CancellationToken::new();
        let (finished_tx, finished_rx) = watch::channel(false);
        {
            let mut st = self.inner.state.lock().unwrap();
            let node = st
                .nodes
                .get_mut(guid)
                .ok_or(ExecutorError::ContainerNotFound)?;
            if node.container.run_result.stopped {
                cancel.cancel();
            }
            node.cancel = Some(cancel.clone());
            node.finished = Some(finished_rx);
        }
        let store = self.clone();
        let guid = guid.to_string();
        tokio::spawn(async move {
            store.follow(&guid, steps, cancel).await;
            let _ = finished_tx.send(true);
        });
        Ok(())
    }

    async fn follow(&self, guid: &str, steps: runner::Steps, cancel: CancellationToken) {
        let (ready, mut ready_rx) = Ready::pair();
        let has_readiness = steps.readiness.is_some();
        let mut readiness = steps.readiness;
        let run = steps.root.run(cancel, ready);
        tokio::pin!(run);
        let mut waiting_ready = true;
        let result = loop {
            tokio::select! {
                r = &mut run => break r,
                r = &mut ready_rx, if waiting_ready => {
                    waiting_ready = false;
                    if r.is_ok() {
                        self.set_running(guid, !has_readiness, true);
                    }
                }
                Some(routable) = async { match readiness.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => futures::future::pending().await,
                } } => self.set_running(guid, routable, false),
            }
        };
        match result {
            Ok(()) => self.complete(guid, false, "", false),
            Err(e) => {
                let reason = e.to_string();
                tracing::info!(guid, "container steps ended: {reason}");
                // Diego: an error without displayable text is no failure.
                self.complete(guid, !reason.is_empty(), &reason, false)
            }
        }
    }

    fn set_running(&self, guid: &str, routable: bool, transition: bool) {
        let changed = self.update(guid, |c| {
            if transition {
                if !c.state.can_become(State::Running) {
                    return Ok(None);
                }
                c.state = State::Running;
            } else if c.state != State::Running {
                return Ok(None);
            }
            c.routable = routable;
            Ok(Some(c.clone()))
        });
        if let Ok(Some(c)) = changed {
            self.emit(Event::Running(c));
        }
    }
}
