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
use crate::idmap::IdMap;
use crate::image_rootfs::{self, ImageRootfs};
use crate::network::{Cni, Member, Network};
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
    /// Each container's resolv.conf.
    resolv_conf: String,
    /// Shifted copies of preloaded rootfs made so far (name -> lower dir);
    /// the lock also keeps two creates from making one copy twice.
    shifted: Mutex<HashMap<String, PathBuf>>,
    /// Whether the host is set up (bridge, NAT chains, firewall tables):
    /// released with the last container when the cell stops, set up again
    /// by the next create.
    host_up: tokio::sync::Mutex<bool>,
}

struct State {
    containers: HashMap<String, Arc<Record>>,
    /// Handles being created or destroyed: not listed, not reusable.
    busy: HashSet<String>,
    pools: Pools,
}

impl RuncBackend {
    /// Prepares the host (bridge, NAT chains, firewall tables), takes back
    /// the containers a previous backend on the same depot left, and
    /// removes what a crashed one left of containers it has no record of.
    pub async fn new(cfg: RuncConfig) -> Result<Self, GardenError> {
        if cfg.tag.is_empty() || cfg.tag.len() > 4 {
            return Err(GardenError::InvalidSpec(
                "tag must be 1 to 4 characters".into(),
            ));
        }
        cfg.id_map.validate().map_err(GardenError::InvalidSpec)?;
        let (resolv_conf, dns) = crate::dns::resolv_conf(cfg.dns_servers.as_deref());
        let cni = match &cfg.cni_config {
            Some(path) => Cni::load(path, cfg.cni_plugin_dirs.clone())?,
            None => Cni::default_list(
                &cfg.tag,
                cfg.subnet,
                cfg.subnet_prefix,
                &cfg.depot.join("cni").join("ipam"),
                cfg.cni_plugin_dirs.clone(),
            ),
        };
        let net = Network {
            tag: cfg.tag.clone(),
            subnet: cfg.subnet,
            prefix: cfg.subnet_prefix,
            external_ip: cfg.external_ip,
            dns,
            cni,
        };
        for d in ["containers", "runtime", "rootfs"] {
            std::fs::create_dir_all(cfg.depot.join(d))?;
        }
        let mut pools = Pools::new(cfg.port_range);
        let mut containers = HashMap::new();
        for entry in std::fs::read_dir(cfg.depot.join("containers"))?.flatten() {
            if let Some(rec) = Record::load(&entry.path()) {
                for (hp, _) in &rec.mapped_ports {
                    pools.claim_port(*hp);
                }
                containers.insert(rec.handle.clone(), Arc::new(rec));
            }
        }
        let images = ImageRootfs::open(&cfg)?;
        let runtime = Runtime {
            binary: cfg.runtime.clone(),
            root: cfg.depot.join("runtime"),
        };
        let backend = RuncBackend {
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
                resolv_conf,
                shifted: Mutex::new(HashMap::new()),
                host_up: tokio::sync::Mutex::new(false),
            }),
        };
        backend.sweep().await;
        // After the sweep unmounted what crashed creates left: their
        // layers are no longer in use.
        let known = backend
            .inner
            .state
            .lock()
            .expect("state lock")
            .containers
            .keys()
            .cloned()
            .collect();
        backend.inner.images.prune(&known).await;
        backend.ensure_host().await?;
        // Shifted copies take seconds for a full stack: made now, in the
        // background, so the first container need not wait for all of it.
        if backend.inner.cfg.user_namespace {
            for name in backend.inner.cfg.rootfs.keys() {
                let (b, image) = (backend.clone(), format!("preloaded:{name}"));
                tokio::spawn(async move {
                    if let Err(e) = b.prepare_lower(&image, true).await {
                        tracing::warn!(%image, error = %e, "shifting a preloaded rootfs");
                    }
                });
            }
        }
        Ok(backend)
    }

    /// Sets the host up if it is not (with the firewall keys of every
    /// container the backend has).
    pub(super) async fn ensure_host(&self) -> Result<(), GardenError> {
        let mut up = self.inner.host_up.lock().await;
        if *up {
            return Ok(());
        }
        let records: Vec<Arc<Record>> = {
            let st = self.inner.state.lock().expect("state lock");
            st.containers.values().cloned().collect()
        };
        let members: Vec<Member<'_>> = records.iter().filter_map(|r| self.member(r)).collect();
        self.inner.net.setup_host(&members).await?;
        *up = true;
        Ok(())
    }

    /// Removes the backend's bridge, NAT chains, firewall tables and
    /// parent cgroups (after every container is destroyed): `diego dev`
    /// teardown and tests.
    pub async fn teardown_host(&self) {
        let mut up = self.inner.host_up.lock().await;
        self.inner.net.teardown_host().await;
        self.parent_cgroup().remove();
        *up = false;
    }

    /// The firewall's view of a container (None before it is plugged in).
    pub(crate) fn member<'a>(&self, rec: &'a Record) -> Option<Member<'a>> {
        Some(Member {
            handle: &rec.handle,
            ip: rec.ip?,
            port: rec.host_iface.clone()?,
            rules: &rec.net_out,
        })
    }

    /// The backend's shared user namespace map.
    pub fn id_map(&self) -> IdMap {
        self.inner.cfg.id_map
    }

    /// `garden-TAG`, above every container's cgroup (the runtime makes it
    /// with the first container's).
    pub fn parent_cgroup(&self) -> Cgroup {
        Cgroup::new(
            self.inner.cgroup_version,
            format!("/garden-{}", self.inner.cfg.tag),
        )
    }

    /// CNI CHECK of a container's attachment: whether its link, address
    /// and mapped ports are still as ADD left them.
    pub async fn check_network(&self, handle: &str) -> Result<(), GardenError> {
        let rec = self.record(handle)?;
        let result = rec
            .cni_result
            .as_ref()
            .ok_or_else(|| GardenError::Runtime(format!("{handle} has no network attachment")))?;
        self.inner
            .net
            .check_container(handle, &rec.ports(), result)
            .await
    }

    /// The host end of a container's link (None before it is plugged in).
    pub fn host_iface(&self, handle: &str) -> Option<String> {
        self.record(handle).ok()?.host_iface.clone()
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

    /// A container user's ids as the host sees them (shifted by the id
    /// map in a user namespace): the owner of what is streamed in for it
    /// and of its process's stdio pipes.
    fn host_owner(&self, rec: &Record, user: &crate::rootfs::User) -> (u32, u32) {
        if rec.userns {
            let m = self.inner.cfg.id_map;
            (m.to_host(user.uid), m.to_host(user.gid))
        } else {
            (user.uid, user.gid)
        }
    }

    fn overlay(&self, rec: &Record) -> Result<Overlay, GardenError> {
        let dir = self.container_dir(&rec.handle);
        let lowers = if image_rootfs::is_image(&rec.image) {
            image_rootfs::lower_dirs(&dir)?
        } else {
            vec![self.lower_dir(&rec.image, rec.userns)?]
        };
        Ok(Overlay { lowers, dir })
    }

    /// The cell's `docker://` images (layer store, registry client).
    pub fn images(&self) -> &image::ImageService {
        self.inner.images.service()
    }

    /// The preloaded rootfs an image names (its shifted copy for a
    /// container in the user namespace: see `prepare_lower`).
    fn lower_dir(&self, image: &str, userns: bool) -> Result<PathBuf, GardenError> {
        let (name, src) = self.preloaded(image)?;
        if !userns {
            return Ok(src);
        }
        let dir = self
            .inner
            .cfg
            .depot
            .join("rootfs")
            .join(format!("{name}@{}", self.inner.cfg.id_map.key()))
            .join("rootfs");
        Ok(dir)
    }

    /// An image as the backend names it: `preloaded:NAME` and
    /// `docker://...` as they are; the path of a preloaded rootfs (with or
    /// without `raw://`) as `preloaded:NAME`, since that is how Diego's rep
    /// names a stack's rootfs to Garden (its `preloaded_rootfses` map
    /// turns `preloaded:cflinuxfs4` into the path) for containers and
    /// health-check peas alike.
    pub(super) fn image_ref(&self, image: &str) -> Result<String, GardenError> {
        if image_rootfs::is_image(image) {
            return Ok(image.to_string());
        }
        if image.starts_with("preloaded:") {
            self.preloaded(image)?;
            return Ok(image.to_string());
        }
        let path = image.strip_prefix("raw://").unwrap_or(image);
        let wanted = std::fs::canonicalize(path).ok();
        self.inner
            .cfg
            .rootfs
            .iter()
            .find(|(_, dir)| wanted.is_some() && std::fs::canonicalize(dir).ok() == wanted)
            .map(|(name, _)| format!("preloaded:{name}"))
            .ok_or_else(|| {
                let known: Vec<String> = self
                    .inner
                    .cfg
                    .rootfs
                    .values()
                    .map(|d| d.display().to_string())
                    .collect();
                GardenError::InvalidSpec(format!(
                    "unsupported image {image:?}: preloaded:NAME, docker://..., or the path of \
                     a preloaded rootfs of this garden ({})",
                    known.join(", ")
                ))
            })
    }

    fn preloaded(&self, image: &str) -> Result<(String, PathBuf), GardenError> {
        let name = image
            .strip_prefix("preloaded:")
            .map(|n| n.trim_start_matches('/'))
            .ok_or_else(|| GardenError::InvalidSpec(format!("unsupported image: {image:?}")))?;
        let src =
            self.inner.cfg.rootfs.get(name).cloned().ok_or_else(|| {
                GardenError::InvalidSpec(format!("unknown preloaded rootfs: {name}"))
            })?;
        Ok((name.to_string(), src))
    }

    /// Makes sure the lower layer of a new container exists: the shifted
    /// copy of its rootfs is made by the first container that needs it
    /// (checked once per backend run).
    pub(super) async fn prepare_lower(&self, image: &str, userns: bool) -> Result<(), GardenError> {
        // An image's layers are unpacked shifted already (see `images`).
        if !userns || image_rootfs::is_image(image) {
            return Ok(());
        }
        let (name, src) = self.preloaded(image)?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut made = this.inner.shifted.lock().expect("shifted lock");
            if made.contains_key(&name) {
                return Ok(());
            }
            let cache = this.inner.cfg.depot.join("rootfs");
            let dir = crate::shifted::shifted_rootfs(&cache, &name, &src, &this.inner.cfg.id_map)?;
            made.insert(name, dir);
            Ok(())
        })
        .await
        .map_err(|e| GardenError::Runtime(e.to_string()))?
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
        if crate::quota::layer_full(&dir) {
            events.push(DISK_QUOTA_EXCEEDED.to_string());
        }
        ContainerInfo {
            state: if running && !stop::is_stopped(&dir) {
                "active"
            } else {
                "stopped"
            }
            .into(),
            events,
            host_ip: self.inner.net.gateway().to_string(),
            container_ip: rec.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            external_ip: self.inner.cfg.external_ip.to_string(),
            mapped_ports: rec.ports(),
            properties: rec.properties.clone(),
        }
    }
}

/// Info's event for a container whose disk limit is used up (ours; the
/// executor names it in the crash reason, as "out of memory").
pub const DISK_QUOTA_EXCEEDED: &str = "disk quota exceeded";

mod cleanup;
mod lifecycle;
mod peas;
mod stop;
mod trait_impl;
