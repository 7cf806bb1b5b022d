//! Creating the backend container of an initialized container.

use super::deps;
use super::*;
use crate::container::PortMapping;
use garden::{ContainerSpec, Limits};

const MB: u64 = 1024 * 1024;

impl ContainerStore {
    /// Creates the backend container with the limits, env and ports of the
    /// run info. A failure completes the container (retryable) with
    /// "failed to create container: ...".
    pub async fn create(&self, guid: &str) -> Result<Container, ExecutorError> {
        let container = self.update(guid, |c| {
            if c.state != State::Initializing {
                return Err(ExecutorError::InvalidTransition);
            }
            Ok(c.clone())
        })?;
        let info = &container.run_info;
        let bind_mounts = match self.fetch_cached_dependencies(guid, info).await {
            Ok(m) => m,
            Err(e) => {
                self.complete(guid, true, deps::DOWNLOAD_CACHED_DEPENDENCIES_FAILED, true);
                return Err(ExecutorError::CachedDependencies(e));
            }
        };
        // Kept with the node from now on: deleting it releases them. A
        // delete from now on waits for this create to end (`_creating`
        // is dropped on every return).
        let (_creating, creating) = watch::channel(false);
        let kept = self.update_node(guid, |n| {
            n.dependencies = bind_mounts.clone();
            n.creating = Some(creating);
        });
        if kept.is_err() {
            self.release_dependencies(&bind_mounts);
            return Err(ExecutorError::ContainerNotFound);
        }
        // The same container port mapped twice is mapped once.
        let mut ports: Vec<PortMapping> = Vec::new();
        for p in &info.ports {
            if !ports.iter().any(|q| q.container_port == p.container_port) {
                ports.push(*p);
            }
        }
        let log_config = serde_json::json!({
            "guid": info.log_config.guid,
            "index": info.log_config.index,
            "source_name": info.log_config.source_name,
        });
        let net_out = match crate::netout::net_out_rules(&info.egress_rules) {
            Ok(rules) => rules,
            Err(e) => {
                tracing::warn!(guid, "invalid egress rule: {e}");
                self.complete(
                    guid,
                    true,
                    &format!("failed to create container: {e}"),
                    true,
                );
                return Err(garden::GardenError::InvalidSpec(e).into());
            }
        };
        let spec = ContainerSpec {
            handle: guid.to_string(),
            image: info.rootfs.clone(),
            image_username: info.image_username.clone(),
            image_password: info.image_password.clone(),
            env: info.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            bind_mounts,
            limits: Limits {
                memory_bytes: container.resource.memory_mb.max(0) as u64 * MB,
                disk_bytes: container.resource.disk_mb.max(0) as u64 * MB,
                max_pids: container.resource.max_pids.max(0) as u64,
                cpu_weight: info.cpu_weight,
            },
            net_in: ports
                .iter()
                .map(|p| garden::PortMapping {
                    host_port: p.host_port,
                    container_port: p.container_port,
                })
                .collect(),
            properties: [
                (
                    OWNER_PROPERTY.to_string(),
                    self.inner.config.owner_name.clone(),
                ),
                ("log_config".to_string(), log_config.to_string()),
            ]
            .into(),
            privileged: info.privileged,
            net_out,
        };
        let limits = spec.limits.clone();
        let cell = self.cell_id().to_string();
        self.cell_line(
            guid,
            false,
            &format!("Cell {cell} creating container for instance {guid}"),
        );
        let created = match self.inner.backend.create(spec).await {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(guid, "creating container failed: {e}");
                self.cell_line(
                    guid,
                    true,
                    &format!("Cell {cell} failed to create container for instance {guid}: {e}"),
                );
                self.complete(
                    guid,
                    true,
                    &format!("failed to create container: {e}"),
                    true,
                );
                return Err(e.into());
            }
        };
        let mapped: Vec<PortMapping> = ports
            .iter()
            .map(|p| PortMapping {
                container_port: p.container_port,
                host_port: created
                    .mapped_ports
                    .iter()
                    .find(|m| m.container_port == p.container_port)
                    .map(|m| m.host_port)
                    .unwrap_or(p.host_port),
            })
            .collect();
        let result = {
            let mut st = self.inner.state.lock().unwrap();
            match st.nodes.get_mut(guid) {
                Some(node) => {
                    node.created = true;
                    let c = &mut node.container;
                    if c.state == State::Initializing {
                        c.state = State::Created;
                    }
                    c.run_info.ports = mapped;
                    c.external_ip = created.external_ip.clone();
                    c.internal_ip = created.container_ip.clone();
                    c.memory_limit = limits.memory_bytes;
                    c.disk_limit = limits.disk_bytes;
                    Some(c.clone())
                }
                None => None,
            }
        };
        match result {
            Some(c) if c.state == State::Created => {
                self.cell_line(
                    guid,
                    false,
                    &format!("Cell {cell} successfully created container for instance {guid}"),
                );
                self.inner.metrics.created(guid);
                self.emit(Event::Created(c.clone()));
                Ok(c)
            }
            Some(_) => Err(ExecutorError::InvalidTransition),
            None => {
                // Deleted meanwhile: the backend container goes too.
                let _ = self.inner.backend.destroy(guid).await;
                Err(ExecutorError::ContainerNotFound)
            }
        }
    }
}
