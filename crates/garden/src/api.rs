//! The container backend's API, in Garden's vocabulary.
//!
//! The executor is written against [`Backend`] and [`Process`]; the runc
//! implementation in this crate is the one a cell uses.

use async_trait::async_trait;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// Key/value labels kept with a container (Garden's properties); the
/// executor stores its own state in them and lists containers by them.
pub type Properties = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum GardenError {
    #[error("unknown handle: {0}")]
    ContainerNotFound(String),
    #[error("handle already exists: {0}")]
    HandleExists(String),
    #[error("insufficient resources: {0}")]
    InsufficientResources(String),
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    #[error("{0}")]
    Runtime(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Unique name of the container (the executor uses the instance or
    /// task guid).
    pub handle: String,
    /// `preloaded:NAME` (a directory of the backend's rootfs map, made
    /// copy-on-write per container) or `docker://[HOST]/REPO[#TAG]` (an
    /// image pulled into the cell's layer store).
    pub image: String,
    /// Credentials for a `docker://` image's registry (Garden's
    /// `ImageRef.Username/Password`; Diego's `image_username/password`).
    pub image_username: String,
    pub image_password: String,
    /// `KEY=VALUE` pairs every process in the container starts with.
    pub env: Vec<String>,
    pub bind_mounts: Vec<BindMount>,
    pub limits: Limits,
    /// Container ports to map to host ports (host port 0: pick a free one).
    pub net_in: Vec<PortMapping>,
    pub properties: Properties,
    /// Privileged containers keep root's capabilities and are not
    /// user-namespaced (Diego: `privileged` on the DesiredLRP/Task).
    pub privileged: bool,
    /// What the container may reach (Garden's NetOut rules, from the
    /// LRP's or Task's egress rules). Without any, only DNS to the cell's
    /// resolvers; the cell itself and link-local addresses never.
    pub net_out: Vec<NetOutRule>,
}

/// Garden's `NetOutRule`: traffic a container may start, to `networks`
/// (none: anywhere) on `ports` (tcp/udp only; none: any).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NetOutRule {
    pub protocol: Protocol,
    pub networks: Vec<IpRange>,
    pub ports: Vec<PortRange>,
    /// ICMP type and code (icmp/icmpv6 only; None: any).
    pub icmps: Option<IcmpControl>,
    /// Log the container's new connections this rule lets through.
    pub log: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    All,
    Tcp,
    Udp,
    Icmp,
    #[serde(rename = "icmpv6")]
    IcmpV6,
}

/// Addresses from `start` to `end`, both included (one address: equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IpRange {
    pub start: std::net::IpAddr,
    pub end: std::net::IpAddr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

/// ICMP type 255 is any type (Diego's -1); a code of None or 255, any code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IcmpControl {
    pub r#type: u8,
    pub code: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    pub src_path: String,
    pub dst_path: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// Memory limit in bytes (0: none).
    pub memory_bytes: u64,
    /// Disk limit in bytes (0: none; enforced where the filesystem allows).
    pub disk_bytes: u64,
    /// Maximum number of processes (0: none).
    pub max_pids: u64,
    /// Relative CPU weight (Diego's cpu_weight, 1..=100; 0: default).
    pub cpu_weight: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortMapping {
    pub host_port: u16,
    pub container_port: u16,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessSpec {
    /// Program to run, looked up in the container's PATH when relative.
    pub path: String,
    pub args: Vec<String>,
    /// Added to the container's env (`KEY=VALUE`).
    pub env: Vec<String>,
    /// Working directory; empty: the user's home or `/`.
    pub dir: String,
    /// User name or uid in the container; empty: root.
    pub user: String,
    /// RLIMIT_NOFILE for the process (None: the runtime's default).
    pub nofile: Option<u64>,
    /// A root filesystem of the process's own (a "pea", Garden's sidecar
    /// processes): as a container's image (`preloaded:NAME`, the path of a
    /// preloaded rootfs, `docker://...`). Empty: the container's rootfs.
    /// A pea shares the container's network (and user) namespace only.
    pub image: String,
    /// Credentials for a `docker://` process image's registry.
    pub image_username: String,
    pub image_password: String,
    /// Bind mounts of the process's own (only with `image`).
    pub bind_mounts: Vec<BindMount>,
    /// Garden's `OverrideContainerLimits` (a pea only): Some, the pea has
    /// cgroup limits of its own (memory and CPU weight; 0: none) instead
    /// of counting against the container's.
    pub override_limits: Option<Limits>,
}

impl ProcessSpec {
    /// Whether the process runs as a pea (its own rootfs and mounts).
    pub fn is_pea(&self) -> bool {
        !self.image.is_empty() || !self.bind_mounts.is_empty()
    }
}

/// Where a process's output goes (None: discarded) and its input comes from.
#[derive(Default)]
pub struct ProcessIo {
    pub stdin: Option<Box<dyn AsyncRead + Send + Unpin>>,
    pub stdout: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    pub stderr: Option<Box<dyn AsyncWrite + Send + Unpin>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Terminate,
    Kill,
}

/// A process running in a container.
#[async_trait]
pub trait Process: Send + Sync {
    fn id(&self) -> String;
    /// Waits for the process to exit; its exit status (128 + signal number
    /// when killed by a signal, as a shell reports it).
    async fn wait(&self) -> Result<i32, GardenError>;
    async fn signal(&self, signal: Signal) -> Result<(), GardenError>;
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    /// "active" or "stopped".
    pub state: String,
    /// Things that happened to the container, as Garden reports them; the
    /// executor looks for "out of memory".
    pub events: Vec<String>,
    pub host_ip: String,
    pub container_ip: String,
    pub external_ip: String,
    pub mapped_ports: Vec<PortMapping>,
    pub properties: Properties,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerMetrics {
    pub memory_usage_bytes: u64,
    pub disk_usage_bytes: u64,
    pub cpu_usage: Duration,
    /// Bytes the container received and sent over its network, where the
    /// backend can tell (None: houdini, no network of its own).
    pub rx_bytes: Option<u64>,
    pub tx_bytes: Option<u64>,
}

/// The container backend.
#[async_trait]
pub trait Backend: Send + Sync {
    async fn ping(&self) -> Result<(), GardenError>;
    async fn create(&self, spec: ContainerSpec) -> Result<ContainerInfo, GardenError>;
    /// Kills every process, then removes everything the container had:
    /// mounts, cgroups, network namespace, port mapping rules, files.
    async fn destroy(&self, handle: &str) -> Result<(), GardenError>;
    /// Handles of the containers whose properties include all of `filter`.
    async fn containers(&self, filter: &Properties) -> Result<Vec<String>, GardenError>;
    async fn info(&self, handle: &str) -> Result<ContainerInfo, GardenError>;
    async fn metrics(&self, handle: &str) -> Result<ContainerMetrics, GardenError>;
    async fn run(
        &self,
        handle: &str,
        spec: ProcessSpec,
        io: ProcessIo,
    ) -> Result<Box<dyn Process>, GardenError>;
    /// Extracts a tar stream into the container at `dst_path` (created if
    /// missing), owned by `user` (empty: root).
    async fn stream_in(
        &self,
        handle: &str,
        dst_path: &str,
        user: &str,
        tar: Box<dyn AsyncRead + Send + Unpin>,
    ) -> Result<(), GardenError>;
    /// A tar stream of `src_path` in the container (a file or a directory).
    async fn stream_out(&self, handle: &str, src_path: &str) -> Result<Bytes, GardenError>;
    /// Total memory and disk the backend offers, and how many containers.
    async fn capacity(&self) -> Result<Capacity, GardenError>;
    /// The cell is stopping: gives back what the backend made for its
    /// containers as a whole (runc: its parent cgroups, bridge, NAT chains
    /// and firewall tables), if it has no container left. Containers that
    /// are left keep all of it; a later create makes it again.
    async fn release_parents(&self) {}
    /// Garden's Stop: ends every process in the container but its init,
    /// SIGTERM first and SIGKILL for what is left after the backend's wait
    /// (at once with `kill`); the container stays, its state "stopped".
    /// Processes run in it report their exit status as usual.
    async fn stop(&self, handle: &str, kill: bool) -> Result<(), GardenError> {
        let _ = (handle, kill);
        Err(GardenError::Runtime(
            "stopping a container is not supported by this backend".into(),
        ))
    }
    /// Sets (`Some`) or removes (`None`) one of a container's properties
    /// (Garden's SetProperty/RemoveProperty). Backends that keep their
    /// properties only as created refuse it.
    async fn set_property(
        &self,
        handle: &str,
        key: &str,
        value: Option<String>,
    ) -> Result<(), GardenError> {
        let _ = (handle, key, value);
        Err(GardenError::Runtime(
            "changing a container's properties is not supported by this backend".into(),
        ))
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capacity {
    pub memory_bytes: u64,
    pub disk_bytes: u64,
    pub max_containers: u64,
}
