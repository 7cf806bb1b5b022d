//! Draining a cell (Diego's evacuator and evacuation cleanup): once
//! evacuation starts, wait until the LRP processors have handed every
//! instance over (no containers left), at most `evacuation_timeout`; then
//! delete whatever containers remain.

use crate::delegate::Context;
use bbs_client::ActualLrpFilter;
use std::time::Duration;

/// Waits for evacuation to be asked for, then for the containers to go.
/// Whether every container went before the timeout.
pub async fn evacuate(ctx: &Context, timeout: Duration, poll: Duration) -> bool {
    ctx.evacuation.notified().await;
    tracing::info!("notified-of-evacuation");
    let drained = async {
        loop {
            match ctx.executor.list_containers().await {
                Ok(c) if c.is_empty() => return,
                Ok(c) => tracing::info!(containers = c.len(), "evacuation-incomplete"),
                Err(e) => tracing::error!(error = %e, "failed-to-list-containers"),
            }
            tokio::time::sleep(poll).await;
        }
    };
    match tokio::time::timeout(timeout, drained).await {
        Ok(()) => {
            tracing::info!("evacuation-complete");
            true
        }
        Err(_) => {
            tracing::error!("failed-to-evacuate-before-timeout");
            false
        }
    }
}

/// Deletes every container (what a stopping rep leaves behind), reporting
/// the evacuating instances still stranded in the BBS.
pub async fn cleanup(ctx: &Context) {
    if let Ok(lrps) = ctx
        .bbs
        .actual_lrps(&ActualLrpFilter::cell(&ctx.cell_id))
        .await
    {
        let stranded = lrps
            .iter()
            .filter(|l| l.presence == models::actual_lrp::Presence::Evacuating as i32)
            .count();
        tracing::info!(
            stranded_evacuating_actual_lrps = stranded,
            "finished-evacuating"
        );
    }
    let containers = ctx.executor.list_containers().await.unwrap_or_default();
    let deletes = containers.iter().map(|c| ctx.delete_container(&c.guid));
    futures::future::join_all(deletes).await;
}
