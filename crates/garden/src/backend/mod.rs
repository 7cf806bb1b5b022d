//! `RuncBackend`: Garden's backend on an OCI runtime. Each container is a
//! directory in the depot holding its record, its OCI bundle and its
//! overlay rootfs; the runtime runs it in its own network namespace.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use crate::api::*;
use crate::cgroups::{self, Cgroup, CgroupVersion};
use crate::config::RuncConfig;
use crate::image_rootfs::{self, ImageRootfs};
use crate::network::Network;
use crate::pools::Pools;
use crate::record::Record;
use crate::rootfs::Overlay;
use crate::runc::Runtime;

#[derive(Clone)]
pub struct RuncBackend {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: RuncConfig,
    net: Network,
    runtime: Runtime,
    cgroup_version: CgroupVersion,
    images: ImageRootfs,
    state: Mutex<State>,
    next_process: AtomicU64,
}

struct State {
    containers: HashMap<String, Arc<Record>>,
    /// Handles being created or destroyed: not listed, not reusable.
    busy: HashSet<String>,
    pools: Pools,
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
        let images = ImageRootfs::open(&cfg)?;
        images.prune(&containers.keys().cloned().collect()).await;
        let runtime = Runtime {
            binary: cfg.runtime.clone(),
            root: cfg.depot.join("runtime"),
        };
        Ok(RuncBackend {
            inner: Arc::new(Inner {
                runtime,
                net,
                cgroup_version: CgroupVersion::detect(),
                images,
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
        self.parent_cgroup().remove();
    }

    /// `garden-TAG`, above every container's cgroup (the runtime makes it
    /// with the first container's).
    pub fn parent_cgroup(&self) -> Cgroup {
        Cgroup::new(
            self.inner.cgroup_version,
            format!("/garden-{}", self.inner.cfg.tag),
        )
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
        let dir = self.container_dir(&rec.handle);
        let lowers = if image_rootfs::is_image(&rec.image) {
            image_rootfs::lower_dirs(&dir)?
        } else {
            vec![self.lower_dir(&rec.image)?]
        };
        Ok(Overlay { lowers, dir })
    }

    /// The cell's `docker://` images (layer store, registry client).
    pub fn images(&self) -> &image::ImageService {
        self.inner.images.service()
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

mod lifecycle;
mod trait_impl;
