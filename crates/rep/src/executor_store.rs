//! [`ExecutorClient`] over the in-process executor's
//! [`executor::ContainerStore`], as Diego's executor client drives its
//! container store: `RunContainer` initializes at once and creates + runs
//! in the background (a failure there completes the container, and the
//! rep hears of it through the events).

use crate::executor_client::{AllocationFailure, AllocationRequest, ExecutorClient, ExecutorError};
use async_trait::async_trait;
use executor::{Container, ContainerStore, Event, ExecutorResources, RunInfo, Tags};
use tokio::sync::{broadcast, mpsc};

fn convert(e: executor::ExecutorError) -> ExecutorError {
    match e {
        executor::ExecutorError::ContainerNotFound => ExecutorError::ContainerNotFound,
        e => ExecutorError::Other(e.to_string()),
    }
}

pub struct StoreClient {
    store: ContainerStore,
}

impl StoreClient {
    pub fn new(store: ContainerStore) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &ContainerStore {
        &self.store
    }
}

#[async_trait]
impl ExecutorClient for StoreClient {
    async fn allocate_containers(
        &self,
        requests: Vec<AllocationRequest>,
    ) -> Vec<AllocationFailure> {
        let mut failures = Vec::new();
        for r in requests {
            let req = executor::AllocationRequest {
                guid: r.guid.clone(),
                resource: r.resource,
                tags: r.tags.clone(),
            };
            if let Err(e) = self.store.allocate(req) {
                failures.push(AllocationFailure {
                    request: r,
                    error: e.to_string(),
                });
            }
        }
        failures
    }

    async fn get_container(&self, guid: &str) -> Result<Container, ExecutorError> {
        self.store.get(guid).map_err(convert)
    }

    async fn run_container(
        &self,
        guid: &str,
        run_info: RunInfo,
        tags: Tags,
    ) -> Result<(), ExecutorError> {
        self.store
            .initialize(guid, run_info, tags)
            .map_err(convert)?;
        let store = self.store.clone();
        let guid = guid.to_string();
        tokio::spawn(async move {
            if store.create(&guid).await.is_err() {
                // The store completed the container with the reason.
                return;
            }
            if let Err(e) = store.run(&guid) {
                tracing::error!(guid, error = %e, "failed-to-run-container");
                // Steps that cannot be built: stopping a container that
                // never ran completes it, so the rep reports the instance.
                let _ = store.stop(&guid);
            }
        });
        Ok(())
    }

    async fn stop_container(&self, guid: &str) -> Result<(), ExecutorError> {
        self.store.stop(guid).map_err(convert)
    }

    async fn delete_container(&self, guid: &str) -> Result<(), ExecutorError> {
        self.store.delete(guid).await.map_err(convert)
    }

    async fn list_containers(&self) -> Result<Vec<Container>, ExecutorError> {
        Ok(self.store.list())
    }

    fn instance_log(&self, guid: &str) -> Option<std::sync::Arc<executor::logs::InstanceLog>> {
        self.store.logs(guid).ok()
    }

    fn latest_metrics(&self, guid: &str) -> Option<executor::store::metrics::Sample> {
        self.store.latest_metrics(guid)
    }

    async fn remaining_resources(&self) -> Result<ExecutorResources, ExecutorError> {
        Ok(self.store.remaining_resources())
    }

    async fn total_resources(&self) -> Result<ExecutorResources, ExecutorError> {
        Ok(self.store.total_resources())
    }

    async fn get_files(&self, guid: &str, path: &str) -> Result<bytes::Bytes, ExecutorError> {
        self.store.get_files(guid, path).await.map_err(convert)
    }

    async fn metrics(&self, guid: &str) -> Result<garden::ContainerMetrics, ExecutorError> {
        self.store.metrics(guid).await.map_err(convert)
    }

    async fn subscribe(&self) -> Result<mpsc::Receiver<Event>, ExecutorError> {
        let mut rx = self.store.subscribe();
        let (tx, out) = mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(e) => {
                        if tx.send(e).await.is_err() {
                            return;
                        }
                    }
                    // Missed events: the next bulk sync catches up.
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::error!(missed = n, "executor-events-lagged");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Ok(out)
    }

    async fn healthy(&self) -> bool {
        self.store.backend().ping().await.is_ok()
    }

    async fn release_backend(&self) {
        self.store.backend().release_parents().await;
    }
}
