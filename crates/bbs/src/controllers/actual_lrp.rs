//! Actual LRP lifecycle (claim, start, crash, fail, remove, retire) with
//! Diego's rules: requests from SUSPECT instances are ignored, a successful
//! start removes the index's EVACUATING and SUSPECT rows, a crash that may
//! restart at once is re-auctioned, retiring a placed instance asks its rep
//! to stop it.

use super::{find_with_presence, lookup_by_instance_key, lrps_at, Deps};
use crate::db::RunningInfo;
use crate::errors::{is_not_found, unknown};
use crate::events::calculator::{emit_crash_events, emit_events, record_change, set_of};
use models::actual_lrp::Presence;
use models::actual_lrp_state::{CLAIMED, CRASHED, RUNNING, UNCLAIMED};
use models::{ActualLrpInstanceKey, ActualLrpKey, BbsError};
use std::sync::Arc;

/// Diego's RetireActualLRPRetryAttempts.
pub const RETIRE_ACTUAL_LRP_RETRY_ATTEMPTS: usize = 5;

#[derive(Clone)]
pub struct ActualLrpLifecycleController {
    deps: Arc<Deps>,
}

impl ActualLrpLifecycleController {
    pub fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    pub async fn claim(
        &self,
        trace_id: &str,
        process_guid: &str,
        index: i32,
        instance_key: &ActualLrpInstanceKey,
    ) -> Result<(), BbsError> {
        let d = &self.deps;
        let lrps = lrps_at(d.store.as_ref(), process_guid, index).await?;
        if let Some(l) = lookup_by_instance_key(&lrps, instance_key) {
            if l.presence() == Presence::Suspect {
                tracing::info!(process_guid, index, "ignored claim request from suspect");
                return Ok(());
            }
        }
        let (before, after) = d
            .store
            .claim_actual_lrp(process_guid, index, instance_key)
            .await?;
        let set = set_of(&lrps);
        let new = record_change(Some(&before), Some(after), &set);
        emit_events(&d.hubs, trace_id, &set, &new);
        Ok(())
    }

    pub async fn start(
        &self,
        trace_id: &str,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
        running: &RunningInfo,
    ) -> Result<(), BbsError> {
        let d = &self.deps;
        let lrps = match lrps_at(d.store.as_ref(), &key.process_guid, key.index).await {
            Ok(l) => l,
            Err(e) if is_not_found(&e) => vec![],
            Err(e) => return Err(e),
        };
        if let Some(l) = lookup_by_instance_key(&lrps, instance_key) {
            if l.presence() == Presence::Suspect {
                tracing::info!(process_guid = %key.process_guid, index = key.index, "ignored start request from suspect");
                return Ok(());
            }
        }
        let (before, after) = d.store.start_actual_lrp(key, instance_key, running).await?;
        let set = set_of(&lrps);
        let mut new = record_change(before.as_ref(), Some(after), &set);

        if let Some(evacuating) = find_with_presence(&lrps, Presence::Evacuating) {
            if let Err(e) = d
                .store
                .remove_evacuating_actual_lrp(&evacuating.key(), &evacuating.instance_key())
                .await
            {
                tracing::warn!(error = %e, "failed to remove evacuating actual LRP");
            }
            new = record_change(Some(evacuating), None, &new);
        }
        if find_with_presence(&lrps, Presence::Suspect).is_some() {
            match d.store.remove_suspect_actual_lrp(key).await {
                Ok(suspect) => new = record_change(Some(&suspect), None, &new),
                Err(e) => tracing::warn!(error = %e, "failed to remove suspect actual LRP"),
            }
        }
        emit_events(&d.hubs, trace_id, &set, &new);
        Ok(())
    }

