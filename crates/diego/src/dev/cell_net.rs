//! The network of `diego dev --cells N`'s extra cells: a host bridge and
//! one network namespace per cell, joined to it by a veth pair, each cell
//! a test host with its own address (as the cells of a deployment are
//! VMs of their own). Swept at start (a killed run's), removed at exit.

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::Command;

pub const BRIDGE: &str = "diego-cells0";
/// Not garden's default container subnet (10.254.0.0/22), which the
/// first cell's bridge takes on the host.
pub const HOST_IP: Ipv4Addr = Ipv4Addr::new(10, 252, 0, 1);
const PREFIX: u8 = 24;
/// Namespaces `diego-cell-1`, `diego-cell-2`, ... (cell 0 runs on the
/// host itself).
const NETNS_PREFIX: &str = "diego-cell-";
/// At most this many extra cells (addresses .2 to .9, tags dc1..dc8).
pub const MAX_EXTRA: usize = 8;

/// One extra cell's namespace.
#[derive(Debug, Clone)]
pub struct CellNet {
    pub index: usize,
    pub netns: String,
    pub ip: Ipv4Addr,
    host_veth: String,
}

impl CellNet {
    pub fn new(index: usize) -> CellNet {
        CellNet {
            index,
            netns: format!("{NETNS_PREFIX}{index}"),
            ip: Ipv4Addr::new(10, 252, 0, 1 + index as u8),
            host_veth: format!("dcell{index}"),
        }
    }
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip").args(args).output()?;
    anyhow::ensure!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// The bridge and the namespaces of `extra` cells; any earlier run's first
/// removed.
pub fn create(extra: usize) -> anyhow::Result<Vec<CellNet>> {
    anyhow::ensure!(
        extra <= MAX_EXTRA,
        "at most {} cells in diego dev",
        MAX_EXTRA + 1
    );
    remove();
    ip(&["link", "add", BRIDGE, "type", "bridge"])?;
    ip(&["addr", "add", &format!("{HOST_IP}/{PREFIX}"), "dev", BRIDGE])?;
    ip(&["link", "set", BRIDGE, "up"])?;
    let mut nets = Vec::new();
    for i in 1..=extra {
        let c = CellNet::new(i);
        ip(&["netns", "add", &c.netns])?;
        ip(&[
            "link",
            "add",
            &c.host_veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &c.netns,
        ])?;
        ip(&["link", "set", &c.host_veth, "master", BRIDGE, "up"])?;
        let n = c.netns.as_str();
        ip(&[
            "-n",
            n,
            "addr",
            "add",
            &format!("{}/{PREFIX}", c.ip),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", n, "link", "set", "lo", "up"])?;
        ip(&["-n", n, "link", "set", "eth0", "up"])?;
        ip(&[
            "-n",
            n,
            "route",
            "add",
            "default",
            "via",
            &HOST_IP.to_string(),
        ])?;
        nets.push(c);
    }
    Ok(nets)
}

/// Kills what still runs in the cells' namespaces, deletes them (their
/// veths go with them) and the bridge. Idempotent.
pub fn remove() {
    let listed = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    for name in listed.lines().filter_map(|l| l.split_whitespace().next()) {
        if !name.starts_with(NETNS_PREFIX) {
            continue;
        }
        let pids = Command::new("ip")
            .args(["netns", "pids", name])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for pid in pids
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            // SAFETY: plain syscall on a pid listed in our namespace.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = ip(&["netns", "delete", name]);
    }
    // A namespace's veth pair may outlive it for a moment.
    for i in 1..=MAX_EXTRA {
        let veth = CellNet::new(i).host_veth;
        if std::path::Path::new("/sys/class/net").join(&veth).exists() {
            let _ = ip(&["link", "del", &veth]);
        }
    }
    let _ = ip(&["link", "del", BRIDGE]);
}

/// A listening socket bound to `addr` inside the namespace `netns`: bound
/// on a short-lived thread that enters the namespace, so this process stays
/// where it is; the socket keeps the namespace it was made in.
pub fn listen_in(netns: &str, addr: std::net::SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let path = format!("/run/netns/{netns}");
    std::thread::scope(|s| {
        s.spawn(|| -> anyhow::Result<std::net::TcpListener> {
            let f = std::fs::File::open(&path)?;
            // SAFETY: setns on this thread only, with a namespace fd we hold.
            let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
            anyhow::ensure!(rc == 0, "setns {path}: {}", std::io::Error::last_os_error());
            let l = std::net::TcpListener::bind(addr)?;
            l.set_nonblocking(true)?;
            Ok(l)
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the thread binding in {netns} panicked"))?
    })
}
