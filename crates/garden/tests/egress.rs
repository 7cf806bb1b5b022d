//! Egress rules on the runc backend (root only), against an "outside" of
//! the test's own: a network namespace behind a veth from the host
//! (10.199.N.2, also answering as 169.254.169.254), with TCP servers on
//! 8080, 8081 and 53 and a UDP DNS server answering NXDOMAIN to every
//! query, standing in for the cell's resolver.
//! Without rules a container reaches only DNS; a rule opens exactly its
//! protocol, addresses and ports; the host and link-local addresses stay
//! out of reach whatever the rules; other containers need a rule too.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::os::fd::AsRawFd;

use common::{sh, skip_unless_able};
use garden::{Backend, GardenError, IcmpControl, IpRange, NetOutRule, PortRange, Protocol};

/// The outside network: removed when dropped.
struct Outside {
    ns: String,
    host_veth: String,
    addr: Ipv4Addr,
    host_addr: Ipv4Addr,
}

fn ip(args: &str) {
    let out = std::process::Command::new("ip")
        .args(args.split_whitespace())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ip {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Outside {
    fn new(n: u8) -> Outside {
        let ns = format!("gout-{n}");
        let (host_veth, peer) = (format!("go{n}h"), format!("go{n}n"));
        // A killed run's leftovers first.
        let _ = std::process::Command::new("ip")
            .args(["netns", "delete", &ns])
            .output();
        let _ = std::process::Command::new("ip")
            .args(["link", "delete", &host_veth])
            .output();
        let (host_addr, addr) = (Ipv4Addr::new(10, 199, n, 1), Ipv4Addr::new(10, 199, n, 2));
        ip(&format!("netns add {ns}"));
        ip(&format!(
            "link add {host_veth} type veth peer name {peer} netns {ns}"
        ));
        ip(&format!("addr add {host_addr}/24 dev {host_veth}"));
        ip(&format!("link set {host_veth} up"));
        ip(&format!("route add 169.254.169.254/32 dev {host_veth}"));
        ip(&format!("-n {ns} addr add {addr}/24 dev {peer}"));
        ip(&format!("-n {ns} addr add 169.254.169.254/32 dev {peer}"));
        ip(&format!("-n {ns} link set {peer} up"));
        ip(&format!("-n {ns} link set lo up"));
        ip(&format!("-n {ns} route add default via {host_addr}"));
        let o = Outside {
            ns,
            host_veth,
            addr,
            host_addr,
        };
        o.serve();
        o
    }

    /// Servers in the namespace, on threads that moved into it.
    fn serve(&self) {
        let path = format!("/run/netns/{}", self.ns);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let f = std::fs::File::open(&path).unwrap();
            // SAFETY: moves this thread (only) into the namespace.
            assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
            let tcp: Vec<TcpListener> = [8080, 8081, 53]
                .iter()
                .map(|p| TcpListener::bind(("0.0.0.0", *p)).unwrap())
                .collect();
            let udp = UdpSocket::bind("0.0.0.0:53").unwrap();
            tx.send(()).unwrap();
            std::thread::spawn(move || {
                // Every query answered "no such name" (QR set, NXDOMAIN).
                let mut buf = [0u8; 512];
                while let Ok((n, from)) = udp.recv_from(&mut buf) {
                    if n >= 12 {
                        buf[2] |= 0x80;
                        buf[3] = (buf[3] & 0xf0) | 3;
                        let _ = udp.send_to(&buf[..n], from);
                    }
                }
            });
            for l in tcp {
                std::thread::spawn(move || {
                    let port = l.local_addr().unwrap().port();
                    for s in l.incoming().flatten() {
                        let mut s = s;
                        let _ = writeln!(s, "hi-{port}");
                    }
                });
            }
        });
        rx.recv().unwrap();
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "delete", &self.host_veth])
            .output();
        let _ = std::process::Command::new("ip")
            .args(["netns", "delete", &self.ns])
            .output();
    }
}

fn one(a: Ipv4Addr) -> IpRange {
    IpRange {
        start: a.into(),
        end: a.into(),
    }
}

