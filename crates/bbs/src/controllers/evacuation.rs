//! Evacuation (a cell draining its instances), Diego's evacuation
//! controller: a running instance gets an EVACUATING copy while its
//! ordinary row is unclaimed and re-auctioned; `keep_container` tells the
//! rep whether to keep running it until the replacement runs.

use super::{find_with_presence, lookup_by_instance_key, lrps_at, Deps};
use crate::db::{ActualLrpFilter, RunningInfo};
use crate::errors::{is_cannot_be_removed, is_not_found, is_resource_exists};
use crate::events::calculator::{emit_events, record_change, set_of, LrpSet};
use models::actual_lrp::Presence;
use models::actual_lrp_state::{CLAIMED, CRASHED, RUNNING};
use models::desired_lrp::UpdateStrategy;
use models::{ActualLrp, ActualLrpInstanceKey, ActualLrpKey, BbsError};
use std::future::Future;
use std::sync::Arc;

#[derive(Clone)]
pub struct EvacuationController {
    deps: Arc<Deps>,
}

impl EvacuationController {
    pub fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    pub async fn remove_evacuating(
        &self,
        trace_id: &str,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
    ) -> Result<(), BbsError> {
        let d = &self.deps;
        let lrps = lrps_at(d.store.as_ref(), &key.process_guid, key.index).await?;
        let Some(lrp) = lookup_by_instance_key(&lrps, instance_key) else {
            return Err(BbsError::resource_not_found());
        };
        if lrp.presence() != Presence::Evacuating {
            return Err(BbsError::resource_not_found());
        }
        d.store
            .remove_evacuating_actual_lrp(key, instance_key)
            .await?;
        let set = set_of(&lrps);
        let new = record_change(Some(lrp), None, &set);
        emit_events(&d.hubs, trace_id, &set, &new);
        Ok(())
    }

