//! Invoking CNI plugins as a runtime does (CNI spec 1.0: ADD, CHECK, DEL
//! over a network configuration list). Each plugin of the list is run in
//! turn with the CNI_* environment and its own configuration on stdin,
//! carrying the list's name and version, the previous plugin's result
//! (`prevResult`) and the runtime's arguments for the capabilities it
//! declares (`portMappings`). DEL runs the list backwards.
//!
//! The wire types are `rscni-types`' (spec 1.1.0 types, both sides'):
//! plugin-specific keys ride along in their `custom` maps untouched.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use rscni_types::types::{NetConf, NetConfList, PortMapping as CniPort, RuntimeConf};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::api::{GardenError, PortMapping};
use crate::cmd::run;

pub use rscni_types::types::CNIResult;

/// One plugin runs at a time in this process, as Guardian's networker
/// holds a lock around its plugins: the plugins' host-wide setup is not
/// safe against itself (two portmap ADDs at once both create the
/// top-level DNAT chain, and one fails with "File exists").
static PLUGIN_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A network configuration list and where its plugins are.
#[derive(Debug, Clone)]
pub struct Cni {
    list: NetConfList,
    plugin_dirs: Vec<PathBuf>,
}

/// What one container's attachment is.
#[derive(Debug, Clone, Copy)]
pub struct Attach<'a> {
    pub container_id: &'a str,
    /// Its network namespace's path.
    pub netns: &'a str,
    pub ports: &'a [PortMapping],
    /// The host address mapped ports listen on.
    pub host_ip: Ipv4Addr,
}

impl Cni {
    /// The operator's list, from a `.conflist` file.
    pub fn load(path: &Path, plugin_dirs: Vec<PathBuf>) -> Result<Self, GardenError> {
        let bytes = std::fs::read(path)?;
        let list: NetConfList = serde_json::from_slice(&bytes)
            .map_err(|e| GardenError::InvalidSpec(format!("CNI config {}: {e}", path.display())))?;
        if list.plugins.is_empty() {
            return Err(GardenError::InvalidSpec(format!(
                "CNI config {}: no plugins",
                path.display()
            )));
        }
        Ok(Cni { list, plugin_dirs })
    }

