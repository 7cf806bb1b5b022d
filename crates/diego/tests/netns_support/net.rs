//! The test's own network: a host bridge and one network namespace per
//! cell, each joined to the bridge by a veth pair, on a /24 nothing else
//! uses. Removed on drop (also when the test panics), and swept at start in
//! case a previous run was killed before it could clean up.

use std::process::Command;

pub const BRIDGE: &str = "dgt-br0";
pub const HOST_IP: &str = "10.253.0.1";
pub const PREFIX: u8 = 24;

/// A cell's namespace: its name, its address on the bridge, the host end
/// of its veth pair (the cell's end is `eth0` inside the namespace), and
/// the zone its rep reports (one zone per cell, as cells spread over
/// availability zones).
#[derive(Debug, Clone, Copy)]
pub struct CellNet {
    pub netns: &'static str,
    pub ip: &'static str,
    pub host_veth: &'static str,
    pub zone: &'static str,
}

pub const CELL_A: CellNet = CellNet {
    netns: "dgt-cell-a",
    ip: "10.253.0.2",
    host_veth: "dgt-a-h",
    zone: "z1",
};
pub const CELL_B: CellNet = CellNet {
    netns: "dgt-cell-b",
    ip: "10.253.0.3",
    host_veth: "dgt-b-h",
    zone: "z2",
};
pub const CELL_C: CellNet = CellNet {
    netns: "dgt-cell-c",
    ip: "10.253.0.4",
    host_veth: "dgt-c-h",
    zone: "z3",
};
pub const CELLS: [CellNet; 3] = [CELL_A, CELL_B, CELL_C];

/// `cmd args...`, its stdout; panics with its stderr when it fails.
pub fn sh(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Like [`sh`] but failures are expected (removing what may be gone).
pub fn try_sh(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Whether a link of that name exists in the host's namespace.
pub fn host_link_exists(name: &str) -> bool {
    try_sh("ip", &["link", "show", name])
}

pub fn netns_exists(name: &str) -> bool {
    std::path::Path::new("/run/netns").join(name).exists()
}

/// Up on construction, gone on drop.
pub struct TestNet(());

impl TestNet {
    pub fn create() -> TestNet {
        remove();
        // The guard first: a failure halfway still removes what was made.
        let net = TestNet(());
        sh("ip", &["link", "add", BRIDGE, "type", "bridge"]);
        sh(
            "ip",
            &["addr", "add", &format!("{HOST_IP}/{PREFIX}"), "dev", BRIDGE],
        );
        sh("ip", &["link", "set", BRIDGE, "up"]);
        for c in CELLS {
            sh("ip", &["netns", "add", c.netns]);
            sh(
                "ip",
                &[
                    "link",
                    "add",
                    c.host_veth,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "eth0",
                    "netns",
                    c.netns,
                ],
            );
            sh("ip", &["link", "set", c.host_veth, "master", BRIDGE, "up"]);
            let inside = format!(
                "addr add {ip}/{PREFIX} dev eth0\n\
                 link set lo up\n\
                 link set eth0 up\n\
                 route add default via {HOST_IP}\n",
                ip = c.ip
            );
            let mut child = Command::new("ip")
                .args(["-n", c.netns, "-batch", "-"])
                .stdin(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(inside.as_bytes())
                .unwrap();
            assert!(child.wait().unwrap().success(), "configuring {}", c.netns);
        }
        net
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        remove();
    }
}

/// Kills whatever still runs in the cells' namespaces (a rep of a run that
/// was killed), then deletes the namespaces (their veth pairs go with them)
/// and the bridge. Idempotent.
pub fn remove() {
    for c in CELLS {
        if netns_exists(c.netns) {
            let pids = Command::new("ip")
                .args(["netns", "pids", c.netns])
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
            try_sh("ip", &["netns", "delete", c.netns]);
        }
        if host_link_exists(c.host_veth) {
            try_sh("ip", &["link", "del", c.host_veth]);
        }
    }
    if host_link_exists(BRIDGE) {
        try_sh("ip", &["link", "del", BRIDGE]);
    }
}
