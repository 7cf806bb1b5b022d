//! Which registries are spoken to over plain HTTP: those the cell's
//! configuration lists (Garden's `insecure_docker_registry_list`). An
//! entry is `host:port` (that registry), `host` (any port of it) or a
//! CIDR block like Docker's `127.0.0.0/8` (any address in it, any port).

use std::net::IpAddr;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsecureRegistries {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    HostPort(String),
    Host(String),
    Cidr(IpAddr, u8),
}

/// What `diego dev` lists: registries on loopback (as Docker allows
/// plain HTTP to 127.0.0.0/8 by default).
pub const LOOPBACK: [&str; 3] = ["127.0.0.0/8", "::1/128", "localhost"];

impl InsecureRegistries {
    pub fn new<S: AsRef<str>>(list: &[S]) -> Result<Self, String> {
        let mut entries = Vec::new();
        for s in list {
            let s = s.as_ref().trim().to_ascii_lowercase();
            if s.is_empty() {
                continue;
            }
            let s = s
                .strip_prefix("http://")
                .or_else(|| s.strip_prefix("https://"))
                .unwrap_or(&s)
                .trim_end_matches('/')
                .to_string();
            if let Some((net, bits)) = s.split_once('/') {
                let ip: IpAddr = net
                    .parse()
                    .map_err(|_| format!("invalid insecure registry {s:?}: not a CIDR block"))?;
                let bits: u8 = bits
                    .parse()
                    .ok()
                    .filter(|b| *b <= if ip.is_ipv4() { 32 } else { 128 })
                    .ok_or_else(|| format!("invalid insecure registry {s:?}: bad prefix length"))?;
                entries.push(Entry::Cidr(ip, bits));
            } else if split_port(&s).1.is_some() {
                entries.push(Entry::HostPort(s));
            } else {
                entries.push(Entry::Host(s));
            }
        }
        Ok(InsecureRegistries { entries })
    }

    pub fn loopback() -> Self {
        Self::new(&LOOPBACK).expect("valid")
    }

    /// Whether `registry` (`host[:port]`, as in an image reference) is
    /// spoken to over plain HTTP.
    pub fn contains(&self, registry: &str) -> bool {
        let registry = registry.to_ascii_lowercase();
        let (host, _) = split_port(&registry);
        let ip: Option<IpAddr> = host.trim_matches(|c| c == '[' || c == ']').parse().ok();
        self.entries.iter().any(|e| match e {
            Entry::HostPort(hp) => *hp == registry,
            Entry::Host(h) => {
                h == host
                    || h.trim_matches(|c| c == '[' || c == ']')
                        == host.trim_matches(|c| c == '[' || c == ']')
            }
            Entry::Cidr(net, bits) => ip.is_some_and(|ip| in_cidr(ip, *net, *bits)),
        })
    }
}

/// `host:port` -> (host, Some(port)); bracketed IPv6 kept whole.
fn split_port(s: &str) -> (&str, Option<&str>) {
    if s.starts_with('[') {
        return match s.rsplit_once("]:") {
            Some((h, p)) => (&s[..h.len() + 1], Some(p)),
            None => (s, None),
        };
    }
    match s.rsplit_once(':') {
        // A bare IPv6 address has several colons and no port.
        Some((h, p)) if !h.contains(':') && p.parse::<u16>().is_ok() => (h, Some(p)),
        _ => (s, None),
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_are_insecure_by_default_in_dev() {
        let l = InsecureRegistries::loopback();
        for r in [
            "127.0.0.1:5000",
            "127.1.2.3",
            "localhost:5000",
            "localhost",
            "[::1]:5000",
        ] {
            assert!(l.contains(r), "{r}");
        }
        for r in [
            "registry-1.docker.io",
            "10.0.0.1:5000",
            "localhost.example.com:5000",
        ] {
            assert!(!l.contains(r), "{r}");
        }
    }

    #[test]
    fn host_port_host_and_cidr_entries() {
        let l =
            InsecureRegistries::new(&["reg.example.com:5000", "other.example.com", "10.1.0.0/16"])
                .unwrap();
        assert!(l.contains("reg.example.com:5000"));
        assert!(!l.contains("reg.example.com:5001"));
        assert!(!l.contains("reg.example.com"));
        assert!(l.contains("other.example.com:443"));
        assert!(l.contains("OTHER.example.com"));
        assert!(l.contains("10.1.200.3:5000"));
        assert!(!l.contains("10.2.0.1:5000"));
        assert!(InsecureRegistries::new(&["1.2.3.4/40"]).is_err());
        assert!(InsecureRegistries::new(&["nonsense/8"]).is_err());
        assert!(!InsecureRegistries::default().contains("127.0.0.1:5000"));
    }
}
