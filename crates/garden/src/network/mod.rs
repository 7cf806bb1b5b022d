//! Container networking. Each container's network namespace (the runtime
//! makes it; garden names it in /run/netns) is plugged in by CNI plugins
//! (`cni`): by default a bridge per backend with host-local addresses from
//! the cell's subnet, portmap for mapped ports and firewall for
//! forwarding. What the plugins cannot express stays garden's own: the
//! per-container egress rules, enforced with nftables (`firewall`,
//! `netout`), and the bridge settings those rules rely on; and giving
//! back, when the last backend of the host goes, what the plugins leave
//! behind (`host_state`).

pub mod cni;
mod firewall;
mod host_state;
pub mod netout;

use std::net::Ipv4Addr;
use std::path::PathBuf;

pub use cni::{Attach, CNIResult, Cni};
pub use firewall::{Firewall, Member};

use crate::api::{GardenError, PortMapping};
use crate::cmd::run;

#[derive(Debug, Clone)]
pub struct Network {
    pub tag: String,
    pub subnet: Ipv4Addr,
    pub prefix: u8,
    pub external_ip: Ipv4Addr,
    /// Resolvers containers may always reach.
    pub dns: Vec<Ipv4Addr>,
    pub cni: Cni,
}

impl Network {
    /// The bridge containers are on: the list's bridge plugin's.
    pub fn bridge(&self) -> String {
        self.cni
            .bridge()
            .unwrap_or_else(|| format!("{}-br0", self.tag))
    }

