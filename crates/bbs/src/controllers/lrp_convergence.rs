//! LRP convergence (Diego's `controllers/lrp_convergence_controller.go`):
//! asks the store what is out of line, then acts on it with at most
//! `convergence_workers` changes at a time: creates missing instances,
//! unclaims stale and restartable crashed ones, marks instances on absent
//! cells SUSPECT and replaces them, promotes suspects whose cell is back,
//! removes superfluous suspects, retires extras and orphans (through the
//! rep), asks reps to update drifted internal routes and metric tags.
//! Every start is collected into one auction batch sent at the end.

use super::{ActualLrpLifecycleController, Deps};
use crate::clients::{rep_of, LrpStartRequest, LrpUpdate};
use crate::db::{CellSet, ConvergenceResult, KeyWithSchedulingInfo};
use crate::errors::is_not_found;
use crate::events::calculator::{
    group_changed, group_created, group_removed, instance_changed, instance_created,
    instance_removed,
};
use futures::StreamExt;
use models::actual_lrp::Presence;
use models::rep::InternalRoute;
use models::{ActualLrpKey, BbsError};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// What one LRP convergence pass found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LrpConvergenceReport {
    pub cells: usize,
    pub missing_cells: usize,
    pub missing: usize,
    pub unstarted: usize,
    pub retired: usize,
    pub suspects_created: usize,
    pub suspects_promoted: usize,
    pub suspects_removed: usize,
    pub suspect_running: usize,
    pub suspect_claimed: usize,
    pub evacuating_pruned: usize,
    pub rep_updates: usize,
    pub start_requests: usize,
    /// Set when the pass did not run (the cells could not be listed).
    pub skipped: Option<String>,
}

#[derive(Clone)]
pub struct LrpConvergenceController {
    deps: Arc<Deps>,
    retirer: ActualLrpLifecycleController,
    workers: usize,
}

enum Work {
    Retire(ActualLrpKey),
    CreateMissing(KeyWithSchedulingInfo),
    Unstarted(KeyWithSchedulingInfo),
    MissingCell(KeyWithSchedulingInfo, bool),
    Promote(ActualLrpKey),
    RemoveSuspect(ActualLrpKey),
    Update(String, LrpUpdate),
}

/// Lists the cells with a presence; ResourceNotFound means none.
pub async fn cell_set(deps: &Deps) -> Result<CellSet, BbsError> {
    match deps.cells.cells().await {
        Ok(cells) => Ok(cells.into_iter().map(|c| c.cell_id).collect()),
        Err(e) if is_not_found(&e) => Ok(CellSet::new()),
        Err(e) => Err(e),
    }
}

