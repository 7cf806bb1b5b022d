//! NetOut rules: checking them (Garden's errors) and writing each as an
//! nftables rule of the container's egress chain.

use std::net::IpAddr;

use crate::api::{GardenError, IcmpControl, IpRange, NetOutRule, PortRange, Protocol};

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::All => "ALL",
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
        Protocol::Icmp => "ICMP",
        Protocol::IcmpV6 => "ICMPV6",
    }
}

/// Refuses what cannot be a rule: ports on a protocol without ports
/// (Garden's words), ICMP controls on other protocols, backwards ranges,
/// ranges across address families, ICMPv4 to IPv6 addresses and back.
pub fn validate(rule: &NetOutRule) -> Result<(), GardenError> {
    let bad = |m: String| Err(GardenError::InvalidSpec(m));
    let ports_allowed = matches!(rule.protocol, Protocol::Tcp | Protocol::Udp);
    if !rule.ports.is_empty() && !ports_allowed {
        return bad(format!(
            "Ports cannot be specified for Protocol {}",
            protocol_name(rule.protocol)
        ));
    }
    if rule.icmps.is_some() && !matches!(rule.protocol, Protocol::Icmp | Protocol::IcmpV6) {
        return bad(format!(
            "ICMP control cannot be specified for Protocol {}",
            protocol_name(rule.protocol)
        ));
    }
    for p in &rule.ports {
        if p.start == 0 || p.start > p.end {
            return bad(format!("invalid port range: {}-{}", p.start, p.end));
        }
    }
    for n in &rule.networks {
        let ordered = match (n.start, n.end) {
            (IpAddr::V4(a), IpAddr::V4(b)) => a <= b,
            (IpAddr::V6(a), IpAddr::V6(b)) => a <= b,
            _ => return bad(format!("invalid IP range: {}-{}", n.start, n.end)),
        };
        if !ordered {
            return bad(format!("invalid IP range: {}-{}", n.start, n.end));
        }
        let v6 = n.start.is_ipv6();
        if (rule.protocol == Protocol::Icmp && v6) || (rule.protocol == Protocol::IcmpV6 && !v6) {
            return bad(format!(
                "Protocol {} cannot reach {}",
                protocol_name(rule.protocol),
                n.start
            ));
        }
    }
    Ok(())
}

fn daddr(n: &IpRange) -> String {
    let fam = if n.start.is_ipv6() { "ip6" } else { "ip" };
    if n.start == n.end {
        format!("{fam} daddr {}", n.start)
    } else {
        format!("{fam} daddr {}-{}", n.start, n.end)
    }
}

fn ports(ps: &[PortRange]) -> String {
    let items: Vec<String> = ps
        .iter()
        .map(|p| {
            if p.start == p.end {
                p.start.to_string()
            } else {
                format!("{}-{}", p.start, p.end)
            }
        })
        .collect();
    format!("{{ {} }}", items.join(", "))
}

