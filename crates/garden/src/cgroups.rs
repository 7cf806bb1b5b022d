//! Reading a container's cgroup: usage for metrics, the OOM-kill counter
//! for info's events, and removing what the runtime left behind. The
//! runtime itself creates the cgroups and writes the limits from the
//! bundle's config.json.

use std::path::{Path, PathBuf};
use std::time::Duration;

const ROOT: &str = "/sys/fs/cgroup";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    /// Per-controller hierarchies (also the "hybrid" layout, where the
    /// unified hierarchy is mounted at /sys/fs/cgroup/unified but holds no
    /// controllers).
    V1,
    /// One unified hierarchy at /sys/fs/cgroup.
    V2,
}

impl CgroupVersion {
    pub fn detect() -> Self {
        Self::detect_at(Path::new(ROOT))
    }

    /// The layout of the cgroup filesystem mounted at `root`.
    pub fn detect_at(root: &Path) -> Self {
        if root.join("cgroup.controllers").exists() {
            CgroupVersion::V2
        } else {
            CgroupVersion::V1
        }
    }
}

/// The cgroup path given to the runtime (`linux.cgroupsPath`): relative to
/// each hierarchy's root.
pub fn cgroups_path(tag: &str, handle: &str) -> String {
    format!("/garden-{tag}/{handle}")
}

#[derive(Debug, Clone)]
pub struct Cgroup {
    pub version: CgroupVersion,
    /// As given to the runtime, starting with '/'.
    pub path: String,
    /// Where the cgroup filesystem is mounted (/sys/fs/cgroup; tests use a
    /// directory tree of the same shape).
    root: PathBuf,
}

/// The limits in force in a cgroup, as the kernel shows them (None: no
/// limit, or the controller is not there).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InForce {
    pub memory_bytes: Option<u64>,
    pub max_pids: Option<u64>,
    /// v1 cpu.shares, or v2 cpu.weight.
    pub cpu: Option<u64>,
}

impl Cgroup {
    pub fn new(version: CgroupVersion, path: String) -> Self {
        Self::at(Path::new(ROOT), version, path)
    }

    pub fn at(root: &Path, version: CgroupVersion, path: String) -> Self {
        Cgroup {
            version,
            path,
            root: root.to_path_buf(),
        }
    }

    fn file(&self, controller: &str, name: &str) -> PathBuf {
        let rel = self.path.trim_start_matches('/');
        match self.version {
            CgroupVersion::V1 => self.root.join(controller).join(rel).join(name),
            CgroupVersion::V2 => self.root.join(rel).join(name),
        }
    }

    /// A number file, where "max" (v2) or a v1 value of 2^63 rounded to
    /// pages means no limit.
    fn limit(&self, controller: &str, name: &str) -> Option<u64> {
        let text = self.read(controller, name)?;
        let text = text.trim();
        if text == "max" {
            return None;
        }
        text.parse::<u64>().ok().filter(|n| *n < 1 << 62)
    }

    /// The memory, pids and CPU limits the kernel holds for the cgroup.
    pub fn in_force(&self) -> InForce {
        match self.version {
            CgroupVersion::V1 => InForce {
                memory_bytes: self.limit("memory", "memory.limit_in_bytes"),
                max_pids: self.limit("pids", "pids.max"),
                cpu: self.limit("cpu", "cpu.shares"),
            },
            CgroupVersion::V2 => InForce {
                memory_bytes: self.limit("memory", "memory.max"),
                max_pids: self.limit("pids", "pids.max"),
                cpu: self.limit("cpu", "cpu.weight"),
            },
        }
    }

    /// Processes in the cgroup now.
    pub fn pids_current(&self) -> Option<u64> {
        self.limit("pids", "pids.current")
    }

