//! garden-net-bench: what plugging one container into the network and
//! out again costs, CNI plugins (garden's path) beside the hand-made
//! bridge/veth/iptables path garden had before them, in the same run and
//! interleaved. Needs root, ip, iptables and the CNI plugins in
//! /usr/lib/cni. `garden-net-bench [COUNT]` (default 50).
//!
//! Also the bridge plugin alone (no mapped port), to show what portmap
//! and firewall add. Each round makes a network namespace (untimed: the runtime makes it for
//! a real container), then times plugging it in with one mapped port and
//! taking it out again. The firewall keys, the same for both paths, are
//! left out.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use garden::network::cni::{Attach, Cni};
use garden::PortMapping;

fn sh(program: &str, args: &[&str], stdin: Option<&str>) {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect(program);
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The path garden had before CNI: a veth pair to its own bridge, the
/// address and route set with `ip`, DNAT rules with iptables-restore.
mod legacy {
    use super::sh;
    use std::net::Ipv4Addr;

    pub const BRIDGE: &str = "nbl-br0";
    pub const CHAIN: &str = "NBL-PREROUTING";
    pub const OUT: &str = "NBL-OUTPUT";

    pub fn setup_host() {
        sh("ip", &["link", "add", BRIDGE, "type", "bridge"], None);
        sh("ip", &["addr", "add", "10.253.0.1/22", "dev", BRIDGE], None);
        sh("ip", &["link", "set", BRIDGE, "up"], None);
        for (hook, chain) in [("PREROUTING", CHAIN), ("OUTPUT", OUT)] {
            sh("iptables", &["-w", "-t", "nat", "-N", chain], None);
            sh(
                "iptables",
                &["-w", "-t", "nat", "-I", hook, "-j", chain],
                None,
            );
        }
    }

    pub fn teardown_host() {
        for (hook, chain) in [("PREROUTING", CHAIN), ("OUTPUT", OUT)] {
            sh(
                "iptables",
                &["-w", "-t", "nat", "-D", hook, "-j", chain],
                None,
            );
            sh("iptables", &["-w", "-t", "nat", "-F", chain], None);
            sh("iptables", &["-w", "-t", "nat", "-X", chain], None);
        }
        sh("ip", &["link", "del", BRIDGE], None);
    }

    fn rules(handle: &str, ip: Ipv4Addr, hp: u16, op: &str) -> String {
        let mut s = String::from("*nat\n");
        for chain in [CHAIN, OUT] {
            s.push_str(&format!(
                "{op} {chain} -d 127.0.0.1/32 -p tcp -m tcp --dport {hp} -m comment \
                 --comment garden:{handle} -j DNAT --to-destination {ip}:8080\n"
            ));
        }
        s.push_str("COMMIT\n");
        s
    }

    pub fn add(ns: &str, n: u32, hp: u16) {
        let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 253, 0, 0)) + n);
        let host = format!("nbl-{n:x}h");
        sh(
            "ip",
            &["neigh", "flush", "to", &ip.to_string(), "dev", BRIDGE],
            None,
        );
        let script = format!(
            "link add {host} type veth peer name eth0 netns {ns}\n\
             link set {host} master {BRIDGE} up\n"
        );
        sh("ip", &["-batch", "-"], Some(&script));
        let inside = format!(
            "addr add {ip}/22 dev eth0\nlink set lo up\nlink set eth0 up\n\
             route add default via 10.253.0.1\n"
        );
        sh("ip", &["-n", ns, "-batch", "-"], Some(&inside));
        sh(
            "iptables-restore",
            &["-w", "--noflush"],
            Some(&rules(ns, ip, hp, "-A")),
        );
    }

    pub fn del(ns: &str, n: u32, hp: u16) {
        let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 253, 0, 0)) + n);
        sh(
            "iptables-restore",
            &["-w", "--noflush"],
            Some(&rules(ns, ip, hp, "-D")),
        );
        let script = format!("link del nbl-{n:x}h\nneigh flush to {ip} dev {BRIDGE}\n");
        sh("ip", &["-force", "-batch", "-"], Some(&script));
    }
}

