//! houdini: a backend without isolation, like Garden's houdini, for
//! machines where runc cannot run (not root) and for tests.
//!
//! Each container is a directory under the depot; its processes are host
//! processes (one process group each) started in that directory, with the
//! container's env. Paths a process names are looked up inside the
//! container directory first, then on the host, so host tools (`/bin/sh`)
//! work without a rootfs. Users are ignored: everything runs as the
//! backend's own user.
//!
//! Ports: processes share the host's network, so a container port *is* a
//! host port. A mapping asking for host port 0 is reported as
//! `host_port == container_port`; instances on one houdini cell must
//! therefore listen on distinct ports. Limits are recorded, not enforced,
//! and no "out of memory" event is ever reported; egress rules are not
//! enforced either (processes reach whatever the host does), and
//! `privileged` makes no difference.

mod process;
mod tar;

use crate::api::*;
use async_trait::async_trait;
use bytes::Bytes;
use process::HoudiniProcess;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncRead;

pub struct HoudiniBackend {
    depot: PathBuf,
    capacity: Capacity,
    containers: Mutex<HashMap<String, Container>>,
    /// Stop's wait between SIGTERM and SIGKILL.
    stop_timeout: std::time::Duration,
}

struct Container {
    spec: ContainerSpec,
    dir: PathBuf,
    processes: Vec<Arc<HoudiniProcess>>,
    next_process: u64,
    /// Garden's Stop ended its processes: Info's state "stopped".
    stopped: bool,
}

impl HoudiniBackend {
    /// Containers live in `depot/<handle>`; `capacity` is what the backend
    /// offers the executor.
    pub fn new(depot: impl Into<PathBuf>, capacity: Capacity) -> Result<Self, GardenError> {
        let depot = depot.into();
        std::fs::create_dir_all(&depot)?;
        Ok(Self {
            depot,
            capacity,
            containers: Mutex::new(HashMap::new()),
            stop_timeout: crate::config::DEFAULT_STOP_TIMEOUT,
        })
    }

    /// Stop's wait between SIGTERM and SIGKILL (Garden's 10 s by default).
    pub fn with_stop_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    /// The host's memory (from /proc/meminfo) and the depot filesystem's
    /// size, with `max_containers`.
    pub fn host_capacity(depot: &Path, max_containers: u64) -> Capacity {
        let memory_bytes = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
            .map(|kb| kb * 1024)
            .unwrap_or(4 << 30);
        let disk_bytes = std::process::Command::new("df")
            .args(["-B1", "--output=size"])
            .arg(depot)
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .nth(1)
                    .and_then(|l| l.trim().parse::<u64>().ok())
            })
            .unwrap_or(100 << 30);
        Capacity {
            memory_bytes,
            disk_bytes,
            max_containers,
        }
    }

    fn dir_of(&self, handle: &str) -> Result<PathBuf, GardenError> {
        let containers = self.containers.lock().unwrap();
        containers
            .get(handle)
            .map(|c| c.dir.clone())
            .ok_or_else(|| GardenError::ContainerNotFound(handle.to_string()))
    }
}

