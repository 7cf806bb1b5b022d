//! The rep's JSON config file, with Diego's field names (`rep:cmd/rep/config`
//! plus the embedded executor and locket client configs):
//!
//! ```json
//! {
//!   "cell_id": "cell-z1-0", "cell_index": 0, "zone": "z1",
//!   "listen_addr": "127.0.0.1:1800", "listen_addr_securable": "0.0.0.0:1801",
//!   "advertise_domain": "cell.service.cf.internal",
//!   "bbs_address": "https://bbs.service.cf.internal:8889",
//!   "ca_cert_file": "ca.crt", "cert_file": "rep.crt", "key_file": "rep.key",
//!   "locket_address": "locket.service.cf.internal:8891",
//!   "locket_ca_cert_file": "ca.crt", "locket_client_cert_file": "c.crt", "locket_client_key_file": "c.key",
//!   "lock_ttl": "15s", "lock_retry_interval": "5s",
//!   "preloaded_root_fs": ["cflinuxfs4:/var/vcap/packages/cflinuxfs4/rootfs.tar"],
//!   "supported_providers": ["docker"],
//!   "placement_tags": [], "optional_placement_tags": [],
//!   "polling_interval": "30s", "evacuation_polling_interval": "10s",
//!   "evacuation_timeout": "10m", "communication_timeout": "10s",
//!   "memory_mb": "auto", "disk_mb": "auto", "max_containers": 250
//! }
//! ```
//!
//! `listen_addr` serves the localhost routes (`/ping`, `/evacuate`),
//! `listen_addr_securable` the routes the auctioneer and BBS call. Without
//! `listen_addr_securable` every route is served on `listen_addr` (local
//! use and tests). With `cert_file` and `key_file` both listeners serve
//! mutual TLS as Diego's rep does (clients need a certificate signed by
//! `ca_cert_file`); without them, plain HTTP. The BBS client uses the same
//! files (or the deprecated `bbs_*` names).
//!
//! `docker://` root filesystems are pulled by the cell itself (Garden's
//! image plugin, grootfs, in Diego): Garden's job properties
//! `insecure_docker_registry_list` (registries spoken to over plain HTTP:
//! `host:port`, `host`, or a CIDR block such as `127.0.0.0/8`) and
//! `graph_cleanup_threshold_in_mb` (unused image layers are removed above
//! this many MB of layers; -1, the default, never) configure it here.
//! Logs and container metrics go to the log component as Diego's executor
//! sends them to its Loggregator agent: `"loggregator": {
//! "loggregator_use_v2_api": true, "loggregator_api_port": 3458,
//! "loggregator_ca_path": "ca.crt", "loggregator_cert_path": "c.crt",
//! "loggregator_key_path": "c.key" }` (mutual TLS when the cert and key are
//! set), plus, not Diego's (its agent is always local),
//! `loggregator_api_host` (default `127.0.0.1`); with
//! `max_log_lines_per_second` (0: no cap) and
//! `container_metrics_report_interval` (`"15s"`).
//!
//! `container_tag` (not Diego's; default `"gdn"`, 1 to 4 characters) names the
//! runc backend's cgroups (`garden-TAG`), netns, bridge and iptables chains:
//! cells sharing a host need distinct tags. Also not Diego's, for the runc
//! backend: `default_max_pids` (1024), `allow_privileged_containers`
//! (false), `enforce_disk_limits` (true), `container_network`
//! (`10.254.0.0/22`), `cni_config_path` (empty: the default CNI list made
//! from `container_network`) and `cni_plugin_dir` (`/usr/lib/cni`).

use anyhow::Context;
use models::go_duration::GoDuration;
use serde::{Deserialize, Deserializer};
use std::path::Path;
use std::time::Duration;

/// One `preloaded_root_fs` entry, `"name:path"` in JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootFs {
    pub name: String,
    pub path: String,
}

