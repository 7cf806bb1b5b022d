//! What the backend keeps on disk about each container, so a restarted
//! backend knows its containers (and can destroy half-created ones).

use std::net::Ipv4Addr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::api::{
    BindMount, ContainerSpec, GardenError, Limits, NetOutRule, PortMapping, Properties,
};
use crate::network::CNIResult;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    pub handle: String,
    pub image: String,
    pub env: Vec<String>,
    pub bind_mounts: Vec<(String, String, bool)>,
    pub memory_bytes: u64,
    pub disk_bytes: u64,
    pub max_pids: u64,
    pub cpu_weight: u32,
    pub privileged: bool,
    pub properties: Properties,
    /// The container's address and the host end of its link, once the
    /// CNI plugins plugged it in; their ADD result (DEL and CHECK are
    /// given it).
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    #[serde(default)]
    pub host_iface: Option<String>,
    #[serde(default)]
    pub cni_result: Option<CNIResult>,
    /// (host port, container port)
    pub mapped_ports: Vec<(u16, u16)>,
    pub cgroups_path: String,
    /// What the container may reach.
    #[serde(default)]
    pub net_out: Vec<NetOutRule>,
    /// Whether it runs in the backend's user namespace (its files are
    /// owned by shifted host ids).
    #[serde(default)]
    pub userns: bool,
}

impl Record {
    pub fn new(
        spec: &ContainerSpec,
        limits: &Limits,
        ports: &[PortMapping],
        cgroups_path: String,
        userns: bool,
    ) -> Self {
        Record {
            handle: spec.handle.clone(),
            image: spec.image.clone(),
            env: spec.env.clone(),
            bind_mounts: spec
                .bind_mounts
                .iter()
                .map(|b| (b.src_path.clone(), b.dst_path.clone(), b.read_only))
                .collect(),
            memory_bytes: limits.memory_bytes,
            disk_bytes: limits.disk_bytes,
            max_pids: limits.max_pids,
            cpu_weight: limits.cpu_weight,
            privileged: spec.privileged,
            properties: spec.properties.clone(),
            ip: None,
            host_iface: None,
            cni_result: None,
            mapped_ports: ports
                .iter()
                .map(|p| (p.host_port, p.container_port))
                .collect(),
            cgroups_path,
            net_out: spec.net_out.clone(),
            userns,
        }
    }

    pub fn limits(&self) -> Limits {
        Limits {
            memory_bytes: self.memory_bytes,
            disk_bytes: self.disk_bytes,
            max_pids: self.max_pids,
            cpu_weight: self.cpu_weight,
        }
    }

    pub fn bind_mounts(&self) -> Vec<BindMount> {
        self.bind_mounts
            .iter()
            .map(|(s, d, ro)| BindMount {
                src_path: s.clone(),
                dst_path: d.clone(),
                read_only: *ro,
            })
            .collect()
    }

    pub fn ports(&self) -> Vec<PortMapping> {
        self.mapped_ports
            .iter()
            .map(|&(h, c)| PortMapping {
                host_port: h,
                container_port: c,
            })
            .collect()
    }

    const FILE: &'static str = "container.json";

    /// Written atomically (rename), so a crash never leaves half a record.
    pub fn save(&self, dir: &Path) -> Result<(), GardenError> {
        let tmp = dir.join(".container.json.tmp");
        let json =
            serde_json::to_vec_pretty(self).map_err(|e| GardenError::Runtime(e.to_string()))?;
        std::fs::write(&tmp, json)?;
        std::fs::rename(tmp, dir.join(Self::FILE))?;
        Ok(())
    }

    pub fn load(dir: &Path) -> Option<Record> {
        let bytes = std::fs::read(dir.join(Self::FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}
