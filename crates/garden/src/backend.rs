//! `RuncBackend`: Garden's backend on an OCI runtime. Each container is a
//! directory in the depot holding its record, its OCI bundle and its
//! overlay rootfs; the runtime runs it in its own network namespace.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::AsyncRead;

use crate::api::*;
use crate::bundle::{self, BundleSpec};
use crate::cgroups::{self, Cgroup, CgroupVersion};
use crate::config::RuncConfig;
use crate::network::{Network, Pools};
use crate::process::{oci_process, RuncProcess};
use crate::record::Record;
use crate::rootfs::{lookup_user, Overlay};
use crate::runc::Runtime;
use crate::streams;

#[derive(Clone)]
pub struct RuncBackend {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: RuncConfig,
    net: Network,
    runtime: Runtime,
    cgroup_version: CgroupVersion,
    state: Mutex<State>,
    next_process: AtomicU64,
}

struct State {
    containers: HashMap<String, Arc<Record>>,
    /// Handles being created or destroyed: not listed, not reusable.
    busy: HashSet<String>,
    pools: Pools,
}

fn valid_handle(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 128
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !h.starts_with('.')
}

impl RuncBackend {
    /// Prepares the host (bridge, chains) and takes back the containers a
    /// previous backend on the same depot left.
    pub async fn new(cfg: RuncConfig) -> Result<Self, GardenError> {
        if cfg.tag.is_empty() || cfg.tag.len() > 4 {
            return Err(GardenError::InvalidSpec(
                "tag must be 1 to 4 characters".into(),
            ));
        }
        let net = Network {
            tag: cfg.tag.clone(),
            subnet: cfg.subnet,
            prefix: cfg.subnet_prefix,
            external_ip: cfg.external_ip,
        };
        std::fs::create_dir_all(cfg.depot.join("containers"))?;
        std::fs::create_dir_all(cfg.depot.join("runtime"))?;
        net.setup_host().await?;
        let mut pools = Pools::new(net.container_offsets(), cfg.port_range);
        let mut containers = HashMap::new();
        for entry in std::fs::read_dir(cfg.depot.join("containers"))?.flatten() {
            if let Some(rec) = Record::load(&entry.path()) {
                pools.claim_ip(rec.ip_offset);
                for (hp, _) in &rec.mapped_ports {
                    pools.claim_port(*hp);
                }
                containers.insert(rec.handle.clone(), Arc::new(rec));
            }
        }
        let runtime = Runtime {
            binary: cfg.runtime.clone(),
            root: cfg.depot.join("runtime"),
        };
        Ok(RuncBackend {
            inner: Arc::new(Inner {
                runtime,
                net,
                cgroup_version: CgroupVersion::detect(),
                cfg,
                state: Mutex::new(State {
                    containers,
                    busy: HashSet::new(),
                    pools,
                }),
                next_process: AtomicU64::new(1),
            }),
        })
    }

    /// Removes the backend's bridge and iptables chains (after every
    /// container is destroyed): `diego dev` teardown and tests.
    pub async fn teardown_host(&self) {
        self.inner.net.teardown_host().await;
        let parent = format!("/garden-{}", self.inner.cfg.tag);
        Cgroup::new(self.inner.cgroup_version, parent).remove();
    }

    pub fn network(&self) -> &Network {
        &self.inner.net
    }

    pub fn cgroup_version(&self) -> CgroupVersion {
        self.inner.cgroup_version
    }

    pub fn container_dir(&self, handle: &str) -> PathBuf {
        self.inner.cfg.depot.join("containers").join(handle)
    }

    pub fn cgroup(&self, handle: &str) -> Cgroup {
        Cgroup::new(
            self.inner.cgroup_version,
            cgroups::cgroups_path(&self.inner.cfg.tag, handle),
        )
    }

    fn record(&self, handle: &str) -> Result<Arc<Record>, GardenError> {
        let st = self.inner.state.lock().expect("state lock");
        st.containers
            .get(handle)
            .cloned()
            .ok_or_else(|| GardenError::ContainerNotFound(handle.into()))
    }

    fn overlay(&self, rec: &Record) -> Result<Overlay, GardenError> {
        Ok(Overlay {
            lower: self.lower_dir(&rec.image)?,
            dir: self.container_dir(&rec.handle),
        })
    }