    /// The cell's default list: a bridge `TAG-br0` that is the containers'
    /// gateway and masquerades what leaves the subnet, addresses from the
    /// subnet by host-local (leases under `ipam_dir`), host ports mapped by
    /// portmap, and forwarding allowed by firewall (for hosts whose FORWARD
    /// policy drops).
    pub fn default_list(
        tag: &str,
        subnet: Ipv4Addr,
        prefix: u8,
        ipam_dir: &Path,
        plugin_dirs: Vec<PathBuf>,
    ) -> Self {
        let gateway = Ipv4Addr::from(u32::from(subnet) + 1);
        let json = serde_json::json!({
            "cniVersion": "1.0.0",
            "name": format!("garden-{tag}"),
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": format!("{tag}-br0"),
                    "isGateway": true,
                    "isDefaultGateway": true,
                    "ipMasq": true,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": format!("{subnet}/{prefix}"), "gateway": gateway.to_string()}]],
                        "dataDir": ipam_dir.display().to_string(),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true},
                {"type": "firewall", "backend": "iptables"},
            ],
        });
        let list = serde_json::from_value(json).expect("the default list is valid");
        Cni { list, plugin_dirs }
    }

    pub fn name(&self) -> &str {
        &self.list.name
    }

    /// The bridge the list's `bridge` plugin puts containers on (the
    /// plugin's default `cni0` when it names none).
    pub fn bridge(&self) -> Option<String> {
        let p = self.list.plugins.iter().find(|p| p.r#type == "bridge")?;
        Some(
            p.custom
                .get("bridge")
                .and_then(|b| b.as_str())
                .unwrap_or("cni0")
                .to_string(),
        )
    }

    /// host-local's lease directory for this network, when the list's
    /// IPAM is host-local (its leases name their container).
    pub fn lease_dir(&self) -> Option<PathBuf> {
        let ipam = self.list.plugins.iter().find_map(|p| p.ipam.as_ref())?;
        if ipam.r#type != "host-local" {
            return None;
        }
        let data = ipam
            .custom
            .get("dataDir")
            .and_then(|d| d.as_str())
            .unwrap_or("/var/lib/cni/networks");
        Some(Path::new(data).join(&self.list.name))
    }

    /// ADD: every plugin in order, each given the previous one's result;
    /// the last result is the attachment's.
    pub async fn add(&self, a: &Attach<'_>) -> Result<CNIResult, GardenError> {
        let mut prev: Option<CNIResult> = None;
        for plugin in &self.list.plugins {
            let out = self.exec("ADD", plugin, a, prev.as_ref()).await?;
            let result: CNIResult = serde_json::from_str(&out).map_err(|e| {
                GardenError::Runtime(format!("CNI {} ADD result: {e}: {out}", plugin.r#type))
            })?;
            prev = Some(result);
        }
        Ok(prev.unwrap_or_default())
    }

    /// CHECK: every plugin in order, given the attachment's ADD result
    /// (nothing to do when the list disables it).
    pub async fn check(&self, a: &Attach<'_>, result: &CNIResult) -> Result<(), GardenError> {
        if self.list.disable_check {
            return Ok(());
        }
        for plugin in &self.list.plugins {
            self.exec("CHECK", plugin, a, Some(result)).await?;
        }
        Ok(())
    }

    /// DEL: every plugin in reverse order, given the ADD result when known.
    /// Goes on past a failing plugin (what the others made still goes);
    /// the first failure is returned.
    pub async fn del(&self, a: &Attach<'_>, result: Option<&CNIResult>) -> Result<(), GardenError> {
        let mut first = None;
        for plugin in self.list.plugins.iter().rev() {
            if let Err(e) = self.exec("DEL", plugin, a, result).await {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    fn binary(&self, kind: &str) -> Result<PathBuf, GardenError> {
        if kind.is_empty() || kind.contains('/') {
            return Err(GardenError::InvalidSpec(format!(
                "CNI plugin type {kind:?}"
            )));
        }
        self.plugin_dirs
            .iter()
            .map(|d| d.join(kind))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                GardenError::Runtime(format!(
                    "CNI plugin {kind} not found in {:?}",
                    self.plugin_dirs
                ))
            })
    }

    /// The plugin's stdin: its configuration with the list's name and
    /// version, the previous result and the runtime's arguments for the
    /// capabilities it declares.
    fn stdin_of(&self, plugin: &NetConf, a: &Attach<'_>, prev: Option<&CNIResult>) -> String {
        let mut conf = plugin.clone();
        conf.name = self.list.name.clone();
        conf.cni_version = self.list.cni_version.clone();
        conf.prev_result = prev.cloned();
        let wants_ports = conf
            .capabilities
            .as_ref()
            .is_some_and(|c| c.get("portMappings") == Some(&true));
        if wants_ports && !a.ports.is_empty() {
            let mut custom = std::collections::HashMap::new();
            custom.insert(
                "hostIP".to_string(),
                serde_json::Value::String(a.host_ip.to_string()),
            );
            conf.runtime_config = Some(RuntimeConf {
                port_mappings: a
                    .ports
                    .iter()
                    .map(|m| CniPort {
                        host_port: m.host_port.into(),
                        container_port: m.container_port.into(),
                        protocol: Some(rscni_types::types::Protocol::Tcp),
                        custom: custom.clone(),
                    })
                    .collect(),
                custom: Default::default(),
            });
        }
        serde_json::to_string(&conf).expect("a NetConf serializes")
    }

    async fn exec(
        &self,
        command: &str,
        plugin: &NetConf,
        a: &Attach<'_>,
        prev: Option<&CNIResult>,
    ) -> Result<String, GardenError> {
        let bin = self.binary(&plugin.r#type)?;
        let _one_at_a_time = PLUGIN_LOCK.lock().await;
        let path = std::env::join_paths(&self.plugin_dirs)
            .map_err(|e| GardenError::Runtime(e.to_string()))?;
        let stdin = self.stdin_of(plugin, a, prev);
        let mut child = Command::new(&bin)
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", a.container_id)
            .env("CNI_NETNS", a.netns)
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| GardenError::Runtime(format!("{}: {e}", bin.display())))?;
        let mut pipe = child.stdin.take().expect("piped stdin");
        pipe.write_all(stdin.as_bytes()).await?;
        drop(pipe);
        let out = child.wait_with_output().await?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            return Ok(stdout);
        }
        // The spec's error result: {code, msg, details} on stdout.
        let err: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_default();
        let msg = err["msg"].as_str().unwrap_or("").to_string();
        let details = err["details"].as_str().unwrap_or("");
        let text = format!(
            "CNI {} {command} {}: {msg} {details} {}",
            plugin.r#type,
            a.container_id,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        if msg.contains("no IP addresses available") {
            return Err(GardenError::InsufficientResources(
                "no container addresses left".into(),
            ));
        }
        Err(GardenError::Runtime(text.trim().to_string()))
    }
}

/// The container's IPv4 address in an ADD result.
pub fn ipv4_of(result: &CNIResult) -> Option<Ipv4Addr> {
    result.ips.iter().find_map(|ip| match ip.address.addr() {
        std::net::IpAddr::V4(v4) => Some(v4),
        _ => None,
    })
}

/// The host end of the container's link in an ADD result: a host-side
/// interface (no sandbox) that is not the bridge.
pub fn host_iface_of(result: &CNIResult, bridge: Option<&str>) -> Option<String> {
    result
        .interfaces
        .iter()
        .find(|i| i.sandbox.as_deref().unwrap_or("").is_empty() && Some(i.name.as_str()) != bridge)
        .map(|i| i.name.clone())
}

/// The plugins' host-wide chains (portmap's `CNI-HOSTPORT-*`, firewall's
/// `CNI-FORWARD` and `CNI-ADMIN`), removed with the jumps to them when no
/// container's rules are left in them: call when no network of this host
/// (namespace) has a container.
pub async fn remove_idle_chains() {
    let nat = run("iptables", &["-w", "-t", "nat", "-S"], None)
        .await
        .unwrap_or_default();
    let nat_busy = nat
        .lines()
        .any(|l| l.starts_with("-N CNI-DN-") || l.starts_with("-A CNI-HOSTPORT-DNAT "));
    if !nat_busy {
        remove_chains(
            "nat",
            &nat,
            &[
                "CNI-HOSTPORT-DNAT",
                "CNI-HOSTPORT-SETMARK",
                "CNI-HOSTPORT-MASQ",
            ],
        )
        .await;
    }
    let filter = run("iptables", &["-w", "-t", "filter", "-S"], None)
        .await
        .unwrap_or_default();
    let filter_busy = filter.lines().any(|l| {
        (l.starts_with("-A CNI-FORWARD ") && !l.ends_with("-j CNI-ADMIN"))
            || l.starts_with("-A CNI-ADMIN ")
    });
    if !filter_busy {
        remove_chains("filter", &filter, &["CNI-FORWARD", "CNI-ADMIN"]).await;
    }
}

/// Deletes every rule jumping to `chains` from elsewhere, then the chains.
pub(super) async fn remove_chains(table: &str, listing: &str, chains: &[&str]) {
    for rule in listing.lines() {
        let Some(spec) = rule.strip_prefix("-A ") else {
            continue;
        };
        let from = spec.split(' ').next().unwrap_or("");
        let jumps = chains.iter().any(|c| spec.ends_with(&format!("-j {c}")));
        if jumps && !chains.contains(&from) {
            // `-S` quotes comments as a shell would: a shell reads it back.
            let cmd = format!("iptables -w -t {table} -D {spec}");
            let _ = run("sh", &["-c", &cmd], None).await;
        }
    }
    for c in chains {
        let _ = run("iptables", &["-w", "-t", table, "-F", c], None).await;
    }
    for c in chains {
        let _ = run("iptables", &["-w", "-t", table, "-X", c], None).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugins_get_the_lists_name_version_and_their_capabilities() {
        let cni = Cni::default_list(
            "t9",
            Ipv4Addr::new(10, 251, 9, 0),
            24,
            Path::new("/d/ipam"),
            vec!["/usr/lib/cni".into()],
        );
        assert_eq!(cni.name(), "garden-t9");
        assert_eq!(cni.bridge().as_deref(), Some("t9-br0"));
        assert_eq!(cni.lease_dir(), Some(PathBuf::from("/d/ipam/garden-t9")));
        let ports = [PortMapping {
            host_port: 20000,
            container_port: 8080,
        }];
        let a = Attach {
            container_id: "c1",
            netns: "/run/netns/t9-c1",
            ports: &ports,
            host_ip: Ipv4Addr::LOCALHOST,
        };
        let bridge: serde_json::Value =
            serde_json::from_str(&cni.stdin_of(&cni.list.plugins[0], &a, None)).unwrap();
        assert_eq!(bridge["name"], "garden-t9");
        assert_eq!(bridge["cniVersion"], "1.0.0");
        assert_eq!(bridge["ipam"]["ranges"][0][0]["subnet"], "10.251.9.0/24");
        assert!(bridge.get("runtimeConfig").is_none());
        let prev: CNIResult = serde_json::from_value(serde_json::json!({
            "cniVersion": "1.0.0",
            "interfaces": [
                {"name": "t9-br0", "mac": "aa:bb:cc:dd:ee:01"},
                {"name": "veth1234", "mac": "aa:bb:cc:dd:ee:02"},
                {"name": "eth0", "mac": "aa:bb:cc:dd:ee:03", "sandbox": "/run/netns/t9-c1"}
            ],
            "ips": [{"interface": 2, "address": "10.251.9.2/24", "gateway": "10.251.9.1"}]
        }))
        .unwrap();
        let portmap: serde_json::Value =
            serde_json::from_str(&cni.stdin_of(&cni.list.plugins[1], &a, Some(&prev))).unwrap();
        assert_eq!(
            portmap["runtimeConfig"]["portMappings"][0],
            serde_json::json!({"hostPort": 20000, "containerPort": 8080, "protocol": "tcp", "hostIP": "127.0.0.1"})
        );
        assert_eq!(portmap["prevResult"]["ips"][0]["address"], "10.251.9.2/24");
        assert_eq!(ipv4_of(&prev), Some(Ipv4Addr::new(10, 251, 9, 2)));
        assert_eq!(
            host_iface_of(&prev, Some("t9-br0")).as_deref(),
            Some("veth1234")
        );
    }
}