    pub async fn crash(
        &self,
        trace_id: &str,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
        error_message: &str,
    ) -> Result<(), BbsError> {
        let d = &self.deps;
        let lrps = lrps_at(d.store.as_ref(), &key.process_guid, key.index).await?;
        let set = set_of(&lrps);
        if let Some(l) = lookup_by_instance_key(&lrps, instance_key) {
            if l.presence() == Presence::Suspect {
                let suspect = d.store.remove_suspect_actual_lrp(key).await?;
                let new = record_change(Some(&suspect), None, &set);
                emit_events(&d.hubs, trace_id, &set, &new);
                return Ok(());
            }
        }
        let outcome = d
            .store
            .crash_actual_lrp(key, instance_key, error_message)
            .await?;
        let new = record_change(Some(&outcome.before), Some(outcome.after.clone()), &set);
        emit_crash_events(&d.hubs, trace_id, &set, &new);
        if !outcome.should_restart {
            return Ok(());
        }
        let info = d
            .store
            .desired_lrp_scheduling_info_by_process_guid(&key.process_guid)
            .await?;
        d.request_auction(trace_id, &info, key).await;
        Ok(())
    }

    pub async fn fail(
        &self,
        trace_id: &str,
        key: &ActualLrpKey,
        error_message: &str,
    ) -> Result<(), BbsError> {
        let d = &self.deps;
        let lrps = lrps_at(d.store.as_ref(), &key.process_guid, key.index).await?;
        match d.store.fail_actual_lrp(key, error_message).await {
            Ok((before, after)) => {
                let set = set_of(&lrps);
                let new = record_change(Some(&before), Some(after), &set);
                emit_events(&d.hubs, trace_id, &set, &new);
                Ok(())
            }
            // Diego answers success when there is nothing to fail.
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn remove(
        &self,
        trace_id: &str,
        process_guid: &str,
        index: i32,
        instance_key: Option<&ActualLrpInstanceKey>,
    ) -> Result<(), BbsError> {
        let d = &self.deps;
        let lrps = lrps_at(d.store.as_ref(), process_guid, index).await?;
        let Some(lrp) = find_with_presence(&lrps, Presence::Ordinary) else {
            return Err(BbsError::resource_not_found());
        };
        d.store
            .remove_actual_lrp(process_guid, index, instance_key)
            .await?;
        let set = set_of(&lrps);
        let new = record_change(Some(lrp), None, &set);
        emit_events(&d.hubs, trace_id, &set, &new);
        Ok(())
    }

    /// Unplaced instances are removed; placed ones are stopped by their rep
    /// (removed when their cell is gone).
    pub async fn retire(&self, trace_id: &str, key: &ActualLrpKey) -> Result<(), BbsError> {
        let d = &self.deps;
        let lrps = lrps_at(d.store.as_ref(), &key.process_guid, key.index).await?;
        let Some(lrp) = find_with_presence(&lrps, Presence::Ordinary).cloned() else {
            return Err(BbsError::resource_not_found());
        };
        let set = set_of(&lrps);
        let removed = record_change(Some(&lrp), None, &set);
        let remove = || async {
            d.store
                .remove_actual_lrp(lrp.process_guid(), lrp.index(), Some(&lrp.instance_key()))
                .await
                .map(|_| ())
        };
        let mut result: Result<(), BbsError> = Ok(());
        let mut changed = false;
        for attempt in 0..RETIRE_ACTUAL_LRP_RETRY_ATTEMPTS {
            result = match lrp.state.as_str() {
                UNCLAIMED | CRASHED => {
                    let r = remove().await;
                    changed |= r.is_ok();
                    r
                }
                CLAIMED | RUNNING => match d.cells.cell_by_id(lrp.cell_id()).await {
                    Err(e) if is_not_found(&e) => {
                        let r = remove().await;
                        changed |= r.is_ok();
                        if changed {
                            emit_events(&d.hubs, trace_id, &set, &removed);
                        }
                        return r;
                    }
                    Err(e) => {
                        if changed {
                            emit_events(&d.hubs, trace_id, &set, &removed);
                        }
                        return Err(e);
                    }
                    Ok(cell) => {
                        changed = true;
                        match crate::clients::rep_of(d.rep.as_ref(), &cell, trace_id) {
                            Ok(rep) => rep.stop_lrp_instance(&lrp.key(), &lrp.instance_key()).await,
                            Err(e) => Err(e),
                        }
                        .map_err(unknown)
                    }
                },
                _ => Ok(()),
            };
            if result.is_ok() {
                break;
            }
            tracing::warn!(attempt = attempt + 1, error = ?result, "retrying failed retire of actual LRP");
        }
        if changed {
            emit_events(&d.hubs, trace_id, &set, &removed);
        }
        result
    }
}
