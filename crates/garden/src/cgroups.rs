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
        if Path::new(ROOT).join("cgroup.controllers").exists() {
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
}

impl Cgroup {
    pub fn new(version: CgroupVersion, path: String) -> Self {
        Cgroup { version, path }
    }

    fn file(&self, controller: &str, name: &str) -> PathBuf {
        let rel = self.path.trim_start_matches('/');
        match self.version {
            CgroupVersion::V1 => Path::new(ROOT).join(controller).join(rel).join(name),
            CgroupVersion::V2 => Path::new(ROOT).join(rel).join(name),
        }
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
            CgroupVersion::V2 => vec![Path::new(ROOT).join(rel)],
            CgroupVersion::V1 => std::fs::read_dir(ROOT)
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
    match version {
        CgroupVersion::V1 => Path::new(ROOT)
            .join("memory/memory.memsw.limit_in_bytes")
            .exists(),
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
