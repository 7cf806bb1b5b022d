//! The BBS LRP instance event subscription, kept open.

use crate::bbs_client::BbsClient;
use crate::events::{decode, LrpEvent, SseParser};
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
pub async fn subscribe(bbs: BbsClient, cell_id: String, tx: mpsc::Sender<Feed>) {
    loop {
        match bbs.subscribe_lrp_instances(&cell_id).await {
            Ok(mut resp) => {
                tracing::info!("subscribed-to-bbs-events");
                if tx.send(Feed::Subscribed).await.is_err() {
                    return;
                }
                let mut parser = SseParser::default();
                loop {
                    match resp.chunk().await {
                        Ok(Some(bytes)) => {
                            for (name, data) in parser.feed(&bytes) {
                                match decode(&name, &data) {
                                    Ok(Some(ev)) => {
                                        if tx.send(Feed::Event(Box::new(ev))).await.is_err() {
                                            return;
                                        }
                                    }
                                    Ok(None) => {}
                                    Err(e) => {
                                        tracing::error!(event = %name, error = %e, "undecodable-event")
                                    }
                                }
                            }
                        }
                        Ok(None) => {
                            tracing::warn!("bbs-event-stream-closed");
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "bbs-event-stream-failed");
                            break;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "failed-subscribing-to-events"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
