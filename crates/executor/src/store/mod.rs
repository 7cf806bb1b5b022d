//! The container store (Diego's `containerstore`): containers from
//! reservation to deletion, the cell's remaining resources, and the events
//! the rep follows.

mod create;
mod deps;
mod maintenance;
pub mod metrics;
mod run;
pub(crate) mod runner;

use crate::config::ExecutorConfig;
use crate::container::{Container, Resource, RunInfo, RunResult, State, Tags};
use crate::download::Transfers;
use crate::errors::ExecutorError;
use crate::events::Event;
use crate::logs::InstanceLog;
use crate::resources::ExecutorResources;
use garden::Backend;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

/// The property holding the owner's name on every container we create.
pub const OWNER_PROPERTY: &str = "executor:owner";

/// What the rep asks for when it allocates a container.
#[derive(Debug, Clone, Default)]
pub struct AllocationRequest {
    pub guid: String,
    pub resource: Resource,
    pub tags: Tags,
}

#[derive(Clone)]
pub struct ContainerStore {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<dyn Backend>,
    config: ExecutorConfig,
    total: ExecutorResources,
    state: Mutex<StoreState>,
    events: broadcast::Sender<Event>,
    transfers: Arc<Transfers>,
    http: Arc<reqwest::Client>,
    metrics: metrics::Reporter,
}

struct StoreState {
    remaining: ExecutorResources,
    nodes: HashMap<String, Node>,
}

struct Node {
    container: Container,
    log: Arc<InstanceLog>,
    /// Set once the backend container exists.
    created: bool,
    /// Cancels the running steps.
    cancel: Option<CancellationToken>,
    /// Becomes true when the steps have finished.
    finished: Option<watch::Receiver<bool>>,
    /// While the backend container is being created: closed when that
    /// ends, so a delete meanwhile destroys what it made rather than
    /// returning first (and the cell exiting with it left running).
    creating: Option<watch::Receiver<bool>>,
    /// The cached dependencies mounted into the container, released when
    /// it is deleted.
    dependencies: Vec<garden::BindMount>,
}

impl ContainerStore {
    /// A store on `backend`; with `config.capacity` None the capacity is
    /// asked of the backend.
    pub async fn new(
        backend: Arc<dyn Backend>,
        config: ExecutorConfig,
    ) -> Result<Self, ExecutorError> {
        let total = match config.capacity {
            Some(c) => c,
            None => {
                ExecutorResources::from_capacity(backend.capacity().await?, config.max_containers)
            }
        };
        let transfers = Arc::new(Transfers::new(
            &config.temp_dir,
            config.max_concurrent_downloads,
            config.max_concurrent_uploads,
        ));
        let (events, _) = broadcast::channel(1024);
        Ok(Self {
            inner: Arc::new(Inner {
                backend,
                config,
                total,
                state: Mutex::new(StoreState {
                    remaining: total,
                    nodes: HashMap::new(),
                }),
                events,
                transfers,
                http: Arc::new(reqwest::Client::new()),
                metrics: metrics::Reporter::default(),
            }),
        })
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend
    }

    pub fn total_resources(&self) -> ExecutorResources {
        self.inner.total
    }

    pub fn remaining_resources(&self) -> ExecutorResources {
        self.inner.state.lock().unwrap().remaining
    }

