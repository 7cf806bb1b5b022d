//! The resolv.conf containers get, and the resolvers they may reach
//! without an egress rule.

use std::net::Ipv4Addr;

/// The host's resolv.conf; a host resolving through a loopback stub
/// (systemd-resolved's 127.0.0.53) gives the upstream servers the stub
/// uses, which containers can reach.
fn host_resolv_conf() -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    if nameservers(&host).iter().any(|a| a.is_loopback()) {
        if let Ok(upstream) = std::fs::read_to_string("/run/systemd/resolve/resolv.conf") {
            return upstream;
        }
    }
    host
}

/// The IPv4 `nameserver` lines of a resolv.conf.
pub fn nameservers(resolv_conf: &str) -> Vec<Ipv4Addr> {
    resolv_conf
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            (it.next() == Some("nameserver")).then(|| it.next()?.parse().ok())?
        })
        .collect()
}

/// (resolv.conf text, resolvers): the configured servers, else the host's.
pub fn resolv_conf(configured: Option<&[Ipv4Addr]>) -> (String, Vec<Ipv4Addr>) {
    match configured {
        Some(servers) => {
            let text: String = servers
                .iter()
                .map(|s| format!("nameserver {s}\n"))
                .collect();
            (text, servers.to_vec())
        }
        None => {
            let text = host_resolv_conf();
            let servers = nameservers(&text)
                .into_iter()
                .filter(|a| !a.is_loopback())
                .collect();
            (text, servers)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_are_read_and_configured_ones_win() {
        let conf = "# c\nsearch x\nnameserver 10.0.0.2\nnameserver ::1\nnameserver 1.1.1.1 \n";
        assert_eq!(
            nameservers(conf),
            [Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(1, 1, 1, 1)]
        );
        let (text, servers) = resolv_conf(Some(&[Ipv4Addr::new(10, 9, 9, 9)]));
        assert_eq!(text, "nameserver 10.9.9.9\n");
        assert_eq!(servers, [Ipv4Addr::new(10, 9, 9, 9)]);
    }
}
