//! `POST /work`: reserve containers for the LRP instances and tasks the
//! auctioneer placed here; answer what could not be reserved (Diego's
//! `AuctionCellRep.Perform` and its batch container allocator).

use crate::cell::CellInfo;
use crate::executor_client::{AllocationRequest, ExecutorClient, ExecutorError};
use crate::tags;
use executor::Resource;
use models::rep::{Lrp, Task, Work};
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum PerformError {
    #[error("workload cell ID does not match this cell")]
    CellIdMismatch,
    #[error(transparent)]
    Executor(#[from] ExecutorError),
}

/// Diego's instance guids are v4 UUIDs cut to 28 characters.
pub fn generate_instance_guid() -> String {
    let mut g = uuid::Uuid::new_v4().to_string();
    g.truncate(28);
    g
}

/// Reserves what fits; the failed work. While evacuating the whole work
/// is answered as failed.
pub async fn perform(
    cell: &CellInfo,
    executor: &dyn ExecutorClient,
    evacuating: bool,
    mut work: Work,
) -> Result<Work, PerformError> {
    if !work.cell_id.is_empty() && work.cell_id != cell.cell_id {
        return Err(PerformError::CellIdMismatch);
    }
    let remaining = executor.remaining_resources().await?;
    let proxy = if cell.enable_container_proxy {
        cell.proxy_memory_allocation_mb
    } else {
        0
    };
    // Largest first, so memory goes to the biggest instances that fit.
    work.lrps
        .sort_by_key(|l| std::cmp::Reverse(l.resource.memory_mb));
    let mut failed = Work::default();
    let mut memory = remaining.memory_mb;
    let mut lrps = Vec::new();
    for lrp in work.lrps.drain(..) {
        let need = lrp.resource.memory_mb + proxy;
        if need <= memory {
            memory -= need;
            lrps.push(lrp);
        } else {
            failed.lrps.push(lrp);
        }
    }
    if evacuating {
        return Ok(Work {
            lrps: failed.lrps.into_iter().chain(lrps).collect(),
            tasks: work.tasks,
            cell_id: String::new(),
        });
    }
    failed
        .lrps
        .extend(allocate_lrps(cell, executor, lrps, proxy).await);
    failed.tasks = allocate_tasks(cell, executor, work.tasks).await;
    Ok(failed)
}

async fn allocate_lrps(
    cell: &CellInfo,
    executor: &dyn ExecutorClient,
    lrps: Vec<Lrp>,
    proxy_mb: i32,
) -> Vec<Lrp> {
    let mut unallocated = Vec::new();
    let mut by_guid = HashMap::new();
    let mut requests = Vec::new();
    for lrp in lrps {
        if !cell.knows_rootfs(&lrp.placement_constraint.root_fs) {
            unallocated.push(lrp);
            continue;
        }
        let instance_guid = generate_instance_guid();
        let mut memory_mb = lrp.resource.memory_mb;
        if memory_mb > 0 {
            memory_mb += proxy_mb;
        }
        let guid = tags::lrp_container_guid(&lrp.process_guid, &instance_guid);
        requests.push(AllocationRequest {
            guid: guid.clone(),
            resource: Resource {
                memory_mb,
                disk_mb: lrp.resource.disk_mb,
                max_pids: lrp.resource.max_pids,
            },
            tags: tags::lrp_tags(&lrp, &instance_guid),
        });
        by_guid.insert(guid, lrp);
    }
    if !requests.is_empty() {
        for f in executor.allocate_containers(requests).await {
            tracing::error!(guid = %f.request.guid, error = %f.error, "container-allocation-failure");
            if let Some(lrp) = by_guid.remove(&f.request.guid) {
                unallocated.push(lrp);
            }
        }
    }
    unallocated
}

async fn allocate_tasks(
    cell: &CellInfo,
    executor: &dyn ExecutorClient,
    tasks: Vec<Task>,
) -> Vec<Task> {
    let mut unallocated = Vec::new();
    let mut by_guid = HashMap::new();
    let mut requests = Vec::new();
    for task in tasks {
        if !cell.knows_rootfs(&task.placement_constraint.root_fs) {
            unallocated.push(task);
            continue;
        }
        requests.push(AllocationRequest {
            guid: task.task_guid.clone(),
            resource: Resource {
                memory_mb: task.resource.memory_mb,
                disk_mb: task.resource.disk_mb,
                max_pids: task.resource.max_pids,
            },
            tags: tags::task_tags(&task),
        });
        by_guid.insert(task.task_guid.clone(), task);
    }
    if !requests.is_empty() {
        for f in executor.allocate_containers(requests).await {
            tracing::error!(guid = %f.request.guid, error = %f.error, "container-allocation-failure");
            if let Some(t) = by_guid.remove(&f.request.guid) {
                unallocated.push(t);
            }
        }
    }
    unallocated
}