fn icmp(kw: &str, c: &Option<IcmpControl>) -> String {
    let Some(c) = c else {
        return String::new();
    };
    let mut s = String::new();
    if c.r#type != 255 {
        s.push_str(&format!(" {kw} type {}", c.r#type));
    }
    if let Some(code) = c.code.filter(|code| *code != 255) {
        s.push_str(&format!(" {kw} code {code}"));
    }
    s
}

/// The statements of the rule (one per network, as Garden expands them),
/// each ending in `accept`; `log_prefix` is put on every one when the
/// rule logs. Call `validate` first.
pub fn nft_statements(rule: &NetOutRule, log_prefix: &str) -> Vec<String> {
    let tail = {
        let mut t = String::new();
        match rule.protocol {
            Protocol::All => {}
            Protocol::Tcp | Protocol::Udp => {
                let p = if rule.protocol == Protocol::Tcp {
                    "tcp"
                } else {
                    "udp"
                };
                if rule.ports.is_empty() {
                    t.push_str(&format!(" meta l4proto {p}"));
                } else {
                    t.push_str(&format!(" {p} dport {}", ports(&rule.ports)));
                }
            }
            Protocol::Icmp => {
                t.push_str(" meta l4proto icmp");
                t.push_str(&icmp("icmp", &rule.icmps));
            }
            Protocol::IcmpV6 => {
                t.push_str(" meta l4proto ipv6-icmp");
                t.push_str(&icmp("icmpv6", &rule.icmps));
            }
        }
        if rule.log {
            t.push_str(&format!(" log prefix \"{log_prefix}\""));
        }
        t.push_str(" accept");
        t
    };
    if rule.networks.is_empty() {
        // Anywhere: the protocol's own family (all: both).
        let fam = match rule.protocol {
            Protocol::Icmp => "meta nfproto ipv4",
            Protocol::IcmpV6 => "meta nfproto ipv6",
            _ => "meta nfproto { ipv4, ipv6 }",
        };
        return vec![format!("{fam}{tail}")];
    }
    rule.networks
        .iter()
        .map(|n| format!("{}{tail}", daddr(n)))
        .collect()
}

/// The log prefix of a container's rules: its handle, cut to fit the
/// kernel's 127 bytes (as Garden, which cuts at 28 characters).
pub fn log_prefix(handle: &str) -> String {
    let mut p: String = handle.chars().take(28).collect();
    p.push(' ');
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(a: &str, b: &str) -> IpRange {
        IpRange {
            start: a.parse().unwrap(),
            end: b.parse().unwrap(),
        }
    }

    #[test]
    fn rules_become_statements() {
        let r = NetOutRule {
            protocol: Protocol::Tcp,
            networks: vec![
                range("10.0.0.1", "10.0.0.1"),
                range("10.1.0.0", "10.1.255.255"),
            ],
            ports: vec![
                PortRange { start: 80, end: 80 },
                PortRange {
                    start: 8000,
                    end: 8100,
                },
            ],
            icmps: None,
            log: true,
        };
        assert_eq!(
            nft_statements(&r, "app-1 "),
            [
                "ip daddr 10.0.0.1 tcp dport { 80, 8000-8100 } log prefix \"app-1 \" accept",
                "ip daddr 10.1.0.0-10.1.255.255 tcp dport { 80, 8000-8100 } log prefix \"app-1 \" accept",
            ]
        );
        let icmp = NetOutRule {
            protocol: Protocol::Icmp,
            networks: vec![range("1.2.3.4", "1.2.3.4")],
            icmps: Some(IcmpControl {
                r#type: 8,
                code: Some(255),
            }),
            ..Default::default()
        };
        assert_eq!(
            nft_statements(&icmp, ""),
            ["ip daddr 1.2.3.4 meta l4proto icmp icmp type 8 accept"]
        );
        let all = NetOutRule::default();
        assert_eq!(
            nft_statements(&all, ""),
            ["meta nfproto { ipv4, ipv6 } accept"]
        );
        let udp = NetOutRule {
            protocol: Protocol::Udp,
            networks: vec![range("::1", "::ff")],
            ..Default::default()
        };
        assert_eq!(
            nft_statements(&udp, ""),
            ["ip6 daddr ::1-::ff meta l4proto udp accept"]
        );
    }

    #[test]
    fn bad_rules_are_refused_with_gardens_words() {
        let r = NetOutRule {
            protocol: Protocol::Icmp,
            ports: vec![PortRange { start: 1, end: 2 }],
            ..Default::default()
        };
        assert_eq!(
            validate(&r).unwrap_err().to_string(),
            "invalid spec: Ports cannot be specified for Protocol ICMP"
        );
        let r = NetOutRule {
            protocol: Protocol::Tcp,
            ports: vec![PortRange { start: 9, end: 8 }],
            ..Default::default()
        };
        assert!(validate(&r).is_err());
        let r = NetOutRule {
            networks: vec![range("10.0.0.9", "10.0.0.1")],
            ..Default::default()
        };
        assert!(validate(&r).is_err());
        let r = NetOutRule {
            networks: vec![range("10.0.0.1", "::1")],
            ..Default::default()
        };
        assert!(validate(&r).is_err());
        let r = NetOutRule {
            protocol: Protocol::Icmp,
            networks: vec![range("::1", "::1")],
            ..Default::default()
        };
        assert!(validate(&r).is_err());
        assert!(validate(&NetOutRule::default()).is_ok());
        assert_eq!(log_prefix(&"x".repeat(40)).len(), 29);
    }
}