fn tcp_to(a: Ipv4Addr, port: u16) -> NetOutRule {
    NetOutRule {
        protocol: Protocol::Tcp,
        networks: vec![one(a)],
        ports: vec![PortRange {
            start: port,
            end: port,
        }],
        ..Default::default()
    }
}

fn anywhere() -> NetOutRule {
    NetOutRule {
        protocol: Protocol::All,
        networks: vec![IpRange {
            start: Ipv4Addr::new(0, 0, 0, 0).into(),
            end: Ipv4Addr::new(255, 255, 255, 255).into(),
        }],
        ..Default::default()
    }
}

/// What `nc` brings back from addr:port in the container ("" when it
/// could not connect).
async fn fetch(b: &garden::RuncBackend, handle: &str, addr: Ipv4Addr, port: u16) -> String {
    let (_, out, _) = sh(b, handle, &format!("nc -w 2 {addr} {port} </dev/null")).await;
    out
}

async fn with_rules(t: &common::TestBackend, handle: &str, rules: Vec<NetOutRule>) {
    let mut spec = common::spec(handle);
    spec.net_out = rules;
    t.backend.create(spec).await.unwrap();
}

#[tokio::test]
async fn egress_is_denied_but_dns_unless_a_rule_allows_it() {
    skip_unless_able!();
    let out = Outside::new(61);
    let t = common::backend_custom(61, |cfg| cfg.dns_servers = Some(vec![out.addr])).await;
    let b = &t.backend;
    // The servers answer from the host, so what follows is the rules'.
    let mut s = std::net::TcpStream::connect((out.addr, 8080)).unwrap();
    let mut hi = String::new();
    s.read_to_string(&mut hi).unwrap();
    assert_eq!(hi, "hi-8080\n");

    // No rules: only DNS to the configured resolver.
    with_rules(&t, "none-1", vec![]).await;
    assert_eq!(fetch(b, "none-1", out.addr, 8080).await, "");
    let (_, conf, _) = sh(b, "none-1", "cat /etc/resolv.conf").await;
    assert_eq!(conf, format!("nameserver {}\n", out.addr));
    let (_, dns, err) = sh(b, "none-1", "nslookup -timeout=2 example.com").await;
    assert!(
        dns.contains("NXDOMAIN") || err.contains("NXDOMAIN"),
        "{dns}{err}"
    );
    assert_eq!(fetch(b, "none-1", out.addr, 53).await, "hi-53\n");

    // One rule: its address and port, nothing else.
    with_rules(&t, "one-1", vec![tcp_to(out.addr, 8080)]).await;
    assert_eq!(fetch(b, "one-1", out.addr, 8080).await, "hi-8080\n");
    assert_eq!(fetch(b, "one-1", out.addr, 8081).await, "");
    // Refused at once (ICMP admin-prohibited), not left to time out.
    let started = std::time::Instant::now();
    let (status, _, err) = sh(b, "one-1", &format!("nc -w 5 {} 8081 </dev/null", out.addr)).await;
    assert_ne!(status, 0);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{err}"
    );

    // Port ranges; ICMP by type.
    let ranged = NetOutRule {
        ports: vec![PortRange {
            start: 8081,
            end: 8090,
        }],
        ..tcp_to(out.addr, 0)
    };
    let ping = NetOutRule {
        protocol: Protocol::Icmp,
        networks: vec![one(out.addr)],
        icmps: Some(IcmpControl {
            r#type: 8,
            code: None,
        }),
        ..Default::default()
    };
    with_rules(&t, "range-1", vec![ranged, ping]).await;
    assert_eq!(fetch(b, "range-1", out.addr, 8081).await, "hi-8081\n");
    assert_eq!(fetch(b, "range-1", out.addr, 8080).await, "");
    let (status, _, err) = sh(b, "range-1", &format!("ping -c 1 -W 2 {}", out.addr)).await;
    assert_eq!(status, 0, "ping allowed: {err}");
    let (status, _, _) = sh(b, "one-1", &format!("ping -c 1 -W 1 {}", out.addr)).await;
    assert_ne!(status, 0, "ping without an ICMP rule");

    // Everywhere: still not the host, nor link-local metadata.
    with_rules(&t, "all-1", vec![anywhere()]).await;
    assert_eq!(fetch(b, "all-1", out.addr, 8081).await, "hi-8081\n");
    let host = TcpListener::bind("0.0.0.0:0").unwrap();
    let hp = host.local_addr().unwrap().port();
    let gateway = b.network().gateway();
    for addr in [gateway, out.host_addr, Ipv4Addr::new(169, 254, 169, 254)] {
        let port = if addr.is_link_local() { 8080 } else { hp };
        assert_eq!(fetch(b, "all-1", addr, port).await, "", "{addr} reached");
    }
    // (The metadata stand-in does answer the host.)
    let mut s = std::net::TcpStream::connect(("169.254.169.254", 8080)).unwrap();
    let mut hi = String::new();
    s.read_to_string(&mut hi).unwrap();
    assert_eq!(hi, "hi-8080\n");

    for h in ["none-1", "one-1", "range-1", "all-1"] {
        b.destroy(h).await.unwrap();
    }
    for h in ["none-1", "one-1", "range-1", "all-1"] {
        assert_eq!(common::leftovers(&t, h).await, Vec::<String>::new());
    }
}

