//! What the rep needs of the executor (the calls of Diego's
//! `executor.Client` the rep makes). The in-process executor
//! ([`executor`] crate) implements it in [`crate::executor_store`].

use async_trait::async_trait;
use executor::{Container, Event, ExecutorResources, Resource, RunInfo, Tags};
use tokio::sync::mpsc;

/// One container to reserve (Diego's `AllocationRequest`).
#[derive(Debug, Clone, PartialEq)]
pub struct AllocationRequest {
    pub guid: String,
    pub resource: Resource,
    pub tags: Tags,
}

/// A reservation that failed, with the executor's reason.
#[derive(Debug, Clone, PartialEq)]
pub struct AllocationFailure {
    pub request: AllocationRequest,
    pub error: String,
}

/// Why an executor call failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    #[error("container not found")]
    ContainerNotFound,
    #[error("{0}")]
    Other(String),
}

#[async_trait]
pub trait ExecutorClient: Send + Sync {
    /// Reserves containers; the failures (what did not fit).
    async fn allocate_containers(&self, requests: Vec<AllocationRequest>)
        -> Vec<AllocationFailure>;
    async fn get_container(&self, guid: &str) -> Result<Container, ExecutorError>;
    /// Initializes a reserved container and runs it; `tags` are added.
    async fn run_container(
        &self,
        guid: &str,
        run_info: RunInfo,
        tags: Tags,
    ) -> Result<(), ExecutorError>;
    /// Stops the container's processes; it completes with `stopped` set.
    async fn stop_container(&self, guid: &str) -> Result<(), ExecutorError>;
    /// Destroys the container and releases what it held.
    async fn delete_container(&self, guid: &str) -> Result<(), ExecutorError>;
    async fn list_containers(&self) -> Result<Vec<Container>, ExecutorError>;
    async fn remaining_resources(&self) -> Result<ExecutorResources, ExecutorError>;
    async fn total_resources(&self) -> Result<ExecutorResources, ExecutorError>;
    /// A tar stream of `path` in the container.
    async fn get_files(&self, guid: &str, path: &str) -> Result<bytes::Bytes, ExecutorError>;
    /// Usage of a created container (not found before it is created).
    async fn metrics(&self, guid: &str) -> Result<garden::ContainerMetrics, ExecutorError>;
    async fn volume_drivers(&self) -> Result<Vec<String>, ExecutorError> {
        Ok(vec![])
    }
    /// Lifecycle events of every container from now on.
    async fn subscribe(&self) -> Result<mpsc::Receiver<Event>, ExecutorError>;
    /// Whether the container backend answers.
    async fn healthy(&self) -> bool;
    /// The container's instance log (`diego logs`); executors that keep
    /// none answer `None`.
    fn instance_log(&self, _guid: &str) -> Option<std::sync::Arc<executor::logs::InstanceLog>> {
        None
    }
    /// The container's latest metrics sample (for its CPU percentage);
    /// executors that measure none answer `None`.
    fn latest_metrics(&self, _guid: &str) -> Option<executor::store::metrics::Sample> {
        None
    }
    /// The rep is stopping with its containers deleted: the container
    /// backend gives back what it holds for containers as a whole (kept
    /// while any container is left).
    async fn release_backend(&self) {}
}
