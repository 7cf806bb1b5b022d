//! Audit events, and the watcher that records crashes from the BBS's
//! instance event stream (Cloud Controller's `audit.app.process.crash`).

use super::Api;
use crate::clock::now_ns;
use crate::store::{EventRec, ProcessRec};
use bbs_client::Event;
use std::sync::Arc;
use std::time::Duration;

impl Api {
    pub fn event(
        &self,
        app: &crate::store::AppRec,
        kind: &str,
        actor: &str,
        data: serde_json::Value,
    ) -> EventRec {
        EventRec {
            guid: super::new_guid(),
            app_guid: app.guid.clone(),
            kind: kind.into(),
            actor: actor.into(),
            target_name: app.name.clone(),
            data,
            created_at: now_ns(),
        }
    }

    /// The process an LRP runs (`<process guid>-<version>`).
    pub async fn process_of_lrp(&self, lrp_guid: &str) -> Option<ProcessRec> {
        let (guid, version) = lrp_guid.rsplit_once('-')?;
        let p = self.repo.get::<ProcessRec>(guid).await.ok()??;
        (p.version == version).then_some(p)
    }

    async fn record_crash(&self, e: &models::ActualLrpCrashedEvent) {
        let Some(key) = &e.actual_lrp_key else { return };
        let Some(p) = self.process_of_lrp(&key.process_guid).await else {
            return;
        };
        let Ok(app) = self.app(&p.app_guid).await else {
            return;
        };
        let ev = self.event(
            &app,
            "audit.app.process.crash",
            "diego",
            serde_json::json!({
                "process_guid": p.guid,
                "process_type": p.kind,
                "index": key.index,
                "instance": e.actual_lrp_instance_key.as_ref().map(|k| k.instance_guid.clone()),
                "exit_description": e.crash_reason,
                "crash_count": e.crash_count,
                "crash_timestamp": e.since,
            }),
        );
        if let Err(err) = self.repo.put(&ev).await {
            tracing::warn!(error = %err, "recording a crash");
        }
    }
}

/// Follows the BBS's instance events for ever (reconnecting), recording
/// every crash of an app instance.
pub async fn watch_crashes(api: Arc<Api>) {
    loop {
        match api.bbs.subscribe_to_instance_events("").await {
            Ok(mut stream) => {
                while let Some(ev) = stream.next_event().await {
                    if let Ok(Event::ActualLrpCrashed(c)) = ev {
                        api.record_crash(&c).await;
                    }
                }
                tracing::info!("BBS event stream ended; resubscribing");
            }
            Err(e) => tracing::warn!(error = %e, "subscribing to BBS events"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