impl<'de> Deserialize<'de> for RootFs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let (name, path) = s.split_once(':').ok_or_else(|| {
            serde::de::Error::custom(
                "Invalid preloaded RootFS value: not of the form 'stack-name:path'",
            )
        })?;
        if name.is_empty() {
            return Err(serde::de::Error::custom(
                "Invalid preloaded RootFS value: blank stack",
            ));
        }
        if path.is_empty() {
            return Err(serde::de::Error::custom(
                "Invalid preloaded RootFS value: blank path",
            ));
        }
        Ok(RootFs {
            name: name.into(),
            path: path.into(),
        })
    }
}

/// `memory_mb` / `disk_mb`: `"auto"` (from the backend's capacity) or MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Capacity {
    #[default]
    Auto,
    Mb(i32),
}

impl<'de> Deserialize<'de> for Capacity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i32),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Capacity::Mb(n)),
            Raw::Str(s) if s == "auto" || s.is_empty() => Ok(Capacity::Auto),
            Raw::Str(s) => s
                .parse()
                .map(Capacity::Mb)
                .map_err(|_| serde::de::Error::custom(format!("invalid capacity {s:?}"))),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RepConfig {
    pub cell_id: String,
    pub cell_index: i32,
    pub zone: String,
    pub listen_addr: String,
    pub listen_addr_securable: String,
    /// Diego's rep URL is `https://<cell_id>.<advertise_domain>:<port>`;
    /// empty: the listener's own address.
    pub advertise_domain: String,
    pub bbs_address: String,
    pub ca_cert_file: String,
    pub cert_file: String,
    pub key_file: String,
    /// Both listeners' limits and timeouts (ours; see
    /// [`httpserve::ServerSettings`]), beside the other fields.
    #[serde(flatten)]
    pub server: httpserve::ServerSettings,
    pub bbs_ca_cert_file: String,
    pub bbs_client_cert_file: String,
    pub bbs_client_key_file: String,
    pub communication_timeout: GoDuration,
    pub locket_address: String,
    pub locket_ca_cert_file: String,
    pub locket_client_cert_file: String,
    pub locket_client_key_file: String,
    pub lock_ttl: GoDuration,
    pub lock_retry_interval: GoDuration,
    pub preloaded_root_fs: Vec<RootFs>,
    /// URL schemes any rootfs of which this cell runs (e.g. `docker`).
    pub supported_providers: Vec<String>,
    pub placement_tags: Vec<String>,
    pub optional_placement_tags: Vec<String>,
    pub polling_interval: GoDuration,
    pub evacuation_polling_interval: GoDuration,
    pub evacuation_timeout: GoDuration,
    pub memory_mb: Capacity,
    pub disk_mb: Capacity,
    pub max_containers: i32,
    pub proxy_memory_allocation_mb: i32,
    pub enable_container_proxy: bool,
    /// How often the executor's housekeeping runs (Diego: 1m).
    pub container_reap_interval: GoDuration,
    /// How long a reserved container may wait to be run (Diego: 1m).
    pub reserved_expiration_time: GoDuration,
    pub log_level: String,
    /// Not Diego's (its executor talks to a Garden server): the in-process
    /// container backend, `"runc"` or `"houdini"` (no isolation).
    pub container_backend: String,
    /// Where the backend keeps containers.
    pub depot_dir: String,
    /// The cell's address: the `address` of the instances' net info.
    pub external_ip: String,
    /// Not Diego's (Garden's `--tag`): the runc backend's short name in
    /// its cgroups, netns names, bridge and chains. Cells sharing a host's
    /// cgroup tree and /run/netns (e.g. in network namespaces) need
    /// different tags.
    pub container_tag: String,
    /// Garden's: registries `docker://` images are pulled from over plain
    /// HTTP.
    pub insecure_docker_registry_list: Vec<String>,
    /// Garden's: above this many MB of image layers, unused ones are
    /// removed (least recently used first); -1: never.
    pub graph_cleanup_threshold_in_mb: i64,
    /// Not Diego's (Cloud Controller gives every app 1024): the pids limit
    /// of containers whose LRP or Task sets no `max_pids`. 0: none.
    pub default_max_pids: u64,
    /// Garden's `disable_privileged_containers`, inverted: whether LRPs and
    /// Tasks with `privileged: true` may run on this cell. Off by default.
    pub allow_privileged_containers: bool,
    /// Whether a container's disk limit is enforced (its writes on a
    /// filesystem of that size) or only measured. On by default.
    pub enforce_disk_limits: bool,
    /// Not Diego's (Garden's `--network-pool`): the containers' subnet,
    /// `ADDRESS/PREFIX`; its first address is the bridge's.
    pub container_network: String,
    /// Not Diego's (Garden's external networker config): a CNI network
    /// configuration list (`.conflist`) replacing the default made from
    /// `container_network` (bridge, host-local, portmap, firewall); empty:
    /// the default.
    pub cni_config_path: String,
    /// Where the CNI plugins are.
    pub cni_plugin_dir: String,
    pub loggregator: LoggregatorConfig,
    /// Diego's operator cap on every instance's log lines per second (0:
    /// none).
    pub max_log_lines_per_second: u32,
    pub container_metrics_report_interval: GoDuration,
}

