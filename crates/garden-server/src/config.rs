//! `diego garden --config FILE`: a JSON file. The names follow guardian's
//! `gdn server` flags where there is one (`--bind-ip/--bind-port` or
//! `--bind-socket` become `listen_network` + `listen_address`, as Diego's
//! rep names the other end `garden_network`/`garden_addr`; `--depot`,
//! `--max-containers`, `--network-pool`, `--external-ip`,
//! `--allow-host-access`'s opposite is ours), plus the backend choice the
//! rep also has (`container_backend`) and the shared server settings.

use anyhow::{bail, Context};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GardenConfig {
    /// `tcp` (listen_address `IP:PORT`) or `unix` (a socket path).
    pub listen_network: String,
    /// gdn's default is 127.0.0.1:7777; so is ours.
    pub listen_address: String,
    /// `runc` (isolated containers; needs root) or `houdini` (host
    /// processes in a directory each; for machines without runc).
    pub container_backend: String,
    /// Where containers' files live (gdn's `--depot`).
    pub depot_dir: String,
    pub max_containers: u64,
    /// Rootfs names a container spec may name as `preloaded:NAME`, with
    /// their directories (runc only).
    pub preloaded_rootfs: BTreeMap<String, String>,
    /// Containers' subnet (gdn's `--network-pool`; runc only).
    pub network_pool: String,
    /// The address port mappings are reached on (gdn's `--external-ip`).
    pub external_ip: String,
    pub log_level: String,
    #[serde(flatten)]
    pub server: httpserve::ServerSettings,
}

/// Garden's default connection cap, above httpserve's: every running
/// process holds three connections (run, stdout, stderr) for its life, and
/// a cell of 250 containers with an app, a proxy and a health check each
/// needs over 2000.
pub const MAX_CONNECTIONS: usize = 32768;

impl Default for GardenConfig {
    fn default() -> Self {
        GardenConfig {
            listen_network: "tcp".into(),
            listen_address: "127.0.0.1:7777".into(),
            container_backend: "runc".into(),
            depot_dir: "/var/vcap/data/garden/depot".into(),
            max_containers: 250,
            preloaded_rootfs: BTreeMap::new(),
            network_pool: "10.254.0.0/22".into(),
            external_ip: "127.0.0.1".into(),
            log_level: "info".into(),
            server: httpserve::ServerSettings {
                max_connections: MAX_CONNECTIONS,
                ..Default::default()
            },
        }
    }
}

impl GardenConfig {
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// A config file's text, validated. The flattened server settings
    /// take httpserve's defaults; garden's own connection cap applies
    /// unless the file sets one.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        let has_cap = value.get("max_connections").is_some();
        let mut cfg: GardenConfig = serde_json::from_value(value)?;
        if !has_cap {
            cfg.server.max_connections = MAX_CONNECTIONS;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if !matches!(self.listen_network.as_str(), "tcp" | "unix") {
            bail!(
                "listen_network {:?}: want \"tcp\" or \"unix\"",
                self.listen_network
            );
        }
        if !matches!(self.container_backend.as_str(), "runc" | "houdini") {
            bail!(
                "container_backend {:?}: want \"runc\" or \"houdini\"",
                self.container_backend
            );
        }
        Ok(())
    }

    /// The backend this config asks for.
    pub async fn backend(&self) -> anyhow::Result<std::sync::Arc<dyn garden::Backend>> {
        let depot = PathBuf::from(&self.depot_dir);
        Ok(match self.container_backend.as_str() {
            "houdini" => {
                let capacity =
                    garden::houdini::HoudiniBackend::host_capacity(&depot, self.max_containers);
                std::sync::Arc::new(garden::houdini::HoudiniBackend::new(
                    depot.join("houdini"),
                    capacity,
                )?)
            }
            _ => {
                let mut rc = garden::RuncConfig::new(depot.join("runc"));
                rc.rootfs = self
                    .preloaded_rootfs
                    .iter()
                    .map(|(n, p)| (n.clone(), PathBuf::from(p)))
                    .collect();
                rc.external_ip = self
                    .external_ip
                    .parse()
                    .with_context(|| format!("external_ip {:?}", self.external_ip))?;
                rc.max_containers = self.max_containers;
                let (subnet, prefix) = self
                    .network_pool
                    .split_once('/')
                    .and_then(|(a, p)| Some((a.parse().ok()?, p.parse::<u8>().ok()?)))
                    .filter(|(_, p)| (8..=30).contains(p))
                    .with_context(|| format!("network_pool {:?}", self.network_pool))?;
                rc.subnet = subnet;
                rc.subnet_prefix = prefix;
                std::sync::Arc::new(garden::RuncBackend::new(rc).await?)
            }
        })
    }
}
