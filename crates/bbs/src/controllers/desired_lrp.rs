//! Desired LRPs: desiring creates UNCLAIMED instances and asks for an
//! auction; updates scale up (new instances), scale down (retire the extra
//! ones) and push internal-route / metric-tag changes to running instances;
//! removal retires every instance.

use super::Deps;
use crate::clients::{rep_of, LrpStartRequest, LrpUpdate};
use crate::db::ActualLrpFilter;
use crate::events::calculator::{emit_events, group_removed, instance_removed, record_change};
use crate::events::Event;
use futures::StreamExt;
use models::actual_lrp::Presence;
use models::actual_lrp_state::{CRASHED, UNCLAIMED};
use models::desired_lrp_update::OptionalInstances;
use models::rep::InternalRoute;
use models::{
    ActualLrp, ActualLrpKey, BbsError, CellPresence, DesiredLrp, DesiredLrpChangedEvent,
    DesiredLrpCreatedEvent, DesiredLrpRemovedEvent, DesiredLrpUpdate, ProtoRoutes,
};
use std::sync::Arc;

pub const INTERNAL_ROUTER: &str = "internal-router";
const CREATE_CONCURRENCY: usize = 16;

#[derive(Clone)]
pub struct DesiredLrpController {
    deps: Arc<Deps>,
}

impl DesiredLrpController {
    pub fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    pub async fn desire(&self, trace_id: &str, lrp: &DesiredLrp) -> Result<(), BbsError> {
        let d = &self.deps;
        let mut lrp = lrp.clone();
        super::routes_json::compact_routes(&mut lrp.routes);
        let lrp = &lrp;
        let stored = d.store.desire_lrp(lrp).await?;
        d.hubs
            .desired
            .emit(Event::DesiredLrpCreated(DesiredLrpCreatedEvent {
                desired_lrp: Some(stored),
                trace_id: trace_id.to_string(),
            }));
        if lrp.instances > 0 {
            self.start_instance_range(trace_id, 0, lrp.instances, lrp)
                .await;
        }
        Ok(())
    }

    pub async fn update(
        &self,
        trace_id: &str,
        process_guid: &str,
        update: &DesiredLrpUpdate,
    ) -> Result<(), BbsError> {
        let d = &self.deps;
        let mut update = update.clone();
        super::routes_json::compact_routes(&mut update.routes);
        let update = &update;
        let (before, after) = d.store.update_desired_lrp(process_guid, update).await?;
        if let Some(OptionalInstances::Instances(wanted)) = update.optional_instances {
            let previous = before.instances;
            if wanted > previous {
                self.start_instance_range(trace_id, previous, wanted, &after)
                    .await;
            } else if wanted < previous {
                self.stop_instances_from(trace_id, process_guid, wanted)
                    .await;
            }
        }
        let routes_updated =
            update.is_routes_group_updated(before.routes.as_ref(), INTERNAL_ROUTER);
        let tags_updated = update.is_metric_tags_updated(&before.metric_tags);
        if routes_updated || tags_updated {
            self.update_instances(trace_id, process_guid, update, routes_updated, tags_updated)
                .await;
        }
        d.hubs
            .desired
            .emit(Event::DesiredLrpChanged(DesiredLrpChangedEvent {
                before: Some(before),
                after: Some(after),
                trace_id: trace_id.to_string(),
            }));
        Ok(())
    }

    pub async fn remove(&self, trace_id: &str, process_guid: &str) -> Result<(), BbsError> {
        let d = &self.deps;
        // The removal answers the record it removed (one transaction).
        let desired = d.store.remove_desired_lrp(process_guid).await?;
        d.hubs
            .desired
            .emit(Event::DesiredLrpRemoved(DesiredLrpRemovedEvent {
                desired_lrp: Some(desired),
                trace_id: trace_id.to_string(),
            }));
        self.stop_instances_from(trace_id, process_guid, 0).await;
        Ok(())
    }

    /// Creates UNCLAIMED instances for indices lower..upper and requests
    /// one auction for those created.
    async fn start_instance_range(&self, trace_id: &str, lower: i32, upper: i32, lrp: &DesiredLrp) {
        let d = &self.deps;
        let keys: Vec<ActualLrpKey> = (lower..upper)
            .map(|i| ActualLrpKey::new(lrp.process_guid.clone(), i, lrp.domain.clone()))
            .collect();
        let created: Vec<i32> = futures::stream::iter(keys)
            .map(|key| async move {
                match d.store.create_unclaimed_actual_lrp(&key).await {
                    Ok(created) => {
                        let new = record_change(None, Some(created), &vec![]);
                        emit_events(&d.hubs, trace_id, &vec![], &new);
                        Some(key.index)
                    }
                    Err(e) => {
                        tracing::info!(process_guid = %key.process_guid, index = key.index, error = %e, "failed creating unclaimed actual LRP");
                        None
                    }
                }
            })
            .buffered(CREATE_CONCURRENCY)
            .filter_map(|x| async move { x })
            .collect()
            .await;
        if created.is_empty() {
            return;
        }
        let start = LrpStartRequest::from_desired_lrp(lrp, created);
        if let Err(e) = d
            .auctioneer
            .request_lrp_auctions(trace_id, vec![start])
            .await
        {
            tracing::warn!(process_guid = %lrp.process_guid, error = %e, "failed to request auction");
        }
    }

