//! Egress enforcement with nftables, in two tables of the backend's own
//! (`inet garden-TAG` and `bridge garden-TAG`); nothing else in the host's
//! ruleset is touched.
//!
//! Containers reach each other only through the host: the bridge table
//! drops frames forwarded between container ports, and the bridge answers
//! ARP for every address on it (proxy_arp_pvlan), so container-to-container
//! traffic is routed, and filtered like any other. The bridge table also
//! drops what a container sends with an address not its own. Where
//! br_netfilter is on, a connection DNATed from one container to another
//! on the same bridge is bridged rather than routed: frames that came
//! addressed to the host itself (pkttype host) may pass, and br_netfilter
//! takes them through the inet table's forward hook, where they are judged
//! like routed ones.
//!
//! Traffic a container starts is judged in the inet table's `forward` (to
//! anywhere else) and `input` (to the host itself) hooks: replies to
//! connections made to the container pass; link-local addresses (cloud
//! metadata) and the host are refused; DNS to the cell's resolvers passes;
//! then the container's own chain (keyed by its address through the
//! `egress` map) accepts what its rules allow; the rest is refused with
//! ICMP admin-prohibited (a TCP connect fails at once rather than timing
//! out). Rules are evaluated against the destination after DNAT, as on
//! Garden: reaching another container through a mapped port needs a rule
//! for that container's address.
//!
//! Keys are the container's host-side interface and address, whoever made
//! them, so CNI-made veths fit the same tables.

use std::net::Ipv4Addr;

use super::netout;
use crate::api::{GardenError, NetOutRule};
use crate::cmd::run;

/// What the firewall knows of a container.
#[derive(Debug, Clone)]
pub struct Member<'a> {
    pub handle: &'a str,
    pub ip: Ipv4Addr,
    /// The host end of its veth (a port of the bridge).
    pub port: String,
    pub rules: &'a [NetOutRule],
}

#[derive(Debug, Clone)]
pub struct Firewall {
    /// `garden-TAG`, the name of both tables.
    pub table: String,
    pub bridge: String,
    pub dns: Vec<Ipv4Addr>,
}

fn chain_of(ip: Ipv4Addr) -> String {
    format!("c-{}", ip.to_string().replace('.', "-"))
}

impl Firewall {
    /// The tables with every container in `members`, replacing whatever
    /// tables of that name held before (a crashed backend's leftovers):
    /// one transaction.
    pub async fn install(&self, members: &[Member<'_>]) -> Result<(), GardenError> {
        let mut script = self.tables();
        for m in members {
            script.push_str(&self.member_script(m)?);
        }
        nft(&script).await
    }

    /// Removes both tables.
    pub async fn remove(&self) -> Result<(), GardenError> {
        let t = &self.table;
        nft(&format!(
            "table inet {t}\ndelete table inet {t}\ntable bridge {t}\ndelete table bridge {t}\n"
        ))
        .await
    }

    /// Adds (or replaces) a container's chain and keys.
    pub async fn add(&self, m: &Member<'_>) -> Result<(), GardenError> {
        nft(&self.member_script(m)?).await
    }

    /// Removes a container's chain and keys; quiet about what is already
    /// gone (each part is added before it is deleted, in one transaction).
    pub async fn delete(&self, ip: Ipv4Addr, port: &str) -> Result<(), GardenError> {
        let (t, c) = (&self.table, chain_of(ip));
        let script = format!(
            "add chain inet {t} {c}\n\
             add element inet {t} egress {{ {ip} : jump {c} }}\n\
             delete element inet {t} egress {{ {ip} }}\n\
             flush chain inet {t} {c}\n\
             delete chain inet {t} {c}\n\
             add element bridge {t} ports {{ \"{port}\" }}\n\
             delete element bridge {t} ports {{ \"{port}\" }}\n\
             add element bridge {t} port_addrs {{ \"{port}\" . {ip} }}\n\
             delete element bridge {t} port_addrs {{ \"{port}\" . {ip} }}\n"
        );
        nft(&script).await
    }

    /// The chain of the container at `ip` as `nft list` shows it (None:
    /// there is none).
    pub async fn chain(&self, ip: Ipv4Addr) -> Option<String> {
        run(
            "nft",
            &["list", "chain", "inet", &self.table, &chain_of(ip)],
            None,
        )
        .await
        .ok()
    }

    fn tables(&self) -> String {
        let (t, br) = (&self.table, &self.bridge);
        let dns = if self.dns.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = self.dns.iter().map(|a| a.to_string()).collect();
            format!("elements = {{ {} }}", list.join(", "))
        };
        format!(
            "table inet {t}\n\
             delete table inet {t}\n\
             table inet {t} {{\n\
               map egress {{ type ipv4_addr : verdict; }}\n\
               set dns {{ type ipv4_addr; {dns} }}\n\
               chain forward {{ type filter hook forward priority filter; policy accept;\n\
                 iifname \"{br}\" jump from_containers\n\
               }}\n\
               chain input {{ type filter hook input priority filter; policy accept;\n\
                 iifname \"{br}\" jump to_host\n\
               }}\n\
               chain output {{ type filter hook output priority filter; policy accept;\n\
                 oifname \"{br}\" icmp type redirect drop\n\
               }}\n\
               chain from_containers {{\n\
                 ct state established,related accept\n\
                 ip daddr 169.254.0.0/16 reject with icmpx type admin-prohibited\n\
                 ip daddr @dns udp dport 53 accept\n\
                 ip daddr @dns tcp dport 53 accept\n\
                 ip saddr vmap @egress\n\
                 reject with icmpx type admin-prohibited\n\
               }}\n\
               chain to_host {{\n\
                 ct state established,related accept\n\
                 ip daddr @dns udp dport 53 accept\n\
                 ip daddr @dns tcp dport 53 accept\n\
                 reject with icmpx type admin-prohibited\n\
               }}\n\
             }}\n\
             table bridge {t}\n\
             delete table bridge {t}\n\
             table bridge {t} {{\n\
               set ports {{ type ifname; }}\n\
               set port_addrs {{ type ifname . ipv4_addr; }}\n\
               chain prerouting {{ type filter hook prerouting priority filter; policy accept;\n\
                 iifname @ports iifname . ip saddr != @port_addrs drop\n\
                 iifname @ports iifname . arp saddr ip != @port_addrs drop\n\
                 iifname @ports meta protocol ip6 drop\n\
               }}\n\
               chain forward {{ type filter hook forward priority filter; policy accept;\n\
                 iifname @ports oifname @ports meta pkttype host accept\n\
                 iifname @ports oifname @ports drop\n\
               }}\n\
             }}\n"
        )
    }

