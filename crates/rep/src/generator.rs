//! The bulk sync's operations (Diego's `generator.BatchOperations`): one
//! per container, plus one per BBS record on this cell that has no
//! container (an actual LRP, evacuating or not, or a task).

use crate::delegate::Context;
use crate::operation::Operation;
use bbs_client::{ActualLrpFilter, TaskFilter};
use std::collections::{BTreeMap, BTreeSet};

pub async fn batch_operations(ctx: &Context) -> anyhow::Result<Vec<Operation>> {
    let lrp_filter = ActualLrpFilter::cell(&ctx.cell_id);
    let task_filter = TaskFilter {
        cell_id: ctx.cell_id.clone(),
        ..Default::default()
    };
    let (containers, lrps, tasks) = tokio::join!(
        ctx.executor.list_containers(),
        ctx.bbs.actual_lrps(&lrp_filter),
        ctx.bbs.tasks(&task_filter),
    );
    let containers = containers.map_err(|e| anyhow::anyhow!("failed to list containers: {e}"))?;
    let lrps = lrps.map_err(|e| anyhow::anyhow!("failed to retrieve lrps: {e}"))?;
    let tasks = tasks.map_err(|e| anyhow::anyhow!("failed to retrieve tasks: {e}"))?;

    let mut instance = BTreeMap::new();
    let mut evacuating = BTreeMap::new();
    for l in lrps {
        let (Some(key), Some(ik)) = (l.actual_lrp_key.clone(), l.actual_lrp_instance_key.clone())
        else {
            continue;
        };
        let guid = ik.instance_guid.clone();
        if l.presence == models::actual_lrp::Presence::Evacuating as i32 {
            evacuating.insert(guid, (key, ik));
        } else {
            instance.insert(guid, (key, ik));
        }
    }

    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut ops = Vec::new();
    for c in containers {
        seen.insert(c.guid.clone());
        ops.push(Operation::Container(c.guid));
    }
    for (guid, (key, ik)) in &instance {
        if seen.insert(guid.clone()) {
            ops.push(if evacuating.contains_key(guid) {
                Operation::ResidualJointLrp(key.clone(), ik.clone())
            } else {
                Operation::ResidualInstanceLrp(key.clone(), ik.clone())
            });
        }
    }
    for (guid, (key, ik)) in evacuating {
        if seen.insert(guid) {
            ops.push(Operation::ResidualEvacuatingLrp(key, ik));
        }
    }
    for t in tasks {
        if seen.insert(t.task_guid.clone()) {
            ops.push(Operation::ResidualTask(t.task_guid));
        }
    }
    Ok(ops)
}
