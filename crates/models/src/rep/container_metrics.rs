//! `GET /container_metrics` answer (`rep.ContainerMetricsCollection`):
//! usage of every created container on a cell.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CachedContainerMetrics {
    pub metric_guid: String,
    pub cpu_usage_fraction: f64,
    pub disk_usage_bytes: u64,
    pub disk_quota_bytes: u64,
    pub memory_usage_bytes: u64,
    pub memory_quota_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LrpMetric {
    pub instance_guid: String,
    pub process_guid: String,
    pub index: i32,
    #[serde(flatten)]
    pub metrics: CachedContainerMetrics,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskMetric {
    pub task_guid: String,
    #[serde(flatten)]
    pub metrics: CachedContainerMetrics,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ContainerMetricsCollection {
    pub cell_id: String,
    pub lrps: Vec<LrpMetric>,
    pub tasks: Vec<TaskMetric>,
}