    fn member_script(&self, m: &Member<'_>) -> Result<String, GardenError> {
        let (t, c, ip, port) = (&self.table, chain_of(m.ip), m.ip, &m.port);
        let mut s = format!(
            "add chain inet {t} {c} {{ comment \"garden:{}\"; }}\n\
             flush chain inet {t} {c}\n",
            m.handle
        );
        let prefix = netout::log_prefix(m.handle);
        for rule in m.rules {
            netout::validate(rule)?;
            for stmt in netout::nft_statements(rule, &prefix) {
                s.push_str(&format!("add rule inet {t} {c} {stmt}\n"));
            }
        }
        // Replace a stale key of the address (add, then delete, then add).
        s.push_str(&format!(
            "add element inet {t} egress {{ {ip} : jump {c} }}\n\
             delete element inet {t} egress {{ {ip} }}\n\
             add element inet {t} egress {{ {ip} : jump {c} }}\n\
             add element bridge {t} ports {{ \"{port}\" }}\n\
             add element bridge {t} port_addrs {{ \"{port}\" . {ip} }}\n"
        ));
        Ok(s)
    }
}

async fn nft(script: &str) -> Result<(), GardenError> {
    run("nft", &["-f", "-"], Some(script)).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{PortRange, Protocol};

    #[test]
    fn a_member_is_a_chain_and_its_keys() {
        let f = Firewall {
            table: "garden-t1".into(),
            bridge: "t1-br0".into(),
            dns: vec![Ipv4Addr::new(10, 0, 0, 53)],
        };
        let rules = [NetOutRule {
            protocol: Protocol::Tcp,
            ports: vec![PortRange {
                start: 443,
                end: 443,
            }],
            ..Default::default()
        }];
        let s = f
            .member_script(&Member {
                handle: "app-1",
                ip: Ipv4Addr::new(10, 251, 1, 2),
                port: "t1-2h".into(),
                rules: &rules,
            })
            .unwrap();
        assert!(s.contains("add chain inet garden-t1 c-10-251-1-2 { comment \"garden:app-1\"; }"));
        assert!(s.contains(
            "add rule inet garden-t1 c-10-251-1-2 meta nfproto { ipv4, ipv6 } tcp dport { 443 } accept"
        ));
        assert!(s.ends_with(
            "add element inet garden-t1 egress { 10.251.1.2 : jump c-10-251-1-2 }\n\
             add element bridge garden-t1 ports { \"t1-2h\" }\n\
             add element bridge garden-t1 port_addrs { \"t1-2h\" . 10.251.1.2 }\n"
        ));
        assert!(f.tables().contains("elements = { 10.0.0.53 }"));
        let bad = [NetOutRule {
            protocol: Protocol::Icmp,
            ports: vec![PortRange { start: 1, end: 1 }],
            ..Default::default()
        }];
        assert!(f
            .member_script(&Member {
                handle: "x",
                ip: Ipv4Addr::new(10, 0, 0, 2),
                port: "p".into(),
                rules: &bad,
            })
            .is_err());
    }
}