    fn lower_dir(&self, image: &str) -> Result<PathBuf, GardenError> {
        let name = image
            .strip_prefix("preloaded:")
            .map(|n| n.trim_start_matches('/'))
            .ok_or_else(|| GardenError::InvalidSpec(format!("unsupported image: {image:?}")))?;
        self.inner
            .cfg
            .rootfs
            .get(name)
            .cloned()
            .ok_or_else(|| GardenError::InvalidSpec(format!("unknown preloaded rootfs: {name}")))
    }

    /// Reserves the handle, an address and host ports, and writes the
    /// record first: whatever happens later, destroy can undo it.
    fn reserve(&self, spec: &ContainerSpec) -> Result<Record, GardenError> {
        let mut st = self.inner.state.lock().expect("state lock");
        if st.containers.contains_key(&spec.handle) || st.busy.contains(&spec.handle) {
            return Err(GardenError::HandleExists(spec.handle.clone()));
        }
        let max = self.inner.cfg.max_containers;
        if max > 0 && (st.containers.len() + st.busy.len()) as u64 >= max {
            return Err(GardenError::InsufficientResources(
                "max containers reached".into(),
            ));
        }
        let ip = st.pools.take_ip().ok_or_else(|| {
            GardenError::InsufficientResources("no container addresses left".into())
        })?;
        let mut ports = Vec::new();
        for m in &spec.net_in {
            let host_port = if m.host_port == 0 {
                st.pools.take_port()
            } else {
                st.pools.claim_port(m.host_port).then_some(m.host_port)
            };
            match host_port {
                Some(hp) => ports.push(PortMapping {
                    host_port: hp,
                    container_port: m.container_port,
                }),
                None => {
                    st.pools.release_ip(ip);
                    for p in &ports {
                        st.pools.release_port(p.host_port);
                    }
                    return Err(GardenError::InsufficientResources(format!(
                        "host port {} not available",
                        m.host_port
                    )));
                }
            }
        }
        st.busy.insert(spec.handle.clone());
        drop(st);
        let limits = with_defaults(&spec.limits, &self.inner.cfg.default_limits);
        let rec = Record::new(
            spec,
            &limits,
            ip,
            &ports,
            cgroups::cgroups_path(&self.inner.cfg.tag, &spec.handle),
        );
        Ok(rec)
    }