/// `path` (absolute in the container's view) under the container directory;
/// `..` components cannot climb out of it.
pub(crate) fn in_container(dir: &Path, path: &str) -> PathBuf {
    let mut out = dir.to_path_buf();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::ParentDir if out != dir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Bind mounts without mount namespaces: a symlink at the destination in
/// the container directory (read-only is not enforced). Destroying the
/// container removes the links, never what they point to.
fn link_bind_mounts(dir: &Path, mounts: &[BindMount]) -> std::io::Result<()> {
    for m in mounts {
        let link = in_container(dir, &m.dst_path);
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::os::unix::fs::symlink(&m.src_path, &link)?;
    }
    Ok(())
}

#[async_trait]
impl Backend for HoudiniBackend {
    async fn ping(&self) -> Result<(), GardenError> {
        Ok(())
    }

    async fn create(&self, spec: ContainerSpec) -> Result<ContainerInfo, GardenError> {
        if spec.handle.is_empty() || spec.handle.contains('/') || spec.handle.starts_with('.') {
            return Err(GardenError::InvalidSpec(format!(
                "bad handle {:?}",
                spec.handle
            )));
        }
        if crate::image_rootfs::is_image(&spec.image) {
            return Err(GardenError::InvalidSpec(format!(
                "cannot run {}: houdini runs host processes, not images (the runc backend pulls them)",
                spec.image
            )));
        }
        let dir = self.depot.join(&spec.handle);
        {
            let mut containers = self.containers.lock().unwrap();
            if containers.contains_key(&spec.handle) {
                return Err(GardenError::HandleExists(spec.handle));
            }
            containers.insert(
                spec.handle.clone(),
                Container {
                    spec: spec.clone(),
                    dir: dir.clone(),
                    processes: Vec::new(),
                    next_process: 0,
                    stopped: false,
                },
            );
        }
        let made = match tokio::fs::create_dir_all(&dir).await {
            Ok(()) => link_bind_mounts(&dir, &spec.bind_mounts),
            Err(e) => Err(e),
        };
        if let Err(e) = made {
            self.containers.lock().unwrap().remove(&spec.handle);
            let _ = tokio::fs::remove_dir_all(&dir).await;
            return Err(e.into());
        }
        self.info(&spec.handle).await
    }

    async fn destroy(&self, handle: &str) -> Result<(), GardenError> {
        let container = self
            .containers
            .lock()
            .unwrap()
            .remove(handle)
            .ok_or_else(|| GardenError::ContainerNotFound(handle.to_string()))?;
        for p in &container.processes {
            p.kill_group();
        }
        for p in &container.processes {
            let _ = p.wait().await;
        }
        match tokio::fs::remove_dir_all(&container.dir).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn containers(&self, filter: &Properties) -> Result<Vec<String>, GardenError> {
        let containers = self.containers.lock().unwrap();
        let mut handles: Vec<String> = containers
            .iter()
            .filter(|(_, c)| {
                filter
                    .iter()
                    .all(|(k, v)| c.spec.properties.get(k) == Some(v))
            })
            .map(|(h, _)| h.clone())
            .collect();
        handles.sort();
        Ok(handles)
    }

    async fn info(&self, handle: &str) -> Result<ContainerInfo, GardenError> {
        let containers = self.containers.lock().unwrap();
        let c = containers
            .get(handle)
            .ok_or_else(|| GardenError::ContainerNotFound(handle.to_string()))?;
        let mapped_ports = c
            .spec
            .net_in
            .iter()
            .map(|m| PortMapping {
                host_port: if m.host_port == 0 {
                    m.container_port
                } else {
                    m.host_port
                },
                container_port: m.container_port,
            })
            .collect();
        Ok(ContainerInfo {
            state: if c.stopped { "stopped" } else { "active" }.into(),
            events: Vec::new(),
            host_ip: "127.0.0.1".into(),
            container_ip: "127.0.0.1".into(),
            external_ip: "127.0.0.1".into(),
            mapped_ports,
            properties: c.spec.properties.clone(),
        })
    }

    /// Every process group run in the container gets SIGTERM, and
    /// SIGKILL if it has not exited after the wait (at once with `kill`).
    async fn stop(&self, handle: &str, kill: bool) -> Result<(), GardenError> {
        let processes = {
            let containers = self.containers.lock().unwrap();
            let c = containers
                .get(handle)
                .ok_or_else(|| GardenError::ContainerNotFound(handle.to_string()))?;
            c.processes.clone()
        };
        let running: Vec<_> = processes.into_iter().filter(|p| !p.exited()).collect();
        if !kill {
            for p in &running {
                p.terminate_group();
            }
            let all_exited = async {
                for p in &running {
                    let _ = p.wait().await;
                }
            };
            let _ = tokio::time::timeout(self.stop_timeout, all_exited).await;
        }
        // Also groups whose leader exited: children it left behind.
        for p in &running {
            p.kill_group();
        }
        for p in &running {
            let _ = p.wait().await;
        }
        if let Some(c) = self.containers.lock().unwrap().get_mut(handle) {
            c.stopped = true;
        }
        Ok(())
    }

    async fn set_property(
        &self,
        handle: &str,
        key: &str,
        value: Option<String>,
    ) -> Result<(), GardenError> {
        let mut containers = self.containers.lock().unwrap();
        let c = containers
            .get_mut(handle)
            .ok_or_else(|| GardenError::ContainerNotFound(handle.to_string()))?;
        match value {
            Some(v) => c.spec.properties.insert(key.to_string(), v),
            None => c.spec.properties.remove(key),
        };
        Ok(())
    }

    async fn metrics(&self, handle: &str) -> Result<ContainerMetrics, GardenError> {
        let dir = self.dir_of(handle)?;
        let disk_usage_bytes = tokio::task::spawn_blocking(move || disk_usage(&dir))
            .await
            .map_err(|e| GardenError::Runtime(e.to_string()))?;
        Ok(ContainerMetrics {
            memory_usage_bytes: 0,
            disk_usage_bytes,
            ..Default::default()
        })
    }

    async fn run(
        &self,
        handle: &str,
        spec: ProcessSpec,
        io: ProcessIo,
    ) -> Result<Box<dyn Process>, GardenError> {
        if spec.is_pea() {
            // Houdini's containers are host directories: there is no
            // rootfs of the process's own to make nor a namespace to
            // share.
            return Err(GardenError::InvalidSpec(
                "processes with an image or bind mounts of their own (peas) are not supported \
                 by the houdini backend"
                    .into(),
            ));
        }
        let (dir, env, id) = {
            let mut containers = self.containers.lock().unwrap();
            let c = containers
                .get_mut(handle)
                .ok_or_else(|| GardenError::ContainerNotFound(handle.to_string()))?;
            c.next_process += 1;
            // Forget processes that are gone so long-lived containers
            // running many checks don't grow.
            c.processes.retain(|p| !p.exited());
            (
                c.dir.clone(),
                c.spec.env.clone(),
                format!("{handle}-{}", c.next_process),
            )
        };
        let process = Arc::new(HoudiniProcess::spawn(id, &dir, &env, spec, io)?);
        let mut containers = self.containers.lock().unwrap();
        match containers.get_mut(handle) {
            Some(c) => c.processes.push(process.clone()),
            None => {
                // Destroyed while starting.
                process.kill_group();
                return Err(GardenError::ContainerNotFound(handle.to_string()));
            }
        }
        Ok(Box::new(process::ProcessHandle(process)))
    }

    async fn stream_in(
        &self,
        handle: &str,
        dst_path: &str,
        _user: &str,
        tar: Box<dyn AsyncRead + Send + Unpin>,
    ) -> Result<(), GardenError> {
        let dst = in_container(&self.dir_of(handle)?, dst_path);
        tar::extract(&dst, tar).await
    }

    async fn stream_out(&self, handle: &str, src_path: &str) -> Result<Bytes, GardenError> {
        let src = in_container(&self.dir_of(handle)?, src_path);
        tar::create(&src, src_path.ends_with('/')).await
    }

    async fn capacity(&self) -> Result<Capacity, GardenError> {
        Ok(self.capacity)
    }
}

fn disk_usage(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| disk_usage(&e.path()))
                .sum::<u64>()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
