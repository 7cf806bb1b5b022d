//! The full sync with the BBS: everything the routing table is built
//! from, fetched at start, after each resubscription and every
//! `sync_interval`.

use crate::bbs_client::BbsClient;
use crate::routing_table::is_routable;
use std::time::Instant;

pub struct SyncResult {
    pub started: Instant,
    pub desired: Vec<models::DesiredLrp>,
    pub actuals: Vec<models::ActualLrp>,
    pub domains: Vec<String>,
}

/// The full state: routable instances (of one cell in cell-local mode),
/// the routing infos of their processes, and the fresh domains.
pub async fn fetch(bbs: &BbsClient, cell_id: &str) -> anyhow::Result<SyncResult> {
    let started = Instant::now();
    let (actuals, domains, desired) = if cell_id.is_empty() {
        tokio::try_join!(
            bbs.actual_lrps(cell_id),
            bbs.domains(),
            bbs.routing_infos(Vec::new())
        )?
    } else {
        // Only the processes with instances on this cell.
        let (actuals, domains) = tokio::try_join!(bbs.actual_lrps(cell_id), bbs.domains())?;
        let mut guids: Vec<String> = actuals
            .iter()
            .map(|a| a.process_guid().to_string())
            .collect();
        guids.sort();
        guids.dedup();
        let desired = if guids.is_empty() {
            Vec::new()
        } else {
            bbs.routing_infos(guids).await?
        };
        (actuals, domains, desired)
    };
    Ok(SyncResult {
        started,
        desired,
        actuals: actuals.into_iter().filter(is_routable).collect(),
        domains,
    })
}