/// Diego's `loggingclient.Config` (the `loggregator` object).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct LoggregatorConfig {
    pub loggregator_use_v2_api: bool,
    pub loggregator_api_port: u16,
    pub loggregator_ca_path: String,
    pub loggregator_cert_path: String,
    pub loggregator_key_path: String,
    /// Not Diego's: where the log component listens (default 127.0.0.1).
    pub loggregator_api_host: String,
}

impl LoggregatorConfig {
    /// The sender's settings, when the cell sends to a log component.
    pub fn ingress(&self, origin: &str) -> Option<logs_client::IngressConfig> {
        if !self.loggregator_use_v2_api || self.loggregator_api_port == 0 {
            return None;
        }
        let host = if self.loggregator_api_host.is_empty() {
            "127.0.0.1"
        } else {
            &self.loggregator_api_host
        };
        let mut cfg = logs_client::IngressConfig::new(
            &format!("{host}:{}", self.loggregator_api_port),
            origin,
        );
        if !self.loggregator_cert_path.is_empty() {
            cfg.tls = Some(tlsconfig::ClientTls::from_files(
                &self.loggregator_ca_path,
                &self.loggregator_cert_path,
                &self.loggregator_key_path,
            ));
        }
        Some(cfg)
    }
}

impl Default for RepConfig {
    fn default() -> Self {
        Self {
            server: httpserve::ServerSettings::default(),
            cell_id: String::new(),
            cell_index: 0,
            zone: String::new(),
            listen_addr: "127.0.0.1:1800".into(),
            listen_addr_securable: String::new(),
            advertise_domain: String::new(),
            bbs_address: String::new(),
            ca_cert_file: String::new(),
            cert_file: String::new(),
            key_file: String::new(),
            bbs_ca_cert_file: String::new(),
            bbs_client_cert_file: String::new(),
            bbs_client_key_file: String::new(),
            communication_timeout: GoDuration(Duration::from_secs(10)),
            locket_address: String::new(),
            locket_ca_cert_file: String::new(),
            locket_client_cert_file: String::new(),
            locket_client_key_file: String::new(),
            lock_ttl: GoDuration(Duration::from_secs(15)),
            lock_retry_interval: GoDuration(Duration::from_secs(5)),
            preloaded_root_fs: vec![],
            supported_providers: vec![],
            placement_tags: vec![],
            optional_placement_tags: vec![],
            polling_interval: GoDuration(Duration::from_secs(30)),
            evacuation_polling_interval: GoDuration(Duration::from_secs(10)),
            evacuation_timeout: GoDuration(Duration::from_secs(600)),
            memory_mb: Capacity::Auto,
            disk_mb: Capacity::Auto,
            max_containers: 250,
            proxy_memory_allocation_mb: 0,
            enable_container_proxy: false,
            container_reap_interval: GoDuration(Duration::from_secs(60)),
            reserved_expiration_time: GoDuration(Duration::from_secs(60)),
            log_level: "info".into(),
            container_backend: "runc".into(),
            depot_dir: "/var/vcap/data/rep/depot".into(),
            external_ip: "127.0.0.1".into(),
            container_tag: "gdn".into(),
            insecure_docker_registry_list: vec![],
            graph_cleanup_threshold_in_mb: -1,
            default_max_pids: garden::config::DEFAULT_MAX_PIDS,
            allow_privileged_containers: false,
            enforce_disk_limits: true,
            container_network: "10.254.0.0/22".into(),
            cni_config_path: String::new(),
            cni_plugin_dir: "/usr/lib/cni".into(),
            loggregator: LoggregatorConfig::default(),
            max_log_lines_per_second: 0,
            container_metrics_report_interval: GoDuration(Duration::from_secs(15)),
        }
    }
}

