//! `GET /state`: the cell's [`CellState`] from the executor's containers and
//! resources (Diego's `AuctionCellRep.State`).

use crate::cell::CellInfo;
use crate::executor_client::{ExecutorClient, ExecutorError};
use crate::tags;
use executor::{Container, ExecutorResources, State};
use models::rep::{CellState, Lrp, PlacementConstraint, Resource, Resources, Task};

fn resources(r: ExecutorResources) -> Resources {
    Resources::new(r.memory_mb, r.disk_mb, r.containers)
}

/// Reserved, initializing and created containers are still starting.
pub fn is_starting(c: &Container) -> bool {
    matches!(
        c.state,
        State::Reserved | State::Initializing | State::Created
    )
}

/// The LRP state the auctioneer sees for a container.
fn lrp_state(c: &Container) -> &'static str {
    match c.state {
        State::Running => models::actual_lrp_state::RUNNING,
        State::Completed if c.run_result.failed => models::actual_lrp_state::CRASHED,
        State::Completed => "SHUTDOWN",
        _ => models::actual_lrp_state::CLAIMED,
    }
}

/// What one container contributes: an LRP or a task (or nothing when its
/// tags name neither).
fn describe(c: &Container, cell_id: &str) -> Option<Result<Lrp, Task>> {
    let resource = Resource::new(
        c.resource.memory_mb,
        c.resource.disk_mb,
        c.resource.max_pids,
    );
    let (placement_tags, volume_drivers) = tags::placement_from_tags(&c.tags);
    let pc = PlacementConstraint::new(&c.run_info.rootfs, placement_tags, volume_drivers);
    match c.tags.get(tags::LIFECYCLE).map(String::as_str) {
        Some(tags::LRP_LIFECYCLE) => {
            let key = tags::actual_lrp_key(&c.tags)?;
            let ik = tags::actual_lrp_instance_key(&c.tags, cell_id)?;
            let mut lrp = Lrp::new(&ik.instance_guid, &key, resource, pc);
            lrp.state = lrp_state(c).to_string();
            Some(Ok(lrp))
        }
        Some(tags::TASK_LIFECYCLE) => {
            let domain = c.tags.get(tags::DOMAIN).cloned().unwrap_or_default();
            let mut task = Task::new(&c.guid, &domain, resource, pc);
            task.state = if c.state == State::Completed {
                "Completed"
            } else {
                "Running"
            }
            .to_string();
            task.failed = c.run_result.failed;
            Some(Err(task))
        }
        _ => None,
    }
}

/// The cell's state now; `healthy` false when the backend does not answer
/// (`/state` then answers 503 with the state).
pub async fn cell_state(
    cell: &CellInfo,
    executor: &dyn ExecutorClient,
    evacuating: bool,
) -> Result<(CellState, bool), ExecutorError> {
    let containers = executor.list_containers().await?;
    let total = executor.total_resources().await?;
    let available = executor.remaining_resources().await?;
    let volume_drivers = executor.volume_drivers().await?;
    let mut lrps = Vec::new();
    let mut tasks = Vec::new();
    let mut starting = 0;
    for c in &containers {
        if is_starting(c) {
            starting += 1;
        }
        match describe(c, &cell.cell_id) {
            Some(Ok(l)) => lrps.push(l),
            Some(Err(t)) => tasks.push(t),
            None => tracing::error!(guid = %c.guid, "failed-to-extract-container-tags"),
        }
    }
    let state = CellState {
        rep_url: cell.rep_url.clone(),
        cell_id: cell.cell_id.clone(),
        cell_index: cell.cell_index,
        root_fs_providers: cell.root_fs_providers(),
        available_resources: resources(available),
        total_resources: resources(total),
        lrps,
        tasks,
        starting_container_count: starting,
        zone: cell.zone.clone(),
        evacuating,
        volume_drivers,
        placement_tags: cell.placement_tags.clone(),
        optional_placement_tags: cell.optional_placement_tags.clone(),
        proxy_memory_allocation_mb: if cell.enable_container_proxy {
            cell.proxy_memory_allocation_mb
        } else {
            0
        },
    };
    Ok((state, executor.healthy().await))
}
