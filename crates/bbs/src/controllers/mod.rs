//! Controllers: the BBS's behaviour behind each lifecycle route (Diego's
//! controllers and the desired-LRP handler logic), over the store, the event
//! hubs and the outgoing clients.

pub mod actual_lrp;
pub mod desired_lrp;
pub mod evacuation;
pub mod lrp_convergence;
pub mod routes_json;
pub mod task;

use crate::clients::{AuctioneerClient, CellPresences, LrpStartRequest};
use crate::db::{ActualLrpFilter, Store};
use crate::events::Hubs;
use crate::taskcallback::TaskCompletionPool;
use models::actual_lrp::Presence;
use models::{ActualLrp, ActualLrpInstanceKey, ActualLrpKey, BbsError, DesiredLrpSchedulingInfo};
use std::sync::Arc;

pub use actual_lrp::ActualLrpLifecycleController;
pub use desired_lrp::DesiredLrpController;
pub use evacuation::EvacuationController;
pub use task::TaskController;

/// Everything a controller may use.
pub struct Deps {
    pub store: Arc<dyn Store>,
    pub hubs: Arc<Hubs>,
    pub auctioneer: Arc<dyn AuctioneerClient>,
    /// Reaches the reps (Diego's rep client factory).
    pub rep: Arc<dyn rep_client::ClientFactory>,
    pub cells: Arc<dyn CellPresences>,
    pub task_completion: Arc<TaskCompletionPool>,
    /// `max_task_retries`: rejections before a task is failed.
    pub max_task_retries: i32,
}

impl Deps {
    /// Asks the auctioneer to place instance `key.index` again; a failure
    /// is only logged, as in Diego.
    pub(crate) async fn request_auction(
        &self,
        trace_id: &str,
        info: &DesiredLrpSchedulingInfo,
        key: &ActualLrpKey,
    ) {
        let start = LrpStartRequest::from_scheduling_info(info, vec![key.index]);
        if let Err(e) = self
            .auctioneer
            .request_lrp_auctions(trace_id, vec![start])
            .await
        {
            tracing::warn!(error = %e, process_guid = %key.process_guid, "failed requesting auction");
        }
    }
}

/// All controllers over one set of dependencies.
#[derive(Clone)]
pub struct Controllers {
    pub actual_lrp: ActualLrpLifecycleController,
    pub evacuation: EvacuationController,
    pub desired_lrp: DesiredLrpController,
    pub task: TaskController,
    pub deps: Arc<Deps>,
}

impl Controllers {
    pub fn new(deps: Arc<Deps>) -> Self {
        Self {
            actual_lrp: ActualLrpLifecycleController::new(deps.clone()),
            evacuation: EvacuationController::new(deps.clone()),
            desired_lrp: DesiredLrpController::new(deps.clone()),
            task: TaskController::new(deps.clone()),
            deps,
        }
    }
}

pub(crate) async fn lrps_at(
    store: &dyn Store,
    process_guid: &str,
    index: i32,
) -> Result<Vec<ActualLrp>, BbsError> {
    store
        .actual_lrps(&ActualLrpFilter {
            process_guid: process_guid.to_string(),
            index: Some(index),
            ..Default::default()
        })
        .await
}

pub(crate) fn find_with_presence(lrps: &[ActualLrp], presence: Presence) -> Option<&ActualLrp> {
    lrps.iter().find(|l| l.presence() == presence)
}

pub(crate) fn lookup_by_instance_key<'a>(
    lrps: &'a [ActualLrp],
    key: &ActualLrpInstanceKey,
) -> Option<&'a ActualLrp> {
    lrps.iter().find(|l| l.instance_key() == *key)
}
