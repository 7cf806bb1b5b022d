//! `GET /container_metrics`: usage of every created container, in Diego's
//! `ContainerMetricsCollection` JSON ([`models::rep::container_metrics`]).
//! CPU usage fraction comes from the executor's latest sample (usage
//! delta over wall time, [`executor::store::metrics`]); 0 before the
//! container's second sample.

use crate::executor_client::ExecutorClient;
use crate::tags;
pub use models::rep::container_metrics::{
    CachedContainerMetrics, ContainerMetricsCollection, LrpMetric, TaskMetric,
};

pub async fn collect(
    cell_id: &str,
    executor: &dyn ExecutorClient,
) -> anyhow::Result<ContainerMetricsCollection> {
    let mut out = ContainerMetricsCollection {
        cell_id: cell_id.to_string(),
        lrps: vec![],
        tasks: vec![],
    };
    for c in executor.list_containers().await? {
        // Containers not created yet have no metrics.
        let Ok(m) = executor.metrics(&c.guid).await else {
            continue;
        };
        let metrics = CachedContainerMetrics {
            metric_guid: c.run_info.log_config.guid.clone(),
            cpu_usage_fraction: executor
                .latest_metrics(&c.guid)
                .map_or(0.0, |s| s.cpu_percentage / 100.0),
            disk_usage_bytes: m.disk_usage_bytes,
            disk_quota_bytes: c.disk_limit,
            memory_usage_bytes: m.memory_usage_bytes,
            memory_quota_bytes: c.memory_limit,
        };
        match c.tags.get(tags::LIFECYCLE).map(String::as_str) {
            Some(tags::LRP_LIFECYCLE) => {
                let (Some(key), Some(ik)) = (
                    tags::actual_lrp_key(&c.tags),
                    tags::actual_lrp_instance_key(&c.tags, cell_id),
                ) else {
                    continue;
                };
                out.lrps.push(LrpMetric {
                    instance_guid: ik.instance_guid,
                    process_guid: key.process_guid,
                    index: key.index,
                    metrics,
                });
            }
            Some(tags::TASK_LIFECYCLE) => out.tasks.push(TaskMetric {
                task_guid: c.guid.clone(),
                metrics,
            }),
            _ => {}
        }
    }
    Ok(out)
}