pub(crate) fn now_ns() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl LrpConvergenceController {
    pub fn new(deps: Arc<Deps>, workers: usize) -> Self {
        Self {
            retirer: ActualLrpLifecycleController::new(deps.clone()),
            deps,
            workers: workers.max(1),
        }
    }

    /// One pass: lists the cells, converges the store, acts on the result.
    pub async fn converge_lrps(&self, trace_id: &str) -> LrpConvergenceReport {
        let cells = match cell_set(&self.deps).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "failed-listing-cells: lrp convergence skipped");
                return LrpConvergenceReport {
                    skipped: Some(e.to_string()),
                    ..Default::default()
                };
            }
        };
        let result = self.deps.store.converge_lrps(&cells, now_ns()).await;
        self.apply(trace_id, &cells, result).await
    }

    /// Acts on a convergence result (public for tests).
    pub async fn apply(
        &self,
        trace_id: &str,
        cells: &CellSet,
        result: ConvergenceResult,
    ) -> LrpConvergenceReport {
        let d = &self.deps;
        let mut report = LrpConvergenceReport {
            cells: cells.len(),
            missing_cells: result.missing_cell_ids.len(),
            missing: result.missing_lrp_keys.len(),
            unstarted: result.unstarted_lrp_keys.len(),
            retired: result.keys_to_retire.len(),
            suspect_running: result.suspect_running_keys.len(),
            suspect_claimed: result.suspect_claimed_keys.len(),
            evacuating_pruned: result.removed_evacuating.len(),
            rep_updates: result.keys_with_internal_route_changes.len()
                + result.keys_with_metric_tag_changes.len(),
            ..Default::default()
        };
        if !result.missing_cell_ids.is_empty() {
            tracing::info!(cell_ids = ?result.missing_cell_ids, "detected-missing-cells");
        }
        for lrp in &result.removed_evacuating {
            d.hubs.actual.emit(group_removed(lrp.to_group()));
            d.hubs.actual_instance.emit(instance_removed(lrp, trace_id));
        }

        let suspects: HashSet<(String, i32, String)> = result
            .suspect_running_keys
            .iter()
            .chain(result.suspect_claimed_keys.iter())
            .map(|k| (k.process_guid.clone(), k.index, k.domain.clone()))
            .collect();
        let mut works = Vec::new();
        works.extend(result.keys_to_retire.into_iter().map(Work::Retire));
        works.extend(result.missing_lrp_keys.into_iter().map(Work::CreateMissing));
        works.extend(result.unstarted_lrp_keys.into_iter().map(Work::Unstarted));
        for k in result.keys_with_missing_cells {
            let has_suspect = suspects.contains(&(
                k.key.process_guid.clone(),
                k.key.index,
                k.key.domain.clone(),
            ));
            if !has_suspect {
                report.suspects_created += 1;
            }
            works.push(Work::MissingCell(k, has_suspect));
        }
        report.suspects_promoted = result.suspect_keys_with_existing_cells.len();
        works.extend(
            result
                .suspect_keys_with_existing_cells
                .into_iter()
                .map(Work::Promote),
        );
        report.suspects_removed = result.suspect_keys_to_retire.len();
        works.extend(
            result
                .suspect_keys_to_retire
                .into_iter()
                .map(Work::RemoveSuspect),
        );
        for k in result.keys_with_internal_route_changes {
            let update = LrpUpdate {
                instance_guid: k.instance_key.instance_guid.clone(),
                process_guid: k.key.process_guid.clone(),
                index: k.key.index,
                domain: k.key.domain.clone(),
                internal_routes: Some(
                    k.desired_internal_routes
                        .iter()
                        .map(|r| InternalRoute {
                            hostname: r.hostname.clone(),
                        })
                        .collect(),
                ),
                metric_tags: None,
            };
            works.push(Work::Update(k.instance_key.cell_id, update));
        }
        for k in result.keys_with_metric_tag_changes {
            let update = LrpUpdate {
                instance_guid: k.instance_key.instance_guid.clone(),
                process_guid: k.key.process_guid.clone(),
                index: k.key.index,
                domain: k.key.domain.clone(),
                internal_routes: None,
                metric_tags: Some(k.desired_metric_tags),
            };
            works.push(Work::Update(k.instance_key.cell_id, update));
        }

        let starts: Mutex<Vec<LrpStartRequest>> = Mutex::new(Vec::new());
        futures::stream::iter(works)
            .for_each_concurrent(self.workers, |w| self.work(trace_id, w, &starts))
            .await;

        let starts = starts.into_inner().unwrap_or_default();
        report.start_requests = starts.len();
        if !starts.is_empty() {
            if let Err(e) = d.auctioneer.request_lrp_auctions(trace_id, starts).await {
                tracing::error!(error = %e, "failed-to-request-starts");
            }
        }
        report
    }

    async fn work(&self, trace_id: &str, w: Work, starts: &Mutex<Vec<LrpStartRequest>>) {
        let d = &self.deps;
        let start = |k: &KeyWithSchedulingInfo| {
            let req = LrpStartRequest::from_scheduling_info(&k.scheduling_info, vec![k.key.index]);
            if let Ok(mut s) = starts.lock() {
                s.push(req);
            }
        };
        match w {
            Work::Retire(key) => {
                if let Err(e) = self.retirer.retire(trace_id, &key).await {
                    tracing::error!(process_guid = %key.process_guid, index = key.index,
                        error = %e, "retiring-lrp-failed");
                }
            }
            Work::CreateMissing(k) => match d.store.create_unclaimed_actual_lrp(&k.key).await {
                Ok(lrp) => {
                    d.hubs.actual.emit(group_created(lrp.to_group()));
                    d.hubs
                        .actual_instance
                        .emit(instance_created(&lrp, trace_id));
                    start(&k);
                }
                Err(e) => tracing::error!(process_guid = %k.key.process_guid,
                    index = k.key.index, error = %e, "failed-to-create-unclaimed-lrp"),
            },
            Work::Unstarted(k) => {
                match d.store.unclaim_actual_lrp(true, &k.key).await {
                    Ok((before, after)) => {
                        if before != after {
                            d.hubs
                                .actual
                                .emit(group_changed(before.to_group(), after.to_group()));
                            d.hubs
                                .actual_instance
                                .emit(instance_created(&after, trace_id));
                            d.hubs
                                .actual_instance
                                .emit(instance_removed(&before, trace_id));
                        }
                    }
                    Err(e) if e.same_kind(&BbsError::cannot_be_unclaimed()) => {}
                    Err(e) => {
                        tracing::error!(process_guid = %k.key.process_guid,
                            index = k.key.index, error = %e, "cannot-unclaim-lrp");
                        return;
                    }
                }
                start(&k);
            }
            Work::MissingCell(k, true) => {
                // A suspect exists already: the replacement went to a cell
                // that vanished too; unclaim it and auction it again.
                match d.store.unclaim_actual_lrp(false, &k.key).await {
                    Ok((before, after)) => {
                        d.hubs
                            .actual_instance
                            .emit(instance_created(&after, trace_id));
                        d.hubs
                            .actual_instance
                            .emit(instance_removed(&before, trace_id));
                        start(&k);
                    }
                    Err(e) => tracing::error!(process_guid = %k.key.process_guid,
                        index = k.key.index, error = %e, "failed-unclaiming-lrp"),
                }
            }
            Work::MissingCell(k, false) => {
                let (before, after) = match d
                    .store
                    .change_actual_lrp_presence(&k.key, Presence::Ordinary, Presence::Suspect)
                    .await
                {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::error!(process_guid = %k.key.process_guid,
                            index = k.key.index, error = %e, "cannot-change-lrp-presence");
                        return;
                    }
                };
                d.hubs.actual_instance.emit(instance_changed(
                    Some(&before),
                    Some(&after),
                    trace_id,
                ));
                match d.store.create_unclaimed_actual_lrp(&k.key).await {
                    Ok(unclaimed) => {
                        d.hubs
                            .actual_instance
                            .emit(instance_created(&unclaimed, trace_id));
                        start(&k);
                        tracing::info!(process_guid = %k.key.process_guid, index = k.key.index,
                            reason = "missing-cell", "creating-start-request");
                    }
                    Err(e) => tracing::error!(process_guid = %k.key.process_guid,
                        index = k.key.index, error = %e, "cannot-unclaim-lrp"),
                }
            }
            Work::Promote(key) => {
                match d
                    .store
                    .promote_suspect_actual_lrp(&key.process_guid, key.index)
                    .await
                {
                    Ok((before, after, removed)) => {
                        if let Some(r) = removed {
                            d.hubs.actual.emit(group_removed(r.to_group()));
                            d.hubs.actual_instance.emit(instance_removed(&r, trace_id));
                        }
                        d.hubs.actual_instance.emit(instance_changed(
                            Some(&before),
                            Some(&after),
                            trace_id,
                        ));
                    }
                    Err(e) => tracing::error!(process_guid = %key.process_guid,
                        index = key.index, error = %e, "cannot-promote-suspect-lrp"),
                }
            }
            Work::RemoveSuspect(key) => match d.store.remove_suspect_actual_lrp(&key).await {
                Ok(lrp) => {
                    d.hubs.actual.emit(group_removed(lrp.to_group()));
                    d.hubs
                        .actual_instance
                        .emit(instance_removed(&lrp, trace_id));
                }
                Err(e) if is_not_found(&e) => {}
                Err(e) => tracing::error!(process_guid = %key.process_guid,
                    index = key.index, error = %e, "cannot-remove-suspect-lrp"),
            },
            Work::Update(cell_id, update) => {
                let cell = match d.cells.cell_by_id(&cell_id).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::error!(cell_id, error = %e, "failed-fetching-cell-presence");
                        return;
                    }
                };
                let updated = match rep_of(d.rep.as_ref(), &cell, trace_id) {
                    Ok(c) => c.update_lrp_instance(&update).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = updated {
                    tracing::error!(cell_id, error = %e, "updating-lrp-instance");
                }
            }
        }
    }
}
