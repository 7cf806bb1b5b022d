//! Keeps the BBS in line with the containers: every executor event becomes
//! a container operation, and a bulk sync every `polling_interval`
//! (`evacuation_polling_interval` once evacuating) queues the whole batch
//! (Diego's event consumer and bulker).

use crate::delegate::Context;
use crate::generator::batch_operations;
use crate::operation::Operation;
use crate::queue::OperationQueue;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

pub async fn consume_events(
    mut events: mpsc::Receiver<executor::Event>,
    queue: OperationQueue,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            e = events.recv() => match e {
                Some(e) => queue.push(Operation::Container(e.container().guid.clone())),
                None => {
                    tracing::info!("event-stream-closed");
                    return;
                }
            },
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// One bulk sync: queue an operation per container and residual record.
pub async fn sync(ctx: &Context, queue: &OperationQueue) {
    let start = std::time::Instant::now();
    match batch_operations(ctx).await {
        Ok(ops) => {
            tracing::info!(
                batch_size = ops.len(),
                duration_ms = start.elapsed().as_millis() as u64,
                "bulk-sync"
            );
            for op in ops {
                queue.push(op);
            }
        }
        Err(e) => tracing::error!(error = %e, "failed-to-generate-operations"),
    }
}

pub async fn bulk_loop(
    ctx: Context,
    queue: OperationQueue,
    poll: Duration,
    evacuation_poll: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut interval = poll;
    let mut notified = false;
    // A rep that starts again syncs at once: the BBS may still hold
    // instances whose containers went with the last run, and reporting
    // them now lets convergence replace them without a poll's wait.
    sync(&ctx, &queue).await;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = ctx.evacuation.notified(), if !notified => {
                notified = true;
                interval = evacuation_poll;
            }
            _ = stop.wait_for(|s| *s) => return,
        }
        sync(&ctx, &queue).await;
    }
}