impl RepConfig {
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let cfg: Self =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.cell_id.is_empty() {
            anyhow::bail!("invalid-cell-id: cell_id must be specified");
        }
        if !self.bbs_address.starts_with("http://") && !self.bbs_address.starts_with("https://") {
            anyhow::bail!(
                "invalid-bbs-address: {:?} (want http(s)://host:port)",
                self.bbs_address
            );
        }
        if !matches!(self.container_backend.as_str(), "runc" | "houdini") {
            anyhow::bail!(
                "container_backend {:?}: want \"runc\" or \"houdini\"",
                self.container_backend
            );
        }
        if self.serves_tls() && self.ca_cert_file.is_empty() {
            anyhow::bail!("serving mutual TLS needs ca_cert_file");
        }
        if self.max_containers <= 0 {
            anyhow::bail!("max_containers must be positive");
        }
        image::InsecureRegistries::new(&self.insecure_docker_registry_list)
            .map_err(|e| anyhow::anyhow!("insecure_docker_registry_list: {e}"))?;
        if self.graph_cleanup_threshold_in_mb < -1 {
            anyhow::bail!("graph_cleanup_threshold_in_mb: -1 (never) or a size in MB");
        }
        Ok(())
    }

    /// Whether the listeners serve mutual TLS.
    pub fn serves_tls(&self) -> bool {
        !self.cert_file.is_empty() && !self.key_file.is_empty()
    }

    /// TLS files of the BBS client (the deprecated `bbs_*` names win).
    pub fn bbs_tls(&self) -> tlsconfig::ClientTls {
        fn pick<'a>(a: &'a str, b: &'a str) -> &'a str {
            if a.is_empty() {
                b
            } else {
                a
            }
        }
        tlsconfig::ClientTls::from_files(
            pick(&self.bbs_ca_cert_file, &self.ca_cert_file),
            pick(&self.bbs_client_cert_file, &self.cert_file),
            pick(&self.bbs_client_key_file, &self.key_file),
        )
    }

    pub fn locket(&self) -> Option<locket::client::ClientLocketConfig> {
        if self.locket_address.is_empty() {
            return None;
        }
        Some(locket::client::ClientLocketConfig {
            locket_address: self.locket_address.clone(),
            locket_ca_cert_file: self.locket_ca_cert_file.clone(),
            locket_client_cert_file: self.locket_client_cert_file.clone(),
            locket_client_key_file: self.locket_client_key_file.clone(),
        })
    }

    /// The image layer store's cap in bytes (None: never clean up).
    pub fn image_store_cap_bytes(&self) -> Option<u64> {
        u64::try_from(self.graph_cleanup_threshold_in_mb)
            .ok()
            .map(|mb| mb << 20)
    }

    /// The preloaded stack names.
    pub fn stack_names(&self) -> Vec<String> {
        self.preloaded_root_fs
            .iter()
            .map(|r| r.name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diego_field_names() {
        let cfg: RepConfig = serde_json::from_str(
            r#"{"cell_id":"cell-1","zone":"z1","listen_addr":"127.0.0.1:1800",
                "listen_addr_securable":"0.0.0.0:1801","bbs_address":"http://127.0.0.1:8889",
                "ca_cert_file":"ca.crt","cert_file":"c.crt","key_file":"c.key",
                "preloaded_root_fs":["cflinuxfs4:/var/rootfs/cflinuxfs4"],
                "supported_providers":["docker"],"placement_tags":["a"],
                "optional_placement_tags":["b"],"evacuation_timeout":"2m",
                "polling_interval":"5s","memory_mb":"auto","disk_mb":"20480",
                "locket_address":"127.0.0.1:8891","lock_ttl":"10s",
                "insecure_docker_registry_list":["registry.internal:5000","127.0.0.0/8"],
                "graph_cleanup_threshold_in_mb":2048}"#,
        )
        .unwrap();
        cfg.validate().unwrap();
        assert_eq!(
            cfg.preloaded_root_fs,
            vec![RootFs {
                name: "cflinuxfs4".into(),
                path: "/var/rootfs/cflinuxfs4".into()
            }]
        );
        assert_eq!(cfg.evacuation_timeout.0, Duration::from_secs(120));
        assert_eq!(cfg.polling_interval.0, Duration::from_secs(5));
        assert_eq!(cfg.evacuation_polling_interval.0, Duration::from_secs(10));
        assert_eq!(cfg.memory_mb, Capacity::Auto);
        assert_eq!(cfg.disk_mb, Capacity::Mb(20480));
        assert_eq!(
            cfg.bbs_tls().identity.map(|(cert, _)| cert),
            Some(tlsconfig::Pem::file("c.crt"))
        );
        assert_eq!(cfg.locket().unwrap().locket_address, "127.0.0.1:8891");
        assert_eq!(cfg.lock_ttl.0, Duration::from_secs(10));
        assert_eq!(cfg.insecure_docker_registry_list.len(), 2);
        assert_eq!(cfg.image_store_cap_bytes(), Some(2048 << 20));
        assert_eq!(RepConfig::default().image_store_cap_bytes(), None);
        let bad: RepConfig = serde_json::from_str(
            r#"{"cell_id":"c","bbs_address":"http://b","insecure_docker_registry_list":["x/99"]}"#,
        )
        .unwrap();
        assert!(bad.validate().is_err());
        // The runc backend's isolation settings, by default.
        assert_eq!(cfg.default_max_pids, 1024);
        assert!(!cfg.allow_privileged_containers);
        assert!(cfg.enforce_disk_limits);
        assert_eq!(cfg.container_network, "10.254.0.0/22");
        assert!(cfg.loggregator.ingress("cell-1").is_none());
        let cfg: RepConfig = serde_json::from_str(
            r#"{"loggregator":{"loggregator_use_v2_api":true,"loggregator_api_port":3458,
                "loggregator_ca_path":"ca.crt","loggregator_cert_path":"c.crt",
                "loggregator_key_path":"c.key"},
                "max_log_lines_per_second":100,"container_metrics_report_interval":"5s"}"#,
        )
        .unwrap();
        let ingress = cfg.loggregator.ingress("cell-1").unwrap();
        assert_eq!(ingress.address, "127.0.0.1:3458");
        assert!(ingress.tls.is_some());
        assert_eq!(cfg.max_log_lines_per_second, 100);
        assert_eq!(
            cfg.container_metrics_report_interval.0,
            Duration::from_secs(5)
        );
        let cfg: RepConfig = serde_json::from_str(
            r#"{"default_max_pids":64,"allow_privileged_containers":true,"enforce_disk_limits":false}"#,
        )
        .unwrap();
        assert_eq!(
            (
                cfg.default_max_pids,
                cfg.allow_privileged_containers,
                cfg.enforce_disk_limits
            ),
            (64, true, false)
        );
    }

    #[test]
    fn example_config_parses() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/rep-houdini.example.json");
        let cfg = RepConfig::from_file(&path).unwrap();
        assert_eq!(cfg.container_backend, "houdini");
        assert_eq!(cfg.evacuation_timeout.0, Duration::from_secs(600));
    }

    #[test]
    fn bad_rootfs_and_missing_cell_id_are_refused() {
        assert!(serde_json::from_str::<RepConfig>(r#"{"preloaded_root_fs":["nocolon"]}"#).is_err());
        assert!(serde_json::from_str::<RepConfig>(r#"{"preloaded_root_fs":[":p"]}"#).is_err());
        let cfg: RepConfig = serde_json::from_str(r#"{"bbs_address":"http://b"}"#).unwrap();
        assert!(cfg.validate().is_err());
    }
}
