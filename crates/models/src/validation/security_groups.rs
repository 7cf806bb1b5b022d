//! Egress rules (`SecurityGroupRule`).

use std::net::IpAddr;

use super::{Validate, ValidationError};
use crate::SecurityGroupRule;

const INVALID_IP: &str = "Invalid IP";

/// Parses one address as Go's `net.ParseIP` does and returns its 16-byte
/// form (IPv4 addresses as IPv4-mapped IPv6).
fn parse_ip16(s: &str) -> Option<[u8; 16]> {
    match s.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(v4.to_ipv6_mapped().octets()),
        IpAddr::V6(v6) => Some(v6.octets()),
    }
}

/// Go's `net.ParseCIDR` acceptance: `ADDR/BITS`, BITS decimal and no more
/// than the address length.
fn cidr_ok(s: &str) -> bool {
    let Some((addr, bits)) = s.split_once('/') else {
        return false;
    };
    let max = match addr.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => 32u32,
        Ok(IpAddr::V6(_)) => 128u32,
        Err(_) => return false,
    };
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    // Long digit strings overflow Go's parser; treat them as too large.
    if bits.len() > 7 {
        return false;
    }
    bits.parse::<u32>().is_ok_and(|n| n <= max)
}

/// Problems with the destinations, in Diego's words (without the
/// "Invalid field: destinations [ ... ]" wrapper).
fn destination_problems(destinations: &[String]) -> ValidationError {
    let mut errs = ValidationError::default();
    if destinations.is_empty() {
        errs.push("Must have at least 1 destination");
        return errs;
    }
    for d in destinations.iter().flat_map(|d| d.split(',')) {
        match d.find(['-', '/']) {
            None => {
                if parse_ip16(d).is_none() {
                    errs.push(INVALID_IP);
                }
            }
            Some(n) if d.as_bytes()[n] == b'/' => {
                if !cidr_ok(d) {
                    errs.push(format!("invalid CIDR address: {d}"));
                }
            }
            Some(n) => {
                let (Some(first), Some(second)) = (parse_ip16(&d[..n]), parse_ip16(&d[n + 1..]))
                else {
                    errs.push(INVALID_IP);
                    continue;
                };
                // Byte-wise comparison as Diego does it: stop at the first
                // byte where the start is lower; every byte where it is
                // higher (before that) is reported.
                for (a, b) in first.iter().zip(second.iter()) {
                    if a < b {
                        break;
                    }
                    if a > b {
                        errs.push(INVALID_IP);
                    }
                }
            }
        }
    }
    errs
}

fn port_problems(rule: &SecurityGroupRule) -> ValidationError {
    let mut errs = ValidationError::default();
    let has_ports = !rule.ports.is_empty();
    match (&rule.port_range, has_ports) {
        (None, false) => {
            errs.push("Missing required field: ports or port_range");
            return errs;
        }
        (Some(_), true) => {
            errs.push("Invalid: ports and port_range provided");
            return errs;
        }
        _ => {}
    }
    if let Some(range) = &rule.port_range {
        if range.start < 1 {
            errs.invalid_field("port_range");
        }
        if range.end < 1 {
            errs.invalid_field("port_range");
        }
        if range.start > range.end {
            errs.invalid_field("port_range");
        }
    }
    for p in &rule.ports {
        if *p < 1 {
            errs.invalid_field("ports");
        }
    }
    errs
}

impl Validate for SecurityGroupRule {
    fn validate(&self) -> Result<(), ValidationError> {
        let mut errs = ValidationError::default();
        let has_ports = !self.ports.is_empty();
        match self.protocol.as_str() {
            "tcp" | "udp" => {
                errs.append(port_problems(self));
                if self.icmp_info.is_some() {
                    errs.invalid_field("icmp_info");
                }
            }
            "icmp" | "icmpv6" => {
                if self.port_range.is_some() {
                    errs.invalid_field("port_range");
                }
                if has_ports {
                    errs.invalid_field("ports");
                }
                if self.icmp_info.is_none() {
                    errs.invalid_field(if self.protocol == "icmp" {
                        "icmp_info"
                    } else {
                        "icmpv6_info"
                    });
                }
            }
            "all" => {
                if self.port_range.is_some() {
                    errs.invalid_field("port_range");
                }
                if has_ports {
                    errs.invalid_field("ports");
                }
                if self.icmp_info.is_some() {
                    errs.invalid_field("icmp_info");
                }
            }
            _ => errs.invalid_field("protocol"),
        }
        let dest = destination_problems(&self.destinations);
        if !dest.is_empty() {
            errs.invalid_field(&format!("destinations [ {dest} ]"));
        }
        errs.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IcmpInfo, PortRange};