    /// Removes the caller's row if it is EVACUATING or SUSPECT (Ok(None));
    /// an ORDINARY row is left alone and returned.
    async fn remove_evacuating_or_suspect<'a>(
        &self,
        lrps: &mut LrpSet,
        current: &'a [ActualLrp],
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
    ) -> Result<Option<&'a ActualLrp>, BbsError> {
        let d = &self.deps;
        let Some(lrp) = lookup_by_instance_key(current, instance_key) else {
            return Err(BbsError::resource_not_found());
        };
        match lrp.presence() {
            Presence::Evacuating => {
                d.store
                    .remove_evacuating_actual_lrp(key, instance_key)
                    .await?;
            }
            Presence::Suspect => {
                d.store.remove_suspect_actual_lrp(key).await?;
            }
            Presence::Ordinary => return Ok(Some(lrp)),
        }
        *lrps = record_change(Some(lrp), None, lrps);
        Ok(None)
    }

    async fn request_auction(&self, trace_id: &str, key: &ActualLrpKey) {
        let d = &self.deps;
        match d
            .store
            .desired_lrp_scheduling_info_by_process_guid(&key.process_guid)
            .await
        {
            Ok(info) => d.request_auction(trace_id, &info, key).await,
            Err(e) => tracing::warn!(error = %e, "failed fetching desired LRP scheduling info"),
        }
    }

    /// Returns (keep_container, result).
    pub async fn evacuate_claimed(
        &self,
        trace_id: &str,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
    ) -> (bool, Result<(), BbsError>) {
        let d = &self.deps;
        let lrps = match lrps_at(d.store.as_ref(), &key.process_guid, key.index).await {
            Ok(l) => l,
            Err(e) => return (false, Err(e)),
        };
        let set = set_of(&lrps);
        let mut new = set.clone();
        let removed = self
            .remove_evacuating_or_suspect(&mut new, &lrps, key, instance_key)
            .await;
        let result = match removed {
            Err(e) => (false, Err(e)),
            Ok(None) => (false, Ok(())),
            Ok(Some(_)) => match d.store.unclaim_actual_lrp(false, key).await {
                Err(e) if is_not_found(&e) => (false, Ok(())),
                Err(e) => (true, Err(e)),
                Ok((before, after)) => {
                    new = record_change(Some(&before), Some(after), &new);
                    self.request_auction(trace_id, key).await;
                    (false, Ok(()))
                }
            },
        };
        emit_events(&d.hubs, trace_id, &set, &new);
        result
    }

    pub async fn evacuate_crashed(
        &self,
        trace_id: &str,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
        error_message: &str,
    ) -> Result<(), BbsError> {
        let store = &self.deps.store;
        self.remove_or_change(trace_id, key, instance_key, |_| async move {
            let outcome = store
                .crash_actual_lrp(key, instance_key, error_message)
                .await?;
            Ok((outcome.before, Some(outcome.after)))
        })
        .await
    }

    pub async fn evacuate_stopped(
        &self,
        trace_id: &str,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
    ) -> Result<(), BbsError> {
        let store = &self.deps.store;
        self.remove_or_change(trace_id, key, instance_key, |lrp| async move {
            store
                .remove_actual_lrp(&key.process_guid, key.index, Some(instance_key))
                .await?;
            Ok((lrp, None))
        })
        .await
    }

    /// The course of evacuate_crashed and evacuate_stopped: the caller's
    /// EVACUATING or SUSPECT row is just removed; its ORDINARY row goes to
    /// `change`, which returns the row before and after it (None: removed).
    async fn remove_or_change<F, Fut>(
        &self,
        trace_id: &str,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
        change: F,
    ) -> Result<(), BbsError>
    where
        F: FnOnce(ActualLrp) -> Fut,
        Fut: Future<Output = Result<(ActualLrp, Option<ActualLrp>), BbsError>>,
    {
        let d = &self.deps;
        let lrps = lrps_at(d.store.as_ref(), &key.process_guid, key.index).await?;
        let set = set_of(&lrps);
        let mut new = set.clone();
        let result = match self
            .remove_evacuating_or_suspect(&mut new, &lrps, key, instance_key)
            .await
        {
            Err(e) => Err(e),
            Ok(None) => Ok(()),
            Ok(Some(lrp)) => match change(lrp.clone()).await {
                Ok((before, after)) => {
                    new = record_change(Some(&before), after, &new);
                    Ok(())
                }
                Err(e) => Err(e),
            },
        };
        emit_events(&d.hubs, trace_id, &set, &new);
        result
    }

    /// Removes an evacuating row (if any, and unless it is already gone)
    /// and records that in `new`. Returns evacuate_running's answer: the
    /// rep keeps its container only when the removal failed.
    async fn remove_evacuating_row(
        &self,
        evacuating: Option<&ActualLrp>,
        new: &mut LrpSet,
    ) -> (bool, Result<(), BbsError>) {
        let Some(e) = evacuating else {
            return (false, Ok(()));
        };
        match self
            .deps
            .store
            .remove_evacuating_actual_lrp(&e.key(), &e.instance_key())
            .await
        {
            Ok(_) => {
                *new = record_change(Some(e), None, new);
                (false, Ok(()))
            }
            // Gone already (the replacement's start removes it, racing this
            // call): Diego's store reports that as removed.
            Err(err) if is_cannot_be_removed(&err) || is_not_found(&err) => (false, Ok(())),
            Err(err) => (true, Err(err)),
        }
    }

    /// Returns (keep_container, result).
    pub async fn evacuate_running(
        &self,
        trace_id: &str,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
        running: &RunningInfo,
    ) -> (bool, Result<(), BbsError>) {
        let d = &self.deps;
        let lrps = match lrps_at(d.store.as_ref(), &key.process_guid, key.index).await {
            Ok(l) => l,
            Err(e) => return (true, Err(e)),
        };
        if lrps.is_empty() {
            return (false, Ok(()));
        }
        let set = set_of(&lrps);
        let mut new = set.clone();
        let out = self
            .evacuate_running_inner(trace_id, &lrps, &mut new, key, instance_key, running)
            .await;
        emit_events(&d.hubs, trace_id, &set, &new);
        out
    }

    async fn evacuate_running_inner(
        &self,
        trace_id: &str,
        lrps: &[ActualLrp],
        new: &mut LrpSet,
        key: &ActualLrpKey,
        instance_key: &ActualLrpInstanceKey,
        running: &RunningInfo,
    ) -> (bool, Result<(), BbsError>) {
        let d = &self.deps;
        let target = lookup_by_instance_key(lrps, instance_key);
        let instance = find_with_presence(lrps, Presence::Ordinary);

        let replacement_running = match instance {
            Some(i) => Some(i) != target && (i.state == RUNNING || i.state == CRASHED),
            None => false,
        };
        if instance.is_none() || replacement_running {
            return self.remove_evacuating_row(target, new).await;
        }

        let desired = match d.store.desired_lrp_by_process_guid(&key.process_guid).await {
            Ok(dl) => dl,
            Err(e) if is_not_found(&e) => {
                return self.remove_evacuating_row(target, new).await;
            }
            Err(e) => return (true, Err(e)),
        };

        if desired.update_strategy() == UpdateStrategy::Recreate {
            let Some(target) = target else {
                return (false, Ok(()));
            };
            match target.presence() {
                Presence::Evacuating => {
                    return self.remove_evacuating_row(Some(target), new).await;
                }
                Presence::Suspect => {
                    return match d.store.remove_suspect_actual_lrp(key).await {
                        Ok(_) => {
                            *new = record_change(Some(target), None, new);
                            (false, Ok(()))
                        }
                        Err(e) => (true, Err(e)),
                    };
                }
                Presence::Ordinary => {}
            }
            if target.state == RUNNING || target.state == CLAIMED {
                // Unclaim only while every desired instance is running.
                let running_count = match d
                    .store
                    .actual_lrps(&ActualLrpFilter {
                        process_guid: key.process_guid.clone(),
                        ..Default::default()
                    })
                    .await
                {
                    Ok(all) => all
                        .iter()
                        .filter(|l| l.presence() == Presence::Ordinary && l.state == RUNNING)
                        .count() as i32,
                    Err(e) => return (true, Err(e)),
                };
                if running_count < desired.instances {
                    return (true, Ok(()));
                }
                return match d.store.unclaim_actual_lrp(false, key).await {
                    Ok((_, after)) => {
                        *new = record_change(Some(target), Some(after), new);
                        self.request_auction(trace_id, key).await;
                        (false, Ok(()))
                    }
                    Err(e) if crate::errors::is_cannot_be_unclaimed(&e) => (true, Ok(())),
                    Err(e) => (true, Err(e)),
                };
            }
            return (false, Ok(()));
        }

        if target.is_none() || target.map(|t| t.presence()) == Some(Presence::Evacuating) {
            if let Some(evacuating) = find_with_presence(lrps, Presence::Evacuating) {
                if Some(evacuating) != target {
                    tracing::info!("already evacuated by a different cell");
                    return (false, Ok(()));
                }
            }
            return match d
                .store
                .evacuate_actual_lrp(key, instance_key, running)
                .await
            {
                Ok(lrp) => {
                    *new = record_change(None, Some(lrp), new);
                    (true, Ok(()))
                }
                Err(e) if is_resource_exists(&e) => (true, Ok(())),
                Err(e) => (true, Err(e)),
            };
        }

        let target = target.unwrap();
        if target.state == RUNNING || target.state == CLAIMED {
            let r = self.evacuate_instance(trace_id, lrps, new, target).await;
            return (true, r);
        }
        (false, Ok(()))
    }

    async fn evacuate_instance(
        &self,
        trace_id: &str,
        lrps: &[ActualLrp],
        new: &mut LrpSet,
        lrp: &ActualLrp,
    ) -> Result<(), BbsError> {
        let d = &self.deps;
        let running = RunningInfo {
            net_info: lrp.actual_lrp_net_info.clone().unwrap_or_default(),
            internal_routes: lrp.actual_lrp_internal_routes.clone(),
            metric_tags: lrp.metric_tags.clone(),
            routable: Some(lrp.routable().unwrap_or(false)),
            availability_zone: lrp.availability_zone.clone(),
        };
        let evacuating = d
            .store
            .evacuate_actual_lrp(&lrp.key(), &lrp.instance_key(), &running)
            .await?;
        *new = record_change(Some(lrp), Some(evacuating), &set_of(lrps));
        if lrp.presence() == Presence::Suspect {
            d.store.remove_suspect_actual_lrp(&lrp.key()).await?;
            return Ok(());
        }
        let (_, after) = d.store.unclaim_actual_lrp(false, &lrp.key()).await?;
        *new = record_change(None, Some(after), new);
        self.request_auction(trace_id, &lrp.key()).await;
        Ok(())
    }
}