    /// The subnet's first address, the bridge's in the default list.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.subnet) + 1)
    }

    /// Addresses containers can have: not the network, the gateway or the
    /// broadcast address.
    pub fn capacity(&self) -> u64 {
        (1u64 << (32 - self.prefix)).saturating_sub(3)
    }

    pub fn netns_name(&self, handle: &str) -> String {
        format!("{}-{handle}", self.tag)
    }

    pub fn netns_path(&self, handle: &str) -> PathBuf {
        PathBuf::from("/run/netns").join(self.netns_name(handle))
    }

    /// The nftables tables of the backend (both named `garden-TAG`).
    pub fn firewall(&self) -> Firewall {
        Firewall {
            table: format!("garden-{}", self.tag),
            bridge: self.bridge(),
            dns: self.dns.clone(),
        }
    }

    /// Registers the backend with the host (see `host_state`) and installs
    /// the firewall tables with `members`, the containers the backend
    /// has; idempotent. The bridge comes with the first container.
    pub async fn setup_host(&self, members: &[Member<'_>]) -> Result<(), GardenError> {
        let tag = self.tag.clone();
        tokio::task::spawn_blocking(move || host_state::join(&tag))
            .await
            .map_err(|e| GardenError::Runtime(e.to_string()))??;
        self.remove_legacy_chains().await;
        self.firewall().install(members).await
    }

    /// The NAT chains (`TAG-PREROUTING`, ...) garden made before its
    /// containers were networked by CNI: gone from hosts it ran on.
    async fn remove_legacy_chains(&self) {
        let up = self.tag.to_uppercase();
        for (table, hooks) in [
            ("nat", &["PREROUTING", "OUTPUT", "POSTROUTING"][..]),
            ("filter", &["FORWARD"][..]),
        ] {
            let chains: Vec<String> = hooks.iter().map(|h| format!("{up}-{h}")).collect();
            let listing = run("iptables", &["-w", "-t", table, "-S"], None)
                .await
                .unwrap_or_default();
            if chains
                .iter()
                .any(|c| listing.lines().any(|l| l == format!("-N {c}")))
            {
                let names: Vec<&str> = chains.iter().map(String::as_str).collect();
                cni::remove_chains(table, &listing, &names).await;
            }
        }
    }

    /// Removes the firewall tables and the bridge; the last backend of
    /// the host also removes the plugins' idle chains and restores
    /// ip_forward. Containers must be gone already.
    pub async fn teardown_host(&self) {
        if let Err(e) = self.firewall().remove().await {
            tracing::warn!(error = %e, "removing the firewall tables");
        }
        let _ = run("ip", &["link", "del", &self.bridge()], None).await;
        host_state::leave(&self.tag, cni::remove_idle_chains).await;
    }

    fn attach<'a>(&self, handle: &'a str, netns: &'a str, ports: &'a [PortMapping]) -> Attach<'a> {
        Attach {
            container_id: handle,
            netns,
            ports,
            host_ip: self.external_ip,
        }
    }

    /// Names the network namespace of the container's init `pid` (the
    /// runtime made it) and has the plugins plug it in (ADD).
    pub async fn setup_container(
        &self,
        handle: &str,
        pid: u32,
        ports: &[PortMapping],
    ) -> Result<CNIResult, GardenError> {
        let ns = self.netns_name(handle);
        if self.netns_path(handle).exists() {
            // The handle is ours now: a namespace by its name is a leftover
            // of a backend that died mid-create.
            let _ = run("ip", &["netns", "delete", &ns], None).await;
        }
        run("ip", &["netns", "attach", &ns, &pid.to_string()], None).await?;
        let path = self.netns_path(handle).display().to_string();
        let result = self.cni.add(&self.attach(handle, &path, ports)).await?;
        self.tune_bridge();
        Ok(result)
    }

    /// CHECK: whether the container's attachment is still as ADD left it.
    pub async fn check_container(
        &self,
        handle: &str,
        ports: &[PortMapping],
        result: &CNIResult,
    ) -> Result<(), GardenError> {
        let path = self.netns_path(handle).display().to_string();
        self.cni
            .check(&self.attach(handle, &path, ports), result)
            .await
    }

    /// The bridge settings the firewall's design needs (see `firewall`):
    /// it answers ARP for every address on it, at once, so containers
    /// reach each other through the host's routing. Connections to
    /// 127.0.0.1:HOST_PORT DNATed onto the bridge need route_localnet.
    fn tune_bridge(&self) {
        let br = self.bridge();
        let conf = format!("/proc/sys/net/ipv4/conf/{br}");
        let mut settings = vec![
            (format!("{conf}/proxy_arp"), "1"),
            (format!("{conf}/proxy_arp_pvlan"), "1"),
            (format!("/proc/sys/net/ipv4/neigh/{br}/proxy_delay"), "0"),
        ];
        if self.external_ip.is_loopback() {
            settings.push((format!("{conf}/route_localnet"), "1"));
        }
        for (path, value) in settings {
            if let Err(e) = std::fs::write(&path, value) {
                tracing::warn!(path, error = %e, "tuning the bridge");
            }
        }
    }

    /// DEL (with ADD's result when known: the plugins find what they made
    /// by the container's id even without it), then the namespace's name.
    pub async fn teardown_container(
        &self,
        handle: &str,
        ports: &[PortMapping],
        result: Option<&CNIResult>,
    ) -> Result<(), GardenError> {
        let exists = self.netns_path(handle).exists();
        // Without its namespace, plugins release what is on the host side.
        let path = if exists {
            self.netns_path(handle).display().to_string()
        } else {
            String::new()
        };
        let deleted = self
            .cni
            .del(&self.attach(handle, &path, ports), result)
            .await;
        if exists {
            self.delete_netns(handle).await;
        }
        deleted
    }

    async fn delete_netns(&self, handle: &str) {
        let ns = self.netns_name(handle);
        let mut result = run("ip", &["netns", "delete", &ns], None).await;
        // The namespace's file can be briefly busy while another process
        // (a container or `ip -n` being set up or torn down in parallel)
        // holds a copy of its mount: try again before giving up.
        for _ in 0..10 {
            if !self.netns_path(handle).exists() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            result = run("ip", &["netns", "delete", &ns], None).await;
        }
        if self.netns_path(handle).exists() {
            let error = result.err().map(|e| e.to_string()).unwrap_or_default();
            tracing::warn!(handle, error, "deleting netns");
        }
    }

    /// Containers host-local holds addresses for (a sweep after a crash
    /// releases those of unknown ones).
    pub fn lease_holders(&self) -> Vec<String> {
        let Some(dir) = self.cni.lease_dir() else {
            return Vec::new();
        };
        let mut holders: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().parse::<Ipv4Addr>().is_ok())
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .filter_map(|s| s.lines().next().map(|l| l.trim().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        holders.sort();
        holders.dedup();
        holders
    }

    /// The iptables rules that name a container (portmap's and the bridge
    /// plugin's carry its id in their comments): tests check none survive
    /// destroy.
    pub async fn rules_of(&self, handle: &str) -> Vec<String> {
        let mut rules = Vec::new();
        for table in ["nat", "filter"] {
            let all = run("iptables", &["-w", "-t", table, "-S"], None)
                .await
                .unwrap_or_default();
            rules.extend(
                all.lines()
                    .filter(|r| r.contains(&format!("\\\"{handle}\\\"")))
                    .map(String::from),
            );
        }
        rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_the_kernel_limits() {
        let n = Network {
            tag: "gdn".into(),
            subnet: Ipv4Addr::new(10, 254, 0, 0),
            prefix: 22,
            external_ip: Ipv4Addr::LOCALHOST,
            dns: vec![],
            cni: Cni::default_list(
                "gdn",
                Ipv4Addr::new(10, 254, 0, 0),
                22,
                std::path::Path::new("/x"),
                vec![],
            ),
        };
        assert_eq!(n.capacity(), 1021);
        assert_eq!(n.gateway(), Ipv4Addr::new(10, 254, 0, 1));
        assert_eq!(n.bridge(), "gdn-br0");
        assert!(n.bridge().len() <= 15);
    }
}