#[tokio::test]
async fn another_container_needs_a_rule_for_its_address() {
    skip_unless_able!();
    let t = common::backend(62).await;
    let b = &t.backend;
    let info = b.create(common::spec("app-2")).await.unwrap();
    let app2: Ipv4Addr = info.container_ip.parse().unwrap();
    let _server = common::spawn_sh(
        b,
        "app-2",
        "sh",
        "vcap",
        "mkdir -p /tmp/www && echo app-2 > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www",
    )
    .await;
    // From the host: it serves.
    let mut up = false;
    for _ in 0..50 {
        if std::net::TcpStream::connect((app2, 8080)).is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "app-2 serves the host");

    let get = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {app2} 8080");
    // Without a rule (even with one for everything else): unreachable.
    with_rules(&t, "app-1", vec![]).await;
    let (_, out, _) = sh(b, "app-1", &get).await;
    assert!(!out.contains("app-2"), "{out}");
    // With one for its address, logged.
    let mut rule = tcp_to(app2, 8080);
    rule.log = true;
    with_rules(&t, "app-3", vec![rule]).await;
    let (status, out, err) = sh(b, "app-3", &get).await;
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("app-2"), "{out}");
    let app3: Ipv4Addr = b.info("app-3").await.unwrap().container_ip.parse().unwrap();
    let chain = b.network().firewall().chain(app3).await.unwrap();
    assert!(
        chain.contains(&format!(
            "ip daddr {app2} tcp dport 8080 log prefix \"app-3 \" accept"
        )),
        "{chain}"
    );
    // The kernel logged the connection (where its log can be read here).
    if let Ok(o) = std::process::Command::new("dmesg").output() {
        if o.status.success() {
            let log = String::from_utf8_lossy(&o.stdout);
            assert!(
                log.lines()
                    .any(|l| l.contains("app-3 ") && l.contains(&format!("DST={app2}"))),
                "no log line for app-3"
            );
        }
    }

    for h in ["app-1", "app-2", "app-3"] {
        b.destroy(h).await.unwrap();
    }
    assert!(b.network().firewall().chain(app3).await.is_none());
    for h in ["app-1", "app-2", "app-3"] {
        assert_eq!(common::leftovers(&t, h).await, Vec::<String>::new());
    }
}

#[tokio::test]
async fn bad_rules_are_refused_before_anything_is_made() {
    skip_unless_able!();
    let t = common::backend(63).await;
    let mut spec = common::spec("bad-1");
    spec.net_out = vec![NetOutRule {
        protocol: Protocol::Icmp,
        ports: vec![PortRange { start: 1, end: 1 }],
        ..Default::default()
    }];
    let err = t.backend.create(spec).await.unwrap_err();
    assert!(
        matches!(&err, GardenError::InvalidSpec(m) if m == "Ports cannot be specified for Protocol ICMP"),
        "{err}"
    );
    assert_eq!(common::leftovers(&t, "bad-1").await, Vec::<String>::new());
}
