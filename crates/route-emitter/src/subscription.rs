//! The BBS LRP instance event subscription, kept open.

use crate::events::LrpEvent;
use bbs_client::{BbsClient, EventError};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What the subscription sends the watcher.
pub enum Feed {
    /// (Re)subscribed: events may have been missed, so sync.
    Subscribed,
    Event(Box<LrpEvent>),
}

/// Keeps an event subscription open, resubscribing after a second when it
/// fails; each (re)subscription asks for a sync, since events may have
/// been missed.
pub async fn subscribe(bbs: Arc<dyn BbsClient>, cell_id: String, tx: mpsc::Sender<Feed>) {
    loop {
        match bbs.subscribe_to_instance_events(&cell_id).await {
            Ok(mut events) => {
                tracing::info!("subscribed-to-bbs-events");
                if tx.send(Feed::Subscribed).await.is_err() {
                    return;
                }
                let mut failed = false;
                while let Some(item) = events.next().await {
                    match item {
                        Ok(ev) => {
                            let Some(ev) = LrpEvent::from_event(ev) else {
                                continue;
                            };
                            if tx.send(Feed::Event(Box::new(ev))).await.is_err() {
                                return;
                            }
                        }
                        Err(EventError::Source(e)) => {
                            tracing::warn!(error = %e, "bbs-event-stream-failed");
                            failed = true;
                        }
                        Err(e) => tracing::error!(error = %e, "undecodable-event"),
                    }
                }
                if !failed {
                    tracing::warn!("bbs-event-stream-closed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "failed-subscribing-to-events"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