    /// The processes in this cgroup and the ones below it, in any
    /// hierarchy.
    pub fn procs(&self) -> Vec<i32> {
        fn walk(dir: &Path, out: &mut Vec<i32>) {
            if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            }
            if let Ok(rd) = std::fs::read_dir(dir) {
                for e in rd.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        walk(&e.path(), out);
                    }
                }
            }
        }
        let mut pids = Vec::new();
        for dir in self.dirs() {
            walk(&dir, &mut pids);
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Kills every process in the cgroup (thawed first, should it be
    /// frozen: a frozen process dies only once thawed), for a container
    /// whose runtime state is lost; waits up to `within` for them to go.
    pub async fn kill_all(&self, within: Duration) -> bool {
        for dir in self.dirs() {
            let state = dir.join("freezer.state");
            if state.exists() {
                let _ = std::fs::write(&state, "THAWED");
            }
        }
        let deadline = std::time::Instant::now() + within;
        loop {
            let pids = self.procs();
            if pids.is_empty() {
                return true;
            }
            if std::time::Instant::now() > deadline {
                return false;
            }
            for pid in pids {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Names of the cgroups directly under this one (in any hierarchy).
    pub fn children(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .dirs()
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flat_map(|rd| rd.flatten())
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    fn read(&self, controller: &str, name: &str) -> Option<String> {
        std::fs::read_to_string(self.file(controller, name)).ok()
    }

    /// Memory in use, less the page cache the kernel can drop at once
    /// (what Garden reports, and what the OOM killer would spare).
    pub fn memory_usage(&self) -> u64 {
        let (usage, stat, inactive_key) = match self.version {
            CgroupVersion::V1 => (
                self.read("memory", "memory.usage_in_bytes"),
                self.read("memory", "memory.stat"),
                "total_inactive_file",
            ),
            CgroupVersion::V2 => (
                self.read("memory", "memory.current"),
                self.read("memory", "memory.stat"),
                "inactive_file",
            ),
        };
        let usage = usage
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let inactive = stat.and_then(|s| keyed(&s, inactive_key)).unwrap_or(0);
        usage.saturating_sub(inactive)
    }

    /// How many times the kernel's OOM killer killed a process in the
    /// container.
    pub fn oom_kills(&self) -> u64 {
        let text = match self.version {
            CgroupVersion::V1 => self.read("memory", "memory.oom_control"),
            CgroupVersion::V2 => self.read("memory", "memory.events"),
        };
        text.and_then(|s| keyed(&s, "oom_kill")).unwrap_or(0)
    }

    pub fn cpu_usage(&self) -> Duration {
        match self.version {
            CgroupVersion::V1 => self
                .read("cpuacct", "cpuacct.usage")
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Duration::from_nanos),
            CgroupVersion::V2 => self
                .read("cpu", "cpu.stat")
                .and_then(|s| keyed(&s, "usage_usec"))
                .map(Duration::from_micros),
        }
        .unwrap_or_default()
    }

    /// Every directory this cgroup has (one per hierarchy on v1).
    pub fn dirs(&self) -> Vec<PathBuf> {
        let rel = self.path.trim_start_matches('/');
        match self.version {
            CgroupVersion::V2 => Some(self.root.join(rel))
                .filter(|p| p.exists())
                .into_iter()
                .collect(),
            CgroupVersion::V1 => std::fs::read_dir(&self.root)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.path().join(rel))
                        .filter(|p| p.exists())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Removes this cgroup's own directories (not its children) where
    /// nothing is in them: the kernel refuses (EBUSY) while a process or a
    /// child cgroup is, and that one stays.
    pub fn remove_if_empty(&self) {
        for dir in self.dirs() {
            match std::fs::remove_dir(&dir) {
                Ok(()) => tracing::debug!(dir = %dir.display(), "removed cgroup"),
                // v1: cpu and cpuacct may be links to one hierarchy.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ResourceBusy | std::io::ErrorKind::DirectoryNotEmpty
                    ) =>
                {
                    tracing::debug!(dir = %dir.display(), "cgroup in use; kept")
                }
                Err(e) => tracing::warn!(dir = %dir.display(), error = %e, "removing cgroup"),
            }
        }
    }

    /// Removes the cgroup directories the runtime did not (a container
    /// whose creation failed midway). Only empty cgroups can go, so this
    /// runs after every process is dead.
    pub fn remove(&self) {
        for dir in self.dirs() {
            remove_tree(&dir);
        }
    }
}

/// Children first: rmdir of a cgroup with sub-cgroups fails.
fn remove_tree(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_tree(&e.path());
            }
        }
    }
    if let Err(e) = std::fs::remove_dir(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(dir = %dir.display(), error = %e, "removing cgroup");
        }
    }
}

/// `key value` lines (memory.stat, memory.events, cpu.stat, oom_control).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(key)).then(|| it.next()?.parse().ok())?
    })
}

/// Whether the kernel accounts swap per cgroup, so a memory limit can also
/// bound memory+swap.
pub fn swap_accounting(version: CgroupVersion) -> bool {
    swap_accounting_at(Path::new(ROOT), version)
}

