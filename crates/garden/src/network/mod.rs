//! Container networking: a bridge per backend; per container, the network
//! namespace the runtime made (named in /run/netns) with a veth pair to
//! the bridge; iptables NAT for mapped ports and the way out (`nat`); and
//! egress rules enforced with nftables (`firewall`, `netout`).

mod firewall;
mod nat;
pub mod netout;

use std::net::Ipv4Addr;
use std::path::PathBuf;

pub use firewall::{Firewall, Member};

use crate::api::GardenError;
use crate::cmd::run;

#[derive(Debug, Clone)]
pub struct Network {
    pub tag: String,
    pub subnet: Ipv4Addr,
    pub prefix: u8,
    pub external_ip: Ipv4Addr,
    /// Resolvers containers may always reach.
    pub dns: Vec<Ipv4Addr>,
}

impl Network {
    pub fn bridge(&self) -> String {
        format!("{}-br0", self.tag)
    }

    pub fn gateway(&self) -> Ipv4Addr {
        self.addr(1)
    }

    /// The address `offset` places into the subnet.
    pub fn addr(&self, offset: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.subnet) + offset)
    }

    pub fn offset_of(&self, ip: Ipv4Addr) -> u32 {
        u32::from(ip) - u32::from(self.subnet)
    }

    /// Addresses containers can have: not the network, the gateway or the
    /// broadcast address.
    pub fn container_offsets(&self) -> std::ops::Range<u32> {
        2..(1u32 << (32 - self.prefix)) - 1
    }

    pub fn netns_name(&self, handle: &str) -> String {
        format!("{}-{handle}", self.tag)
    }

    pub fn netns_path(&self, handle: &str) -> PathBuf {
        PathBuf::from("/run/netns").join(self.netns_name(handle))
    }

    /// Interface names are at most 15 bytes: the tag and the address's
    /// offset in the subnet name the host side uniquely (the dash keeps
    /// tag `t3` offset 0x13 apart from tag `t31` offset 3).
    pub fn host_veth(&self, ip: Ipv4Addr) -> String {
        format!("{}-{:x}h", self.tag, self.offset_of(ip))
    }

    /// The address whose host veth this is, if the name is one of ours.
    pub fn veth_addr(&self, name: &str) -> Option<Ipv4Addr> {
        let hex = name
            .strip_prefix(&format!("{}-", self.tag))?
            .strip_suffix('h')?;
        let offset = u32::from_str_radix(hex, 16).ok()?;
        self.container_offsets()
            .contains(&offset)
            .then(|| self.addr(offset))
    }

    /// The nftables tables of the backend (both named `garden-TAG`).
    pub fn firewall(&self) -> Firewall {
        Firewall {
            table: format!("garden-{}", self.tag),
            bridge: self.bridge(),
            dns: self.dns.clone(),
        }
    }

    /// The bridge, forwarding, the NAT chains and the firewall tables (with
    /// `members`, the containers the backend has); idempotent.
    pub async fn setup_host(&self, members: &[Member<'_>]) -> Result<(), GardenError> {
        let br = self.bridge();
        if run("ip", &["link", "show", &br], None).await.is_err() {
            run("ip", &["link", "add", &br, "type", "bridge"], None).await?;
        }
        let cidr = format!("{}/{}", self.gateway(), self.prefix);
        let addrs = run("ip", &["-4", "addr", "show", "dev", &br], None).await?;
        if !addrs.contains(&cidr) {
            run("ip", &["addr", "add", &cidr, "dev", &br], None).await?;
        }
        run("ip", &["link", "set", &br, "up"], None).await?;
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")?;
        let conf = format!("/proc/sys/net/ipv4/conf/{br}");
        if self.external_ip.is_loopback() {
            // Connections to 127.0.0.1:HOST_PORT are DNATed onto the bridge;
            // the kernel drops loopback sources leaving a non-loopback device
            // unless route_localnet is on for it.
            std::fs::write(format!("{conf}/route_localnet"), "1")?;
        }
        // The bridge answers ARP for every address on it, at once: with
        // forwarding between container ports dropped (see `firewall`),
        // containers reach each other through the host's routing.
        std::fs::write(format!("{conf}/proxy_arp"), "1")?;
        std::fs::write(format!("{conf}/proxy_arp_pvlan"), "1")?;
        std::fs::write(format!("/proc/sys/net/ipv4/neigh/{br}/proxy_delay"), "0")?;
        self.setup_nat().await?;
        self.firewall().install(members).await
    }

    /// Removes the firewall tables, the NAT chains and the bridge (tests
    /// and `diego dev` teardown); containers must be gone already.
    pub async fn teardown_host(&self) {
        if let Err(e) = self.firewall().remove().await {
            tracing::warn!(error = %e, "removing the firewall tables");
        }
        self.teardown_nat().await;
        let _ = run("ip", &["link", "del", &self.bridge()], None).await;
    }

    /// Names the network namespace of the container's init `pid` (the
    /// runtime made it) and plugs it in: its end of a veth pair as eth0,
    /// its address, a default route through the bridge.
    pub async fn setup_container(
        &self,
        handle: &str,
        ip: Ipv4Addr,
        pid: u32,
    ) -> Result<(), GardenError> {
        let ns = self.netns_name(handle);
        let host = self.host_veth(ip);
        if self.netns_path(handle).exists() {
            // The handle is ours now: a namespace by its name is a leftover
            // of a backend that died mid-create.
            let _ = run("ip", &["netns", "delete", &ns], None).await;
        }
        // A neighbour entry left by an earlier container with this address
        // would send the new one's traffic to the old MAC until it expires
        // (tens of seconds: checks time out, the instance is crashed).
        let _ = run(
            "ip",
            &[
                "neigh",
                "flush",
                "to",
                &ip.to_string(),
                "dev",
                &self.bridge(),
            ],
            None,
        )
        .await;
        let host_side = format!(
            "netns attach {ns} {pid}\n\
             link add {host} type veth peer name eth0 netns {ns}\n\
             link set {host} master {br} up\n",
            br = self.bridge()
        );
        run("ip", &["-batch", "-"], Some(&host_side)).await?;
        let inside = format!(
            "addr add {ip}/{prefix} dev eth0\n\
             link set lo up\n\
             link set eth0 up\n\
             route add default via {gw}\n",
            prefix = self.prefix,
            gw = self.gateway()
        );
        run("ip", &["-n", &ns, "-batch", "-"], Some(&inside)).await?;
        Ok(())
    }

    /// Removes the veth pair and the namespace's name in one `ip` run
    /// (-force: go on past what is already gone, as after a half-made
    /// create).
    pub async fn teardown_container(&self, handle: &str, ip: Option<Ipv4Addr>) {
        let mut script = String::new();
        if let Some(ip) = ip {
            script.push_str(&format!("link del {}\n", self.host_veth(ip)));
            // The address goes back to the pool: forget its MAC.
            script.push_str(&format!("neigh flush to {ip} dev {}\n", self.bridge()));
        }
        if self.netns_path(handle).exists() {
            script.push_str(&format!("netns delete {}\n", self.netns_name(handle)));
        }
        let mut result = run("ip", &["-force", "-batch", "-"], Some(&script)).await;
        // The namespace's file can be briefly busy while another process
        // (a container or `ip -n` being set up or torn down in parallel)
        // holds a copy of its mount: try again before giving up.
        let ns = self.netns_name(handle);
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
        };
        assert_eq!(n.container_offsets(), 2..1023);
        let ip = n.addr(1022);
        assert_eq!(ip, Ipv4Addr::new(10, 254, 3, 254));
        assert!(n.host_veth(ip).len() <= 15);
        assert!(n.bridge().len() <= 15);
        assert_eq!(n.veth_addr(&n.host_veth(ip)), Some(ip));
        assert_eq!(n.veth_addr("gdn-br0"), None);
        assert_eq!(n.veth_addr("gdnx-2h"), None);
    }
}