    /// The presence of the cell running `lrp`; None (logged) when unknown.
    async fn cell_of(&self, lrp: &ActualLrp) -> Option<CellPresence> {
        match self.deps.cells.cell_by_id(lrp.cell_id()).await {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(cell_id = lrp.cell_id(), error = %e, "failed fetching cell presence");
                None
            }
        }
    }

    async fn instances_of(&self, process_guid: &str) -> Option<Vec<ActualLrp>> {
        match self
            .deps
            .store
            .actual_lrps(&ActualLrpFilter {
                process_guid: process_guid.to_string(),
                ..Default::default()
            })
            .await
        {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(process_guid, error = %e, "failed fetching actual LRPs");
                None
            }
        }
    }

    /// Retires instances with index >= `from`: unplaced ones are removed,
    /// placed ones are stopped by their rep.
    async fn stop_instances_from(&self, trace_id: &str, process_guid: &str, from: i32) {
        let d = &self.deps;
        let Some(lrps) = self.instances_of(process_guid).await else {
            return;
        };
        for lrp in lrps {
            if lrp.presence() == Presence::Evacuating || lrp.index() < from {
                continue;
            }
            if lrp.state == UNCLAIMED || lrp.state == CRASHED {
                match d
                    .store
                    .remove_actual_lrp(process_guid, lrp.index(), None)
                    .await
                {
                    Ok(_) => {
                        d.hubs.actual.emit(group_removed(lrp.to_group()));
                        d.hubs
                            .actual_instance
                            .emit(instance_removed(&lrp, trace_id));
                    }
                    Err(e) => tracing::warn!(error = %e, "failed removing LRP instance"),
                }
                continue;
            }
            let Some(cell) = self.cell_of(&lrp).await else {
                continue;
            };
            let rep = d.rep.clone();
            let trace = trace_id.to_string();
            tokio::spawn(async move {
                let stopped = match rep_of(rep.as_ref(), &cell, &trace) {
                    Ok(c) => c.stop_lrp_instance(&lrp.key(), &lrp.instance_key()).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = stopped {
                    tracing::warn!(error = %e, "failed stopping LRP instance");
                }
            });
        }
    }

    async fn update_instances(
        &self,
        trace_id: &str,
        process_guid: &str,
        update: &DesiredLrpUpdate,
        routes_updated: bool,
        tags_updated: bool,
    ) {
        let d = &self.deps;
        let Some(lrps) = self.instances_of(process_guid).await else {
            return;
        };
        for lrp in lrps {
            if lrp.presence() == Presence::Evacuating
                || lrp.state == UNCLAIMED
                || lrp.state == CRASHED
            {
                continue;
            }
            let Some(cell) = self.cell_of(&lrp).await else {
                continue;
            };
            let internal_routes = if routes_updated {
                match internal_routes(update.routes.as_ref()) {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!(error = %e, "getting internal routes failed");
                        continue;
                    }
                }
            } else {
                None
            };
            let metric_tags = if tags_updated {
                Some(models::convert_metric_tags(
                    &update.metric_tags,
                    lrp.index(),
                    &lrp.instance_key().instance_guid,
                ))
            } else {
                None
            };
            let key = lrp.key();
            let lrp_update = LrpUpdate {
                instance_guid: lrp.instance_key().instance_guid,
                process_guid: key.process_guid,
                index: key.index,
                domain: key.domain,
                internal_routes,
                metric_tags,
            };
            let rep = d.rep.clone();
            let trace = trace_id.to_string();
            tokio::spawn(async move {
                let updated = match rep_of(rep.as_ref(), &cell, &trace) {
                    Ok(c) => c.update_lrp_instance(&lrp_update).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = updated {
                    tracing::warn!(error = %e, "updating LRP instance failed");
                }
            });
        }
    }
}

fn internal_routes(
    routes: Option<&ProtoRoutes>,
) -> Result<Option<Vec<InternalRoute>>, serde_json::Error> {
    let Some(data) = routes.and_then(|r| r.routes.get(INTERNAL_ROUTER)) else {
        return Ok(None);
    };
    serde_json::from_slice(data).map(Some)
}
