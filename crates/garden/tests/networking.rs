//! Container networking on the runc backend: mapped ports reachable from
//! the host (loopback and the external address) and from other network
//! namespaces, and many containers at once, each on its own address.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::{sh, skip_unless_able};
use garden::{Backend, PortMapping, ProcessIo, ProcessSpec, RuncBackend};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// busybox httpd serving `body` on container port 8080.
async fn serve(b: &RuncBackend, handle: &str, body: &str) -> Box<dyn garden::Process> {
    let script =
        format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 8080 -h /www");
    b.run(
        handle,
        ProcessSpec {
            path: "sh".into(),
            args: vec!["-c".into(), script],
            ..Default::default()
        },
        ProcessIo::default(),
    )
    .await
    .unwrap()
}

/// GET / from addr:port, retrying while the server starts.
async fn http_get(addr: Ipv4Addr, port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = async {
            let mut s = tokio::net::TcpStream::connect((addr, port)).await?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n").await?;
            let mut out = String::new();
            s.read_to_string(&mut out).await?;
            Ok::<_, std::io::Error>(out)
        };
        match tokio::time::timeout(Duration::from_secs(2), attempt).await {
            Ok(Ok(body)) if body.contains("200") => return body,
            other if Instant::now() > deadline => panic!("{addr}:{port} unreachable: {other:?}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// The host's first global IPv4 address, if it has one.
fn global_ipv4() -> Option<Ipv4Addr> {
    let out = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.split_whitespace().nth(3)?.split('/').next()?.parse().ok())
}

#[tokio::test]
async fn mapped_ports_are_reachable_from_the_host_on_loopback() {
    skip_unless_able!();
    let t = common::backend(21).await;
    let b = &t.backend;
    // A host service on the first port of the range: skipped.
    let _host_service = std::net::TcpListener::bind(("0.0.0.0", t.cfg.port_range.0)).unwrap();
    let mut spec = common::spec("web-1");
    spec.net_in = vec![
        PortMapping {
            host_port: 0,
            container_port: 8080,
        },
        PortMapping {
            host_port: t.cfg.port_range.1,
            container_port: 8080,
        },
    ];
    let info = b.create(spec).await.unwrap();
    assert_eq!(info.external_ip, "127.0.0.1");
    assert_eq!(info.mapped_ports[0].host_port, t.cfg.port_range.0 + 1);
    assert_eq!(info.mapped_ports[1].host_port, t.cfg.port_range.1);
    let _server = serve(b, "web-1", "hello-web-1").await;
    for m in &info.mapped_ports {
        let body = http_get(Ipv4Addr::LOCALHOST, m.host_port).await;
        assert!(body.contains("hello-web-1"), "{body}");
    }
    // And on its own address from the host.
    let body = http_get(info.container_ip.parse().unwrap(), 8080).await;
    assert!(body.contains("hello-web-1"));

    b.destroy("web-1").await.unwrap();
    assert_eq!(common::leftovers(&t, "web-1").await, Vec::<String>::new());
}

#[tokio::test]
async fn mapped_ports_are_reachable_from_other_namespaces() {
    skip_unless_able!();
    let Some(ext) = global_ipv4() else {
        testkit::skip::skip("the host has no global IPv4 address to map ports on");
        return;
    };
    let t = common::backend_with(22, ext).await;
    let b = &t.backend;
    let mut spec = common::spec("srv-1");
    spec.net_in = vec![PortMapping {
        host_port: 0,
        container_port: 8080,
    }];
    let info = b.create(spec).await.unwrap();
    let hp = info.mapped_ports[0].host_port;
    let _server = serve(b, "srv-1", "hello-srv-1").await;

    // From the host itself (nat OUTPUT).
    assert!(http_get(ext, hp).await.contains("hello-srv-1"));
    // From another container's namespace (nat PREROUTING, hairpin), which
    // needs an egress rule for the server's address: rules see the
    // destination after DNAT, as on Garden.
    let mut client = common::spec("client-1");
    client.net_out = vec![garden::NetOutRule {
        protocol: garden::Protocol::Tcp,
        networks: vec![garden::IpRange {
            start: info.container_ip.parse().unwrap(),
            end: info.container_ip.parse().unwrap(),
        }],
        ports: vec![garden::PortRange {
            start: 8080,
            end: 8080,
        }],
        ..Default::default()
    }];
    b.create(client).await.unwrap();
    // nc, not wget: the static busybox's wget looks the "http" service up
    // through glibc's NSS, which crashes in a static binary.
    let script = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {ext} {hp}");
    let (status, out, err) = sh(b, "client-1", &script).await;
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("hello-srv-1"), "{out}");

    b.destroy("client-1").await.unwrap();
    b.destroy("srv-1").await.unwrap();
    for h in ["client-1", "srv-1"] {
        assert_eq!(common::leftovers(&t, h).await, Vec::<String>::new());
    }
}

#[tokio::test]
async fn ten_containers_in_parallel_each_reachable() {
    skip_unless_able!();
    let t = common::backend(23).await;
    let b = t.backend.clone();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let b = b.clone();
            tokio::spawn(async move {
                let handle = format!("par-{i}");
                let mut spec = common::spec(&handle);
                spec.net_in = vec![PortMapping {
                    host_port: 0,
                    container_port: 8080,
                }];
                let info = b.create(spec).await.unwrap();
                let server = serve(&b, &handle, &format!("hello-{handle}")).await;
                let body = http_get(Ipv4Addr::LOCALHOST, info.mapped_ports[0].host_port).await;
                assert!(body.contains(&format!("hello-{handle}")), "{body}");
                drop(server);
                (handle, info)
            })
        })
        .collect();
    let mut ips = std::collections::BTreeSet::new();
    let mut ports = std::collections::BTreeSet::new();
    for task in tasks {
        let (_, info) = task.await.unwrap();
        ips.insert(info.container_ip);
        ports.insert(info.mapped_ports[0].host_port);
    }
    assert_eq!((ips.len(), ports.len()), (10, 10));
    let destroys: Vec<_> = (0..10)
        .map(|i| {
            let b = b.clone();
            tokio::spawn(async move { b.destroy(&format!("par-{i}")).await })
        })
        .collect();
    for d in destroys {
        d.await.unwrap().unwrap();
    }
    for i in 0..10 {
        assert_eq!(
            common::leftovers(&t, &format!("par-{i}")).await,
            Vec::<String>::new()
        );
    }
}