    async fn build(&self, rec: &Record) -> Result<(), GardenError> {
        let dir = self.container_dir(&rec.handle);
        std::fs::create_dir_all(&dir)?;
        rec.save(&dir)?;
        let overlay = self.overlay(rec)?;
        overlay.mount()?;

        let ip = self.inner.net.addr(rec.ip_offset);
        std::fs::write(
            dir.join("hosts"),
            format!(
                "127.0.0.1 localhost\n{ip} {}\n",
                bundle::hostname(&rec.handle)
            ),
        )?;
        let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        std::fs::write(dir.join("resolv.conf"), resolv)?;

        self.inner.net.setup_container(&rec.handle, ip).await?;
        self.inner
            .net
            .map_ports(&rec.handle, ip, &rec.ports())
            .await?;

        let mut env = rec.env.clone();
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(
                0,
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            );
        }
        let spec = bundle::build(&BundleSpec {
            handle: &rec.handle,
            env: &env,
            bind_mounts: &rec.bind_mounts(),
            limits: &rec.limits(),
            privileged: rec.privileged,
            netns_path: self.inner.net.netns_path(&rec.handle),
            cgroups_path: rec.cgroups_path.clone(),
            init_binary: &self.inner.cfg.init_binary,
            hosts_file: dir.join("hosts"),
            resolv_file: dir.join("resolv.conf"),
            swap_accounting: cgroups::swap_accounting(self.inner.cgroup_version),
        })?;
        bundle::write(&spec, &dir)?;
        self.inner.runtime.create(&rec.handle, &dir).await?;
        self.inner.runtime.start(&rec.handle).await?;
        Ok(())
    }

    /// Undoes everything `build` may have done, in reverse, tolerating
    /// steps that never happened; then frees the address and ports.
    async fn teardown(&self, rec: &Record) -> Result<(), GardenError> {
        let mut first_err = None;
        let dir = self.container_dir(&rec.handle);
        self.inner.runtime.kill_init(&dir, &rec.cgroups_path).await;
        if let Err(e) = self.inner.runtime.delete(&rec.handle).await {
            first_err.get_or_insert(e);
        }
        let ip = self.inner.net.addr(rec.ip_offset);
        if let Err(e) = self
            .inner
            .net
            .unmap_ports(&rec.handle, ip, &rec.ports())
            .await
        {
            first_err.get_or_insert(e);
        }
        self.inner
            .net
            .teardown_container(&rec.handle, Some(ip))
            .await;
        if let Ok(overlay) = self.overlay(rec) {
            if let Err(e) = overlay.unmount() {
                first_err.get_or_insert(e);
            }
        } else {
            let _ = Overlay {
                lower: PathBuf::new(),
                dir: dir.clone(),
            }
            .unmount();
        }
        Cgroup::new(self.inner.cgroup_version, rec.cgroups_path.clone()).remove();
        if let Some(e) = first_err {
            // Keep the record: destroy can be retried.
            return Err(e);
        }
        let removed = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir))
            .await
            .map_err(|e| GardenError::Runtime(e.to_string()))?;
        if let Err(e) = removed {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(e.into());
            }
        }
        let mut st = self.inner.state.lock().expect("state lock");
        st.pools.release_ip(rec.ip_offset);
        for (hp, _) in &rec.mapped_ports {
            st.pools.release_port(*hp);
        }
        Ok(())
    }

    fn info_of(&self, rec: &Record) -> ContainerInfo {
        let dir = self.container_dir(&rec.handle);
        let running = std::fs::read_to_string(dir.join("init.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        let mut events = Vec::new();
        if Cgroup::new(self.inner.cgroup_version, rec.cgroups_path.clone()).oom_kills() > 0 {
            events.push("out of memory".to_string());
        }
        ContainerInfo {
            state: if running { "active" } else { "stopped" }.into(),
            events,
            host_ip: self.inner.net.gateway().to_string(),
            container_ip: self.inner.net.addr(rec.ip_offset).to_string(),
            external_ip: self.inner.cfg.external_ip.to_string(),
            mapped_ports: rec.ports(),
            properties: rec.properties.clone(),
        }
    }

    fn rootfs_of(&self, handle: &str) -> Result<PathBuf, GardenError> {
        let rec = self.record(handle)?;
        Ok(self.overlay(&rec)?.merged())
    }
}

fn with_defaults(l: &Limits, d: &Limits) -> Limits {
    let pick = |a: u64, b: u64| if a > 0 { a } else { b };
    Limits {
        memory_bytes: pick(l.memory_bytes, d.memory_bytes),
        disk_bytes: pick(l.disk_bytes, d.disk_bytes),
        max_pids: pick(l.max_pids, d.max_pids),
        cpu_weight: if l.cpu_weight > 0 {
            l.cpu_weight
        } else {
            d.cpu_weight
        },
    }
}

#[async_trait]
impl Backend for RuncBackend {
    async fn ping(&self) -> Result<(), GardenError> {
        crate::cmd::run(
            &self.inner.runtime.binary.display().to_string(),
            &["--version"],
            None,
        )
        .await
        .map(drop)
    }

    async fn create(&self, spec: ContainerSpec) -> Result<ContainerInfo, GardenError> {
        if !valid_handle(&spec.handle) {
            return Err(GardenError::InvalidSpec(format!(
                "invalid handle: {:?}",
                spec.handle
            )));
        }
        self.lower_dir(&spec.image)?;
        let rec = self.reserve(&spec)?;
        let result = self.build(&rec).await;
        if let Err(e) = result {
            tracing::warn!(handle = %rec.handle, error = %e, "create failed; rolling back");
            if let Err(e2) = self.teardown(&rec).await {
                tracing::error!(handle = %rec.handle, error = %e2, "rolling back a failed create");
            }
            self.inner
                .state
                .lock()
                .expect("state lock")
                .busy
                .remove(&rec.handle);
            return Err(e);
        }
        let info = self.info_of(&rec);
        let mut st = self.inner.state.lock().expect("state lock");
        st.busy.remove(&rec.handle);
        st.containers.insert(rec.handle.clone(), Arc::new(rec));
        tracing::info!(handle = %spec.handle, ip = %info.container_ip, "created");
        Ok(info)
    }

    async fn destroy(&self, handle: &str) -> Result<(), GardenError> {
        let rec = {
            let mut st = self.inner.state.lock().expect("state lock");
            let rec = st
                .containers
                .remove(handle)
                .ok_or_else(|| GardenError::ContainerNotFound(handle.into()))?;
            st.busy.insert(handle.into());
            rec
        };
        let result = self.teardown(&rec).await;
        let mut st = self.inner.state.lock().expect("state lock");
        st.busy.remove(handle);
        if result.is_err() {
            st.containers.insert(handle.into(), rec);
        }
        result
    }

    async fn containers(&self, filter: &Properties) -> Result<Vec<String>, GardenError> {
        let st = self.inner.state.lock().expect("state lock");
        let mut handles: Vec<String> = st
            .containers
            .values()
            .filter(|r| filter.iter().all(|(k, v)| r.properties.get(k) == Some(v)))
            .map(|r| r.handle.clone())
            .collect();
        handles.sort();
        Ok(handles)
    }

    async fn info(&self, handle: &str) -> Result<ContainerInfo, GardenError> {
        let rec = self.record(handle)?;
        Ok(self.info_of(&rec))
    }

    async fn metrics(&self, handle: &str) -> Result<ContainerMetrics, GardenError> {
        let rec = self.record(handle)?;
        let cg = Cgroup::new(self.inner.cgroup_version, rec.cgroups_path.clone());
        let upper = self.overlay(&rec)?.upper();
        let disk = tokio::task::spawn_blocking(move || disk_usage(&upper))
            .await
            .map_err(|e| GardenError::Runtime(e.to_string()))?;
        Ok(ContainerMetrics {
            memory_usage_bytes: cg.memory_usage(),
            disk_usage_bytes: disk,
            cpu_usage: cg.cpu_usage(),
        })
    }

    async fn run(
        &self,
        handle: &str,
        spec: ProcessSpec,
        io: ProcessIo,
    ) -> Result<Box<dyn Process>, GardenError> {
        let rec = self.record(handle)?;
        let root = self.overlay(&rec)?.merged();
        let user = lookup_user(&root, &spec.user)?;
        let process = oci_process(&spec, &rec.env, &user, rec.privileged)?;
        let n = self.inner.next_process.fetch_add(1, Ordering::Relaxed);
        let id = format!("{handle}-{n}");
        let dir = self.container_dir(handle).join("processes");
        let p = RuncProcess::spawn(&self.inner.runtime, handle, id, dir, &process, io)?;
        Ok(Box::new(p))
    }

    async fn stream_in(
        &self,
        handle: &str,
        dst_path: &str,
        user: &str,
        tar: Box<dyn AsyncRead + Send + Unpin>,
    ) -> Result<(), GardenError> {
        let root = self.rootfs_of(handle)?;
        let user = lookup_user(&root, user)?;
        let dst = dst_path.to_string();
        let reader = tokio_util::io::SyncIoBridge::new(tar);
        tokio::task::spawn_blocking(move || streams::stream_in(&root, &dst, &user, reader))
            .await
            .map_err(|e| GardenError::Runtime(e.to_string()))?
    }

    async fn stream_out(&self, handle: &str, src_path: &str) -> Result<Bytes, GardenError> {
        let root = self.rootfs_of(handle)?;
        let src = src_path.to_string();
        let tar = tokio::task::spawn_blocking(move || streams::stream_out(&root, &src))
            .await
            .map_err(|e| GardenError::Runtime(e.to_string()))??;
        Ok(Bytes::from(tar))
    }

    async fn capacity(&self) -> Result<Capacity, GardenError> {
        let memory_bytes = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            })
            .unwrap_or(0)
            * 1024;
        let disk_bytes = statvfs_total(&self.inner.cfg.depot);
        let subnet_size = self.inner.net.container_offsets().len() as u64;
        let max_containers = match self.inner.cfg.max_containers {
            0 => subnet_size,
            n => n.min(subnet_size),
        };
        Ok(Capacity {
            memory_bytes,
            disk_bytes,
            max_containers,
        })
    }
}

/// Bytes the container wrote (its overlay's upper layer), by blocks used.
fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            total += m.blocks() * 512;
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    total
}

fn statvfs_total(path: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return 0;
    };
    // SAFETY: c is a valid path; st is plain data the call fills in.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut st) != 0 {
            return 0;
        }
        st.f_blocks as u64 * st.f_frsize as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_names_not_paths() {
        assert!(valid_handle("a1b2-c3_d.e"));
        assert!(!valid_handle("../etc"));
        assert!(!valid_handle("a/b"));
        assert!(!valid_handle(""));
        assert!(!valid_handle(".hidden"));
    }

    #[test]
    fn spec_limits_override_defaults() {
        let d = Limits {
            memory_bytes: 1,
            disk_bytes: 2,
            max_pids: 3,
            cpu_weight: 4,
        };
        let l = Limits {
            memory_bytes: 10,
            ..Default::default()
        };
        assert_eq!(
            with_defaults(&l, &d),
            Limits {
                memory_bytes: 10,
                disk_bytes: 2,
                max_pids: 3,
                cpu_weight: 4
            }
        );
    }
}