pub fn swap_accounting_at(root: &Path, version: CgroupVersion) -> bool {
    match version {
        CgroupVersion::V1 => root.join("memory/memory.memsw.limit_in_bytes").exists(),
        // runc sets memory.swap.max from the memory+swap limit.
        CgroupVersion::V2 => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_reads_the_named_counter() {
        let s = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(keyed(s, "oom_kill"), Some(3));
        assert_eq!(keyed(s, "missing"), None);
    }

    /// A cgroup filesystem of `version`'s shape under `root` with one
    /// container cgroup `/garden-t/h` holding `files` (v1: per controller).
    fn tree(root: &Path, version: CgroupVersion, files: &[(&str, &str, &str)]) {
        match version {
            CgroupVersion::V2 => {
                std::fs::write(root.join("cgroup.controllers"), "cpu memory pids").unwrap();
                std::fs::create_dir_all(root.join("garden-t/h")).unwrap();
                for (_, name, text) in files {
                    std::fs::write(root.join("garden-t/h").join(name), text).unwrap();
                }
            }
            CgroupVersion::V1 => {
                for (controller, name, text) in files {
                    let d = root.join(controller).join("garden-t/h");
                    std::fs::create_dir_all(&d).unwrap();
                    std::fs::write(d.join(name), text).unwrap();
                }
            }
        }
    }

    #[test]
    fn limits_and_usage_read_from_a_v2_tree() {
        let t = tempfile::tempdir().unwrap();
        tree(
            t.path(),
            CgroupVersion::V2,
            &[
                ("memory", "memory.max", "134217728\n"),
                ("memory", "memory.current", "50000000\n"),
                ("memory", "memory.stat", "anon 1\ninactive_file 10000000\n"),
                (
                    "memory",
                    "memory.events",
                    "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
                ),
                ("pids", "pids.max", "1024\n"),
                ("pids", "pids.current", "7\n"),
                ("cpu", "cpu.weight", "20\n"),
                ("cpu", "cpu.stat", "usage_usec 1500\nuser_usec 1000\n"),
            ],
        );
        assert_eq!(CgroupVersion::detect_at(t.path()), CgroupVersion::V2);
        let c = Cgroup::at(t.path(), CgroupVersion::V2, "/garden-t/h".into());
        assert_eq!(
            c.in_force(),
            InForce {
                memory_bytes: Some(128 << 20),
                max_pids: Some(1024),
                cpu: Some(20),
            }
        );
        assert_eq!(c.memory_usage(), 40_000_000);
        assert_eq!(c.oom_kills(), 1);
        assert_eq!(c.cpu_usage(), Duration::from_micros(1500));
        assert_eq!(c.pids_current(), Some(7));
        assert_eq!(c.dirs(), vec![t.path().join("garden-t/h")]);
        std::fs::write(t.path().join("garden-t/h/pids.max"), "max\n").unwrap();
        assert_eq!(c.in_force().max_pids, None);

        // The parent lists its children; removal takes the tree (files in
        // a real cgroupfs go with their directory; here they are removed
        // first, as the kernel's rmdir would refuse nothing).
        let parent = Cgroup::at(t.path(), CgroupVersion::V2, "/garden-t".into());
        assert_eq!(parent.children(), vec!["h".to_string()]);
        for e in std::fs::read_dir(t.path().join("garden-t/h")).unwrap() {
            std::fs::remove_file(e.unwrap().path()).unwrap();
        }
        parent.remove();
        assert!(!t.path().join("garden-t").exists());
        assert!(parent.dirs().is_empty());
    }

    #[test]
    fn limits_and_usage_read_from_a_v1_tree() {
        let t = tempfile::tempdir().unwrap();
        tree(
            t.path(),
            CgroupVersion::V1,
            &[
                ("memory", "memory.limit_in_bytes", "134217728\n"),
                ("memory", "memory.usage_in_bytes", "50000000\n"),
                (
                    "memory",
                    "memory.stat",
                    "cache 1\ntotal_inactive_file 10000000\n",
                ),
                (
                    "memory",
                    "memory.oom_control",
                    "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
                ),
                ("pids", "pids.max", "max\n"),
                ("cpu", "cpu.shares", "512\n"),
                ("cpuacct", "cpuacct.usage", "3000000\n"),
            ],
        );
        assert_eq!(CgroupVersion::detect_at(t.path()), CgroupVersion::V1);
        let c = Cgroup::at(t.path(), CgroupVersion::V1, "/garden-t/h".into());
        assert_eq!(
            c.in_force(),
            InForce {
                memory_bytes: Some(128 << 20),
                max_pids: None,
                cpu: Some(512),
            }
        );
        assert_eq!(c.memory_usage(), 40_000_000);
        assert_eq!(c.oom_kills(), 2);
        assert_eq!(c.cpu_usage(), Duration::from_millis(3));
        assert_eq!(c.dirs().len(), 4);
        // v1's "no memory limit" is a huge number, not "max".
        std::fs::write(
            t.path().join("memory/garden-t/h/memory.limit_in_bytes"),
            "9223372036854771712\n",
        )
        .unwrap();
        assert_eq!(c.in_force().memory_bytes, None);
    }

    #[test]
    fn v1_files_are_per_controller() {
        let c = Cgroup::new(CgroupVersion::V1, "/garden-t/h".into());
        assert_eq!(
            c.file("memory", "memory.oom_control"),
            PathBuf::from("/sys/fs/cgroup/memory/garden-t/h/memory.oom_control")
        );
        let c = Cgroup::new(CgroupVersion::V2, "/garden-t/h".into());
        assert_eq!(
            c.file("memory", "memory.events"),
            PathBuf::from("/sys/fs/cgroup/garden-t/h/memory.events")
        );
    }
}
