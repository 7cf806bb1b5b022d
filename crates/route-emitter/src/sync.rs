//! The full sync with the BBS: everything the routing table is built
//! from, fetched at start, after each resubscription and every
//! `sync_interval`.

use crate::routing_table::is_routable;
use bbs_client::{ActualLrpFilter, BbsClient, DesiredLrpFilter};
use std::time::Instant;

pub struct SyncResult {
    pub started: Instant,
    pub desired: Vec<models::DesiredLrp>,
    pub actuals: Vec<models::ActualLrp>,
    pub domains: Vec<String>,
}

/// The full state: routable instances (of one cell in cell-local mode),
/// the routing infos of their processes, and the fresh domains.
pub async fn fetch(bbs: &dyn BbsClient, cell_id: &str) -> anyhow::Result<SyncResult> {
    let started = Instant::now();
    let on_cell = ActualLrpFilter::cell(cell_id);
    let every = DesiredLrpFilter::default();
    let (actuals, domains, desired) = if cell_id.is_empty() {
        tokio::try_join!(
            bbs.actual_lrps(&on_cell),
            bbs.domains(),
            bbs.desired_lrp_routing_infos(&every)
        )?
    } else {
        // Only the processes with instances on this cell.
        let (actuals, domains) = tokio::try_join!(bbs.actual_lrps(&on_cell), bbs.domains())?;
        let mut guids: Vec<String> = actuals
            .iter()
            .map(|a| a.process_guid().to_string())
            .collect();
        guids.sort();
        guids.dedup();
        let desired = if guids.is_empty() {
            Vec::new()
        } else {
            let filter = DesiredLrpFilter {
                process_guids: guids,
                ..Default::default()
            };
            bbs.desired_lrp_routing_infos(&filter).await?
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
