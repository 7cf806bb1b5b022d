//! A container's processes as the host sees them: the pids in its cgroup
//! (the backend names it `garden-TAG/HANDLE` in every hierarchy) with their
//! command lines, so a test can kill one from outside, as the kernel or an
//! operator would, without going through the cell.

use std::collections::BTreeSet;

use super::leftovers;

#[derive(Debug)]
pub struct HostProcess {
    pub pid: i32,
    pub argv: Vec<String>,
}

/// The processes in the container `handle` of the backend tagged `tag`.
pub fn in_container(tag: &str, handle: &str) -> Vec<HostProcess> {
    let mut pids = BTreeSet::new();
    for parent in leftovers::parent_cgroups(tag) {
        let procs =
            std::fs::read_to_string(parent.join(handle).join("cgroup.procs")).unwrap_or_default();
        pids.extend(procs.lines().filter_map(|p| p.trim().parse::<i32>().ok()));
    }
    pids.into_iter()
        .filter_map(|pid| {
            // Gone since the read, or a zombie (no command line): skipped.
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let argv: Vec<String> = raw
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            (!argv.is_empty()).then_some(HostProcess { pid, argv })
        })
        .collect()
}

/// SIGKILL from the host.
pub fn kill(p: &HostProcess) {
    // SAFETY: plain syscall on a pid just read from the container's cgroup.
    let rc = unsafe { libc::kill(p.pid, libc::SIGKILL) };
    assert_eq!(rc, 0, "kill -9 {p:?}: {}", std::io::Error::last_os_error());
}