fn stats(name: &str, mut d: Vec<Duration>) -> Duration {
    d.sort();
    let pick = |q: f64| d[((d.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name:<34} n={:<4} median {:>7.1} ms   p99 {:>7.1} ms   max {:>7.1} ms",
        d.len(),
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3,
        d[d.len() - 1].as_secs_f64() * 1e3,
    );
    pick(0.5)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(50);
    let dir = std::env::temp_dir().join(format!("garden-net-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let cni = Cni::default_list(
        "nbc",
        Ipv4Addr::new(10, 253, 8, 0),
        22,
        &dir.join("ipam"),
        vec!["/usr/lib/cni".into()],
    );
    // The default list cut short: what each plugin adds.
    let bridge_only = {
        let path = dir.join("bridge.conflist");
        let list = serde_json::json!({
            "cniVersion": "1.0.0",
            "name": "garden-nbb",
            "plugins": [{
                "type": "bridge", "bridge": "nbb-br0", "isGateway": true,
                "isDefaultGateway": true, "ipMasq": true,
                "ipam": {"type": "host-local", "dataDir": dir.join("ipam-b").display().to_string(),
                         "ranges": [[{"subnet": "10.253.16.0/22"}]]}
            }]
        });
        std::fs::write(&path, list.to_string())?;
        Cni::load(&path, vec!["/usr/lib/cni".into()])?
    };
    legacy::setup_host();
    let (mut legacy_add, mut legacy_del, mut cni_add, mut cni_del) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut bridge_add, mut bridge_del) = (Vec::new(), Vec::new());
    for i in 0..count {
        let hp = 46000 + i as u16;
        let ns = format!("nbl-{i}");
        sh("ip", &["netns", "add", &ns], None);
        let t0 = Instant::now();
        legacy::add(&ns, 2 + i as u32, hp);
        let t1 = Instant::now();
        legacy::del(&ns, 2 + i as u32, hp);
        legacy_add.push(t1 - t0);
        legacy_del.push(t1.elapsed());
        sh("ip", &["netns", "delete", &ns], None);

        let ns = format!("nbc-{i}");
        sh("ip", &["netns", "add", &ns], None);
        let attach = Attach {
            container_id: &ns,
            netns: &format!("/run/netns/{ns}"),
            ports: &[PortMapping {
                host_port: hp,
                container_port: 8080,
            }],
            host_ip: Ipv4Addr::LOCALHOST,
        };
        let t0 = Instant::now();
        let result = cni.add(&attach).await?;
        let t1 = Instant::now();
        cni.del(&attach, Some(&result)).await?;
        cni_add.push(t1 - t0);
        cni_del.push(t1.elapsed());
        sh("ip", &["netns", "delete", &ns], None);

        let ns = format!("nbb-{i}");
        sh("ip", &["netns", "add", &ns], None);
        let attach = Attach {
            container_id: &ns,
            netns: &format!("/run/netns/{ns}"),
            ports: &[],
            host_ip: Ipv4Addr::LOCALHOST,
        };
        let t0 = Instant::now();
        let result = bridge_only.add(&attach).await?;
        let t1 = Instant::now();
        bridge_only.del(&attach, Some(&result)).await?;
        bridge_add.push(t1 - t0);
        bridge_del.push(t1.elapsed());
        sh("ip", &["netns", "delete", &ns], None);
    }
    sh("ip", &["link", "del", "nbb-br0"], None);
    legacy::teardown_host();
    if let Some(br) = cni.bridge() {
        sh("ip", &["link", "del", &br], None);
    }
    garden::network::cni::remove_idle_chains().await;
    let _ = std::fs::remove_dir_all(&dir);

    println!("container network plug-in/out, {count} rounds interleaved, one mapped port each");
    let la = stats("legacy ip+iptables: add", legacy_add.clone());
    let ld = stats("legacy ip+iptables: del", legacy_del.clone());
    let ca = stats("CNI bridge+portmap+firewall: ADD", cni_add.clone());
    let cd = stats("CNI bridge+portmap+firewall: DEL", cni_del.clone());
    let ba = stats("CNI bridge alone (no port): ADD", bridge_add);
    let bd = stats("CNI bridge alone (no port): DEL", bridge_del);
    let (l, c) = ((la + ld).as_secs_f64(), (ca + cd).as_secs_f64());
    println!(
        "add+del medians: legacy {:.1} ms, CNI {:.1} ms, ratio CNI / legacy {:.2}",
        l * 1e3,
        c * 1e3,
        c / l
    );
    println!(
        "bridge+host-local alone: {:.1} ms add+del; portmap+firewall add {:.1} ms",
        (ba + bd).as_secs_f64() * 1e3,
        (c - (ba + bd).as_secs_f64()) * 1e3
    );
    Ok(())
}
