//! An LRP's or Task's egress rules (security groups) as the backend's
//! NetOut rules, as Diego's executor converts them: each rule validated
//! with Diego's errors, then one NetOut rule per destination (a comma-
//! separated destination counts as several).

use garden::{IcmpControl, IpRange, NetOutRule, PortRange, Protocol};
use models::validation::Validate;
use models::SecurityGroupRule;
use std::net::IpAddr;

/// Diego's `ErrIPRangeConversionFailed`.
const CONVERSION_FAILED: &str = "failed to convert destination to ip range";

pub fn net_out_rules(egress: &[SecurityGroupRule]) -> Result<Vec<NetOutRule>, String> {
    let mut rules = Vec::new();
    for rule in egress {
        rule.validate().map_err(|e| e.to_string())?;
        rules.extend(convert(rule)?);
    }
    Ok(rules)
}

fn convert(rule: &SecurityGroupRule) -> Result<Vec<NetOutRule>, String> {
    // ICMP type and code are bytes to Garden: Diego's -1 (any) is 255.
    let icmp = || {
        rule.icmp_info.as_ref().map(|i| IcmpControl {
            r#type: i.r#type as u8,
            code: Some(i.code as u8),
        })
    };
    let (protocol, icmps) = match rule.protocol.as_str() {
        "tcp" => (Protocol::Tcp, None),
        "udp" => (Protocol::Udp, None),
        "icmp" => (Protocol::Icmp, icmp()),
        "icmpv6" => (Protocol::IcmpV6, icmp()),
        _ => (Protocol::All, None),
    };
    let ports = match &rule.port_range {
        Some(r) => vec![PortRange {
            start: r.start as u16,
            end: r.end as u16,
        }],
        None => rule
            .ports
            .iter()
            .map(|p| PortRange {
                start: *p as u16,
                end: *p as u16,
            })
            .collect(),
    };
    rule.destinations
        .iter()
        .flat_map(|d| d.split(','))
        .map(|d| {
            Ok(NetOutRule {
                protocol,
                networks: vec![ip_range(d)?],
                ports: ports.clone(),
                icmps,
                log: rule.log,
            })
        })
        .collect()
}

fn ip(s: &str) -> Result<IpAddr, String> {
    s.parse().map_err(|_| CONVERSION_FAILED.to_string())
}

/// An address, a CIDR (its first to last address) or `start-end`.
fn ip_range(d: &str) -> Result<IpRange, String> {
    if let Some((addr, bits)) = d.split_once('/') {
        let addr = ip(addr)?;
        let bits: u32 = bits.parse().map_err(|_| CONVERSION_FAILED.to_string())?;
        return Ok(match addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                let start = u32::from(a) & mask;
                IpRange {
                    start: IpAddr::V4(start.into()),
                    end: IpAddr::V4((start | !mask).into()),
                }
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                let start = u128::from(a) & mask;
                IpRange {
                    start: IpAddr::V6(start.into()),
                    end: IpAddr::V6((start | !mask).into()),
                }
            }
        });
    }
    if let Some((a, b)) = d.split_once('-') {
        return Ok(IpRange {
            start: ip(a)?,
            end: ip(b)?,
        });
    }
    let a = ip(d)?;
    Ok(IpRange { start: a, end: a })
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::{IcmpInfo, PortRange as Range};

    fn rule(protocol: &str, dest: &[&str]) -> SecurityGroupRule {
        SecurityGroupRule {
            protocol: protocol.into(),
            destinations: dest.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn range(a: &str, b: &str) -> IpRange {
        IpRange {
            start: a.parse().unwrap(),
            end: b.parse().unwrap(),
        }
    }

    #[test]
    fn each_destination_is_a_rule() {
        let mut r = rule("tcp", &["10.0.0.0/24,1.2.3.4", "5.0.0.1-5.0.0.9"]);
        r.ports = vec![80, 443];
        r.log = true;
        let out = net_out_rules(&[r]).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].networks, [range("10.0.0.0", "10.0.0.255")]);
        assert_eq!(out[1].networks, [range("1.2.3.4", "1.2.3.4")]);
        assert_eq!(out[2].networks, [range("5.0.0.1", "5.0.0.9")]);
        assert_eq!(
            out[0].ports,
            [
                PortRange { start: 80, end: 80 },
                PortRange {
                    start: 443,
                    end: 443
                }
            ]
        );
        assert!(out.iter().all(|r| r.log && r.protocol == Protocol::Tcp));

        let mut r = rule("udp", &["0.0.0.0/0"]);
        r.port_range = Some(Range { start: 53, end: 54 });
        let out = net_out_rules(&[r]).unwrap();
        assert_eq!(out[0].networks, [range("0.0.0.0", "255.255.255.255")]);
        assert_eq!(out[0].ports, [PortRange { start: 53, end: 54 }]);

        let mut r = rule("icmp", &["1.2.3.4"]);
        r.icmp_info = Some(IcmpInfo {
            r#type: -1,
            code: -1,
        });
        let out = net_out_rules(&[r]).unwrap();
        assert_eq!(
            out[0].icmps,
            Some(IcmpControl {
                r#type: 255,
                code: Some(255)
            })
        );
        let out = net_out_rules(&[rule("all", &["::/0"])]).unwrap();
        assert_eq!(out[0].protocol, Protocol::All);
        assert_eq!(out[0].networks[0].start, "::".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn bad_rules_fail_with_diegos_error() {
        assert_eq!(
            net_out_rules(&[rule("tcp", &["1.2.3.4"])]).unwrap_err(),
            "Missing required field: ports or port_range"
        );
        assert_eq!(
            net_out_rules(&[rule("all", &["bogus"])]).unwrap_err(),
            "Invalid field: destinations [ Invalid IP ]"
        );
    }
}