    fn rule(protocol: &str, dest: &[&str]) -> SecurityGroupRule {
        SecurityGroupRule {
            protocol: protocol.into(),
            destinations: dest.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn msg(r: &SecurityGroupRule) -> String {
        r.validate().unwrap_err().to_string()
    }

    #[test]
    fn valid_rules() {
        let mut r = rule("tcp", &["10.0.0.0/8", "1.2.3.4", "1.1.1.1-2.2.2.2,::1"]);
        r.ports = vec![80, 443];
        assert!(r.validate().is_ok());
        let mut r = rule("udp", &["0.0.0.0-9.255.255.255"]);
        r.port_range = Some(PortRange {
            start: 1,
            end: 65535,
        });
        assert!(r.validate().is_ok());
        let mut r = rule("icmp", &["1.2.3.4"]);
        r.icmp_info = Some(IcmpInfo { r#type: 0, code: 0 });
        assert!(r.validate().is_ok());
        assert!(rule("all", &["::/0"]).validate().is_ok());
    }

    #[test]
    fn protocol_and_ports() {
        assert_eq!(msg(&rule("foo", &["1.2.3.4"])), "Invalid field: protocol");
        assert_eq!(
            msg(&rule("tcp", &["1.2.3.4"])),
            "Missing required field: ports or port_range"
        );
        let mut r = rule("tcp", &["1.2.3.4"]);
        r.ports = vec![1];
        r.port_range = Some(PortRange { start: 1, end: 2 });
        assert_eq!(msg(&r), "Invalid: ports and port_range provided");
        let mut r = rule("udp", &["1.2.3.4"]);
        r.port_range = Some(PortRange { start: 0, end: 0 });
        r.icmp_info = Some(IcmpInfo::default());
        assert_eq!(
            msg(&r),
            "Invalid field: port_range, Invalid field: port_range, Invalid field: icmp_info"
        );
        let mut r = rule("tcp", &["1.2.3.4"]);
        r.port_range = Some(PortRange { start: 9, end: 8 });
        assert_eq!(msg(&r), "Invalid field: port_range");
        let mut r = rule("tcp", &["1.2.3.4"]);
        r.ports = vec![0, 80, 0];
        assert_eq!(msg(&r), "Invalid field: ports, Invalid field: ports");
        let mut r = rule("icmp", &["1.2.3.4"]);
        r.ports = vec![1];
        r.port_range = Some(PortRange { start: 1, end: 2 });
        assert_eq!(
            msg(&r),
            "Invalid field: port_range, Invalid field: ports, Invalid field: icmp_info"
        );
        assert_eq!(msg(&rule("icmpv6", &["::1"])), "Invalid field: icmpv6_info");
        let mut r = rule("all", &["1.2.3.4"]);
        r.icmp_info = Some(IcmpInfo::default());
        assert_eq!(msg(&r), "Invalid field: icmp_info");
    }

    #[test]
    fn destinations() {
        assert_eq!(
            msg(&rule("all", &[])),
            "Invalid field: destinations [ Must have at least 1 destination ]"
        );
        assert_eq!(
            msg(&rule("all", &["bogus", "1.2.3.4/33", "10.0.0.5-10.0.0.1"])),
            "Invalid field: destinations [ Invalid IP, invalid CIDR address: 1.2.3.4/33, Invalid IP ]"
        );
        // Every higher byte before the first lower one is reported.
        assert_eq!(
            msg(&rule("all", &["10.5.5.5-9.1.1.1"])),
            "Invalid field: destinations [ Invalid IP, Invalid IP, Invalid IP, Invalid IP ]"
        );
        assert_eq!(
            msg(&rule("all", &["1.2.3.4, 5.6.7.8"])),
            "Invalid field: destinations [ Invalid IP ]"
        );
        assert_eq!(
            msg(&rule("all", &["1.2.3.4/"])),
            "Invalid field: destinations [ invalid CIDR address: 1.2.3.4/ ]"
        );
        assert!(rule("all", &["10.0.0.1-10.0.0.1"]).validate().is_ok());
        assert_eq!(
            msg(&rule("all", &["01.2.3.4"])),
            "Invalid field: destinations [ Invalid IP ]"
        );
    }
}
