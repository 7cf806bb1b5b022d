//! The runc backend's configuration.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::api::Limits;
use crate::idmap::IdMap;

/// Processes a container may have when neither its spec nor the cell says
/// (Cloud Controller gives every app 1024).
pub const DEFAULT_MAX_PIDS: u64 = 1024;

#[derive(Debug, Clone)]
pub struct RuncConfig {
    /// The OCI runtime binary: `runc` by default; `youki` or `crun` take
    /// the same command line.
    pub runtime: PathBuf,
    /// Where bundles, rootfs layers, the runtime's own state and the
    /// containers' records live.
    pub depot: PathBuf,
    /// `preloaded:NAME` images: NAME -> a rootfs directory (the lower
    /// layer of each container's overlay).
    pub rootfs: BTreeMap<String, PathBuf>,
    /// The address the cell is reached on; mapped ports listen there.
    pub external_ip: Ipv4Addr,
    /// Containers' addresses (the default CNI list's): the first is the
    /// bridge's (the containers' gateway), host-local hands out the others.
    pub subnet: Ipv4Addr,
    pub subnet_prefix: u8,
    /// Host ports `net_in` with host port 0 picks from (inclusive).
    pub port_range: (u16, u16),
    /// Short name (at most 4 characters) in every kernel object the
    /// backend makes: bridge, CNI network name, nftables tables, netns,
    /// cgroups. Two
    /// backends on one host need different tags.
    pub tag: String,
    /// Limits applied where a spec leaves one at 0: max_pids 1024 (what
    /// Cloud Controller asks of every app) unless set otherwise.
    pub default_limits: Limits,
    /// The static busybox bind-mounted into each container as its init
    /// (and used for nothing else).
    pub init_binary: PathBuf,
    /// 0: as many as the subnet holds.
    pub max_containers: u64,
    /// Give each container with a disk limit a loop-mounted filesystem of
    /// that size for its writes (see `quota`); off: disk use is only
    /// measured.
    pub enforce_disk_limits: bool,
    /// Registries (`host:port`, `host` or a CIDR block) spoken to over
    /// plain HTTP for `docker://` images (Garden's
    /// `insecure_docker_registry_list`).
    pub insecure_registries: Vec<String>,
    /// Unused image layers are removed above this many bytes of layers
    /// (Garden's `graph_cleanup_threshold_in_mb`; None: never).
    pub image_store_cap_bytes: Option<u64>,
    /// What one image's layers may unpack to (a decompression bomb stops
    /// there); None: no bound.
    pub image_max_bytes: Option<u64>,
    /// The user namespace map every unprivileged container shares; the
    /// image store unpacks their layers shifted by it (privileged
    /// containers' layers unshifted).
    pub id_map: IdMap,
    /// Whether `privileged: true` containers may be made (Garden's
    /// `--disable-privileged-containers`, inverted). Off by default.
    pub allow_privileged: bool,
    /// Unprivileged containers in a user namespace and under the seccomp
    /// profile: both on; off only to compare (the benchmark) or where the
    /// kernel lacks them.
    pub user_namespace: bool,
    pub seccomp: bool,
    /// The DNS servers containers get in /etc/resolv.conf and may reach
    /// without an egress rule; None: the host's (its /etc/resolv.conf).
    pub dns_servers: Option<Vec<Ipv4Addr>>,
    /// The CNI network configuration list (`.conflist`) containers are
    /// plugged in with; None: the default made from `subnet` (bridge
    /// `TAG-br0` with host-local addresses, portmap, firewall).
    pub cni_config: Option<PathBuf>,
    /// Where the CNI plugins are (CNI_PATH): Debian's
    /// containernetworking-plugins by default.
    pub cni_plugin_dirs: Vec<PathBuf>,
    /// How long Stop waits for a container's processes to exit after
    /// SIGTERM before it SIGKILLs them (Garden's 10 s; shorter in tests).
    pub stop_timeout: std::time::Duration,
}

/// Garden's wait between a Stop's SIGTERM and its SIGKILL.
pub const DEFAULT_STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl RuncConfig {
    pub fn new(depot: impl Into<PathBuf>) -> Self {
        RuncConfig {
            runtime: PathBuf::from("runc"),
            depot: depot.into(),
            rootfs: BTreeMap::new(),
            external_ip: Ipv4Addr::LOCALHOST,
            subnet: Ipv4Addr::new(10, 254, 0, 0),
            subnet_prefix: 22,
            port_range: (61001, 65534),
            tag: "gdn".into(),
            default_limits: Limits {
                max_pids: DEFAULT_MAX_PIDS,
                ..Limits::default()
            },
            init_binary: PathBuf::from("/usr/bin/busybox"),
            max_containers: 0,
            enforce_disk_limits: true,
            insecure_registries: Vec::new(),
            image_store_cap_bytes: None,
            image_max_bytes: Some(image::DEFAULT_MAX_IMAGE_BYTES),
            id_map: IdMap::default(),
            allow_privileged: false,
            user_namespace: true,
            seccomp: true,
            dns_servers: None,
            cni_config: None,
            cni_plugin_dirs: vec![PathBuf::from("/usr/lib/cni")],
            stop_timeout: DEFAULT_STOP_TIMEOUT,
        }
    }
}
