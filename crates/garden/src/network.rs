//! Container networking: a bridge per backend, a network namespace and a
//! veth pair per container, and iptables DNAT rules for mapped ports.
//!
//! Mapped ports are rewritten in nat PREROUTING (traffic from other hosts
//! and namespaces) and OUTPUT (traffic from the host itself), each through
//! a chain of the backend's own; every rule carries a `garden:HANDLE`
//! comment so a container's rules can be found and removed even when its
//! creation failed midway.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::api::{GardenError, PortMapping};
use crate::cmd::run;

#[derive(Debug, Clone)]
pub struct Network {
    pub tag: String,
    pub subnet: Ipv4Addr,
    pub prefix: u8,
    pub external_ip: Ipv4Addr,
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

    fn chain(&self, hook: &str) -> String {
        format!("{}-{hook}", self.tag.to_uppercase())
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

    /// The bridge, forwarding, and the backend's iptables chains; idempotent.
    pub async fn setup_host(&self) -> Result<(), GardenError> {
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
        if self.external_ip.is_loopback() {
            // Connections to 127.0.0.1:HOST_PORT are DNATed onto the bridge;
            // the kernel drops loopback sources leaving a non-loopback device
            // unless route_localnet is on for it.
            std::fs::write(format!("/proc/sys/net/ipv4/conf/{br}/route_localnet"), "1")?;
        }
        let subnet = format!("{}/{}", self.subnet, self.prefix);
        for (table, hook, chain) in [
            ("nat", "PREROUTING", self.chain("PREROUTING")),
            ("nat", "OUTPUT", self.chain("OUTPUT")),
            ("nat", "POSTROUTING", self.chain("POSTROUTING")),
            ("filter", "FORWARD", self.chain("FORWARD")),
        ] {
            let _ = run("iptables", &["-w", "-t", table, "-N", &chain], None).await;
            let jump = ["-w", "-t", table, "-C", hook, "-j", &chain];
            if run("iptables", &jump, None).await.is_err() {
                run(
                    "iptables",
                    &["-w", "-t", table, "-I", hook, "-j", &chain],
                    None,
                )
                .await?;
            }
        }
        let post = self.chain("POSTROUTING");
        let fwd = self.chain("FORWARD");
        let mut rules = vec![
            // Containers reach out through the host's address.
            vec![
                "-t",
                "nat",
                "-A",
                &post,
                "-s",
                &subnet,
                "!",
                "-o",
                &br,
                "-j",
                "MASQUERADE",
            ],
            vec!["-t", "filter", "-A", &fwd, "-i", &br, "-j", "ACCEPT"],
            vec!["-t", "filter", "-A", &fwd, "-o", &br, "-j", "ACCEPT"],
        ];
        // A container reaching another's mapped port through the external
        // address (hairpin): without a source rewrite the reply would go
        // straight back over the bridge, bypassing the DNAT's undoing.
        rules.push(vec![
            "-t",
            "nat",
            "-A",
            &post,
            "-s",
            &subnet,
            "-o",
            &br,
            "-m",
            "conntrack",
            "--ctstate",
            "DNAT",
            "-j",
            "MASQUERADE",
        ]);
        if self.external_ip.is_loopback() {
            // Replies must go back to an address the container can reach.
            rules.push(vec![
                "-t",
                "nat",
                "-A",
                &post,
                "-s",
                "127.0.0.0/8",
                "-o",
                &br,
                "-j",
                "MASQUERADE",
            ]);
        }
        for rule in rules {
            let mut check = rule.clone();
            let pos = check.iter().position(|a| *a == "-A").expect("-A");
            check[pos] = "-C";
            let check: Vec<&str> = std::iter::once("-w").chain(check).collect();
            if run("iptables", &check, None).await.is_err() {
                let add: Vec<&str> = std::iter::once("-w").chain(rule).collect();
                run("iptables", &add, None).await?;
            }
        }
        Ok(())
    }

    /// Removes the bridge and the chains (tests and `diego dev` teardown);
    /// containers must be gone already.
    pub async fn teardown_host(&self) {
        for (table, hook, chain) in [
            ("nat", "PREROUTING", self.chain("PREROUTING")),
            ("nat", "OUTPUT", self.chain("OUTPUT")),
            ("nat", "POSTROUTING", self.chain("POSTROUTING")),
            ("filter", "FORWARD", self.chain("FORWARD")),
        ] {
            let _ = run(
                "iptables",
                &["-w", "-t", table, "-D", hook, "-j", &chain],
                None,
            )
            .await;
            let _ = run("iptables", &["-w", "-t", table, "-F", &chain], None).await;
            let _ = run("iptables", &["-w", "-t", table, "-X", &chain], None).await;
        }
        let _ = run("ip", &["link", "del", &self.bridge()], None).await;
    }

    /// The container's namespace with its end of a veth pair as eth0, its
    /// address, and a default route through the bridge.
    pub async fn setup_container(&self, handle: &str, ip: Ipv4Addr) -> Result<(), GardenError> {
        let ns = self.netns_name(handle);
        let host = self.host_veth(ip);
        if self.netns_path(handle).exists() {
            // The handle is ours now: a namespace by its name is a leftover
            // of a backend that died mid-create.
            let _ = run("ip", &["netns", "delete", &ns], None).await;
        }
        run("ip", &["netns", "add", &ns], None).await?;
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
            "link add {host} type veth peer name eth0 netns {ns}\n\
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

    /// Removes the veth pair and the namespace in one `ip` run (-force:
    /// go on past what is already gone, as after a half-made create).
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

    fn comment(handle: &str) -> String {
        format!("garden:{handle}")
    }

    /// iptables -S quotes the comment (`"garden:h"`); `garden:h` must not
    /// also match the rules of `garden:h2`.
    fn is_rule_of(rule: &str, handle: &str) -> bool {
        let c = Self::comment(handle);
        rule.contains(&format!("--comment \"{c}\"")) || rule.contains(&format!("--comment {c} "))
    }

    fn rules_script(&self, handle: &str, ip: Ipv4Addr, maps: &[PortMapping], op: &str) -> String {
        let mut script = String::from("*nat\n");
        for m in maps {
            for chain in [self.chain("PREROUTING"), self.chain("OUTPUT")] {
                script.push_str(&format!(
                    "{op} {chain} -d {ext}/32 -p tcp -m tcp --dport {hp} -m comment --comment {c} \
                     -j DNAT --to-destination {ip}:{cp}\n",
                    ext = self.external_ip,
                    hp = m.host_port,
                    cp = m.container_port,
                    c = Self::comment(handle),
                ));
            }
        }
        script.push_str("COMMIT\n");
        script
    }

    /// DNAT rules for the mappings, in one iptables-restore transaction.
    pub async fn map_ports(
        &self,
        handle: &str,
        ip: Ipv4Addr,
        mappings: &[PortMapping],
    ) -> Result<(), GardenError> {
        if mappings.is_empty() {
            return Ok(());
        }
        let script = self.rules_script(handle, ip, mappings, "-A");
        run("iptables-restore", &["-w", "--noflush"], Some(&script)).await?;
        Ok(())
    }

    /// Deletes every rule carrying the container's comment: the rules
    /// `mappings` made, in one transaction; when that fails (some were
    /// never made) whatever listing the chains finds.
    pub async fn unmap_ports(
        &self,
        handle: &str,
        ip: Ipv4Addr,
        mappings: &[PortMapping],
    ) -> Result<(), GardenError> {
        if !mappings.is_empty() {
            let script = self.rules_script(handle, ip, mappings, "-D");
            let exact = run("iptables-restore", &["-w", "--noflush"], Some(&script)).await;
            if exact.is_ok() {
                return Ok(());
            }
        }
        let mut script = String::from("*nat\n");
        let mut any = false;
        for chain in [self.chain("PREROUTING"), self.chain("OUTPUT")] {
            let rules = run("iptables", &["-w", "-t", "nat", "-S", &chain], None)
                .await
                .unwrap_or_default();
            for rule in rules.lines().filter(|r| Self::is_rule_of(r, handle)) {
                if let Some(spec) = rule.strip_prefix("-A ") {
                    script.push_str(&format!("-D {spec}\n"));
                    any = true;
                }
            }
        }
        if any {
            script.push_str("COMMIT\n");
            run("iptables-restore", &["-w", "--noflush"], Some(&script)).await?;
        }
        Ok(())
    }

    /// The rules of a container still in the tables (tests check none
    /// survive destroy).
    pub async fn rules_of(&self, handle: &str) -> Vec<String> {
        let all = run("iptables", &["-w", "-t", "nat", "-S"], None)
            .await
            .unwrap_or_default();
        all.lines()
            .filter(|r| Self::is_rule_of(r, handle))
            .map(String::from)
            .collect()
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
        };
        assert_eq!(n.container_offsets(), 2..1023);
        let ip = n.addr(1022);
        assert_eq!(ip, Ipv4Addr::new(10, 254, 3, 254));
        assert!(n.host_veth(ip).len() <= 15);
        assert!(n.bridge().len() <= 15);
    }
}
