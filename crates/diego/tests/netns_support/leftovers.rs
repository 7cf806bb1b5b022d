//! What the cells' runc backends leave in the kernel, and removing it.
//!
//! Each backend names everything it makes after its tag: cgroups
//! `garden-TAG/HANDLE` (in every v1 hierarchy, or the v2 tree), container
//! namespaces `/run/netns/TAG-HANDLE`, and, inside its cell's namespace,
//! the bridge `TAG-br0` its CNI plugins make, their veths and their rules
//! (comments naming the network `garden-TAG` and the container). Overlay
//! mounts are under the depot.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Mount points at or below `dir` (from the host's mount table).
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let dir = dir.display().to_string();
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape)
        .filter(|m| m.starts_with(&dir))
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as octal escapes.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(c as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The backend's parent cgroup in every hierarchy it exists in (v2: the
/// one tree; v1: each controller's, plus the hybrid layout's unified one).
pub fn parent_cgroups(tag: &str) -> Vec<PathBuf> {
    let name = format!("garden-{tag}");
    let mut found = Vec::new();
    let v2 = Path::new(CGROUP_ROOT).join(&name);
    if v2.is_dir() {
        found.push(v2);
    }
    if let Ok(rd) = std::fs::read_dir(CGROUP_ROOT) {
        for e in rd.flatten() {
            let p = e.path().join(&name);
            if p.is_dir() {
                found.push(p);
            }
        }
    }
    found
}

/// The containers' cgroups: every cgroup below the backend's parents.
pub fn container_cgroups(tag: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for parent in parent_cgroups(tag) {
        let mut stack = vec![parent];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    found.push(e.path());
                    stack.push(e.path());
                }
            }
        }
    }
    found
}

/// Named network namespaces whose names start with `prefix`.
pub fn netns_named(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// `cmd args` in the network namespace `netns` (None: the host's).
fn run_in(netns: Option<&str>, cmd: &str, args: &[&str]) -> String {
    let mut c = match netns {
        Some(ns) => {
            let mut c = Command::new("nsenter");
            c.arg(format!("--net=/run/netns/{ns}")).arg("--").arg(cmd);
            c
        }
        None => Command::new(cmd),
    };
    let out = c
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} in {netns:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every iptables rule and chain (nat and filter tables) of a namespace.
pub fn iptables(netns: Option<&str>) -> Vec<String> {
    ["nat", "filter"]
        .into_iter()
        .flat_map(|t| {
            run_in(netns, "iptables", &["-w", "-t", t, "-S"])
                .lines()
                .map(|l| format!("{t}: {l}"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Per-container rules: the CNI plugins' (their comments name the
/// container: `id: "HANDLE"`).
pub fn container_rules(netns: Option<&str>) -> Vec<String> {
    iptables(netns)
        .into_iter()
        .filter(|r| r.contains("garden:") || r.contains(" id: \\\""))
        .collect()
}

/// The backend's rules: the CNI plugins' for its network `garden-TAG`;
/// in a cell's own namespace also the plugins' shared chains (`CNI-*`),
/// which the last backend there removes.
pub fn chains_of(tag: &str, netns: Option<&str>) -> Vec<String> {
    let chain = format!("{}-", tag.to_uppercase());
    let network = format!("\\\"garden-{tag}\\\"");
    iptables(netns)
        .into_iter()
        .filter(|r| {
            r.contains(&chain) || r.contains(&network) || (netns.is_some() && r.contains("CNI-"))
        })
        .collect()
}

/// The nftables tables of a namespace (`family name`).
pub fn nft_tables(netns: Option<&str>) -> Vec<String> {
    run_in(netns, "nft", &["list", "tables"])
        .lines()
        .filter_map(|l| l.strip_prefix("table "))
        .map(String::from)
        .collect()
}

/// Interface names of a namespace (`type`: e.g. "veth"; None: all).
pub fn links(netns: Option<&str>, kind: Option<&str>) -> Vec<String> {
    let mut args = vec!["-o", "link", "show"];
    if let Some(k) = kind {
        args.extend(["type", k]);
    }
    run_in(netns, "ip", &args)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect()
}

/// Removes whatever the backends tagged `tags` left: kills the processes
/// in their cgroups, unmounts everything below `dir`, deletes their
/// container namespaces, then their cgroups. For a test that failed
/// midway (or a run that was killed); a passing test leaves nothing.
pub fn sweep(tags: &[&str], dir_marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut alive = 0;
        for tag in tags {
            for cg in parent_cgroups(tag)
                .into_iter()
                .chain(container_cgroups(tag))
            {
                let procs = std::fs::read_to_string(cg.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
                    alive += 1;
                    // SAFETY: plain syscall on a pid in the test's cgroups.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        if alive == 0 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mounts: Vec<String> = table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape)
        .filter(|m| m.contains(dir_marker))
        .collect();
    // Deepest first: a loop-mounted layer may sit below an overlay.
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in mounts {
        let _ = Command::new("umount").args(["-l", &m]).output();
    }
    for tag in tags {
        for ns in netns_named(&format!("{tag}-")) {
            let _ = Command::new("ip").args(["netns", "delete", &ns]).output();
        }
        let mut cgroups = container_cgroups(tag);
        cgroups.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
        cgroups.extend(parent_cgroups(tag));
        for cg in cgroups {
            let _ = std::fs::remove_dir(cg);
        }
    }
}