    /// Lifecycle events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Reserves the resources of a new container.
    pub fn allocate(&self, req: AllocationRequest) -> Result<Container, ExecutorError> {
        if req.guid.is_empty() {
            return Err(ExecutorError::GuidNotSpecified);
        }
        let container = {
            let mut st = self.inner.state.lock().unwrap();
            if st.nodes.contains_key(&req.guid) {
                return Err(ExecutorError::ContainerGuidNotAvailable);
            }
            if !st.remaining.subtract(&req.resource) {
                return Err(ExecutorError::InsufficientResourcesAvailable);
            }
            let container = Container {
                guid: req.guid.clone(),
                resource: req.resource,
                tags: req.tags,
                state: State::Reserved,
                run_info: RunInfo::default(),
                routable: false,
                allocated_at: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_nanos() as i64)
                    .unwrap_or(0),
                external_ip: String::new(),
                internal_ip: String::new(),
                run_result: RunResult::default(),
                memory_limit: 0,
                disk_limit: 0,
            };
            st.nodes.insert(
                req.guid,
                Node {
                    container: container.clone(),
                    log: InstanceLog::new(self.inner.config.log_buffer_lines),
                    created: false,
                    cancel: None,
                    finished: None,
                    creating: None,
                    dependencies: Vec::new(),
                },
            );
            container
        };
        self.emit(Event::Reserved(container.clone()));
        Ok(container)
    }

    /// Gives a reserved container what it will run.
    pub fn initialize(
        &self,
        guid: &str,
        run_info: RunInfo,
        tags: Tags,
    ) -> Result<(), ExecutorError> {
        let log_config = run_info.log_config.clone();
        let limits = crate::log_rate::RateLimits {
            bytes_per_second: run_info.log_rate_limit.unwrap_or(-1),
            lines_per_second: self.inner.config.max_log_lines_per_second,
        };
        self.update(guid, |c| {
            if !c.state.can_become(State::Initializing) {
                return Err(ExecutorError::InvalidTransition);
            }
            c.state = State::Initializing;
            c.run_info = run_info;
            c.tags.extend(tags);
            Ok(())
        })?;
        let shipping = self
            .inner
            .config
            .log_sender
            .as_ref()
            .and_then(|s| crate::logs::Shipping::new(s, &log_config));
        self.logs(guid)?.configure(shipping, limits);
        Ok(())
    }

    /// Logs one of the executor's own lines (Diego's "Cell ... creating
    /// container ...") on the container's log under its source name.
    fn cell_line(&self, guid: &str, err: bool, text: &str) {
        let st = self.inner.state.lock().unwrap();
        if let Some(node) = st.nodes.get(guid) {
            let source = node.container.run_info.log_config.source_name();
            let stream = if err {
                crate::logs::Stream::Stderr
            } else {
                crate::logs::Stream::Stdout
            };
            node.log.push_cell(source, stream, text);
        }
    }

    pub(crate) fn cell_id(&self) -> &str {
        &self.inner.config.cell_id
    }

    pub fn get(&self, guid: &str) -> Result<Container, ExecutorError> {
        let st = self.inner.state.lock().unwrap();
        st.nodes
            .get(guid)
            .map(|n| n.container.clone())
            .ok_or(ExecutorError::ContainerNotFound)
    }

    /// Every container, oldest allocation first.
    pub fn list(&self) -> Vec<Container> {
        let st = self.inner.state.lock().unwrap();
        let mut all: Vec<_> = st.nodes.values().map(|n| n.container.clone()).collect();
        all.sort_by_key(|c| c.allocated_at);
        all
    }

    pub fn list_with_tags(&self, tags: &Tags) -> Vec<Container> {
        self.list()
            .into_iter()
            .filter(|c| c.has_tags(tags))
            .collect()
    }

    /// The container's instance log.
    pub fn logs(&self, guid: &str) -> Result<Arc<InstanceLog>, ExecutorError> {
        let st = self.inner.state.lock().unwrap();
        st.nodes
            .get(guid)
            .map(|n| n.log.clone())
            .ok_or(ExecutorError::ContainerNotFound)
    }

    /// A tar of `path` in the container (a task's result file).
    pub async fn get_files(&self, guid: &str, path: &str) -> Result<bytes::Bytes, ExecutorError> {
        let created = self.node(guid, |n| n.created)?;
        if !created {
            return Err(ExecutorError::ContainerNotFound);
        }
        Ok(self.inner.backend.stream_out(guid, path).await?)
    }

    pub async fn metrics(&self, guid: &str) -> Result<garden::ContainerMetrics, ExecutorError> {
        let created = self.node(guid, |n| n.created)?;
        if !created {
            return Err(ExecutorError::ContainerNotFound);
        }
        Ok(self.inner.backend.metrics(guid).await?)
    }

    /// Stops the container's steps (TERM, then KILL after the graceful
    /// shutdown interval); a container that was not running completes
    /// failed with "stopped-before-running".
    pub fn stop(&self, guid: &str) -> Result<(), ExecutorError> {
        let completed = {
            let mut st = self.inner.state.lock().unwrap();
            let node = st
                .nodes
                .get_mut(guid)
                .ok_or(ExecutorError::ContainerNotFound)?;
            let already = std::mem::replace(&mut node.container.run_result.stopped, true);
            match &node.cancel {
                Some(cancel) => {
                    if !already {
                        // Diego tells the app's log who stopped it.
                        let source = node.container.run_info.log_config.source_name();
                        let line = format!(
                            "Cell {} stopping instance {}",
                            self.inner.config.cell_id, guid
                        );
                        node.log
                            .push_cell(source, crate::logs::Stream::Stdout, &line);
                    }
                    cancel.cancel();
                    None
                }
                None if node.container.state != State::Completed => {
                    node.container
                        .complete(true, "stopped-before-running", false);
                    Some(node.container.clone())
                }
                None => None,
            }
        };
        if let Some(c) = completed {
            self.emit(Event::Completed(c));
        }
        Ok(())
    }

    /// Stops the container, waits for its steps to end, destroys the
    /// backend container and gives its resources back.
    pub async fn delete(&self, guid: &str) -> Result<(), ExecutorError> {
        self.stop(guid)?;
        let finished = self.node(guid, |n| n.finished.clone())?;
        if let Some(mut finished) = finished {
            let _ = finished.wait_for(|done| *done).await;
        }
        let creating = self.node(guid, |n| n.creating.clone())?;
        if let Some(mut creating) = creating {
            // Ends (Err) once the create returns and drops its sender.
            let _ = creating.wait_for(|done| *done).await;
        }
        let created = self.node(guid, |n| n.created)?;
        if created {
            let cell = self.cell_id().to_string();
            self.cell_line(
                guid,
                false,
                &format!("Cell {cell} destroying container for instance {guid}"),
            );
            match self.inner.backend.destroy(guid).await {
                Ok(()) | Err(garden::GardenError::ContainerNotFound(_)) => {
                    self.cell_line(
                        guid,
                        false,
                        &format!(
                            "Cell {cell} successfully destroyed container for instance {guid}"
                        ),
                    );
                }
                Err(e) => {
                    self.cell_line(
                        guid,
                        false,
                        &format!("Cell {cell} failed to destroy container for instance {guid}"),
                    );
                    return Err(e.into());
                }
            }
        }
        self.inner.metrics.forget(guid);
        let removed = {
            let mut st = self.inner.state.lock().unwrap();
            let node = st.nodes.remove(guid);
            if let Some(node) = &node {
                st.remaining.add(&node.container.resource);
            }
            node
        };
        if let Some(node) = removed {
            self.release_dependencies(&node.dependencies);
        }
        Ok(())
    }

    fn emit(&self, event: Event) {
        // Nobody listening is fine.
        let _ = self.inner.events.send(event);
    }

    fn node<T>(&self, guid: &str, f: impl FnOnce(&Node) -> T) -> Result<T, ExecutorError> {
        let st = self.inner.state.lock().unwrap();
        st.nodes
            .get(guid)
            .map(f)
            .ok_or(ExecutorError::ContainerNotFound)
    }

    fn update_node(&self, guid: &str, f: impl FnOnce(&mut Node)) -> Result<(), ExecutorError> {
        let mut st = self.inner.state.lock().unwrap();
        let node = st
            .nodes
            .get_mut(guid)
            .ok_or(ExecutorError::ContainerNotFound)?;
        f(node);
        Ok(())
    }

    fn update<T>(
        &self,
        guid: &str,
        f: impl FnOnce(&mut Container) -> Result<T, ExecutorError>,
    ) -> Result<T, ExecutorError> {
        let mut st = self.inner.state.lock().unwrap();
        let node = st
            .nodes
            .get_mut(guid)
            .ok_or(ExecutorError::ContainerNotFound)?;
        f(&mut node.container)
    }

    /// Completes the container and tells the rep.
    fn complete(&self, guid: &str, failed: bool, reason: &str, retryable: bool) {
        let done = self.update(guid, |c| {
            c.complete(failed, reason, retryable);
            c.routable = false;
            Ok(c.clone())
        });
        if let Ok(c) = done {
            self.emit(Event::Completed(c));
        }
    }
}
