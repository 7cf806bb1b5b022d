//! What a crashed backend left: kernel objects of containers the depot has
//! no record of (a create that died before its record was written, or a
//! record lost). Run at start, before the host is set up again; the
//! firewall tables are rebuilt from the records anyway.

use std::collections::HashSet;
use std::path::Path;

use super::RuncBackend;

impl RuncBackend {
    pub(super) async fn sweep(&self) {
        let known: HashSet<String> = {
            let st = self.inner.state.lock().expect("state lock");
            st.containers.keys().cloned().collect()
        };
        let net = &self.inner.net;
        let depot = &self.inner.cfg.depot;

        // Containers the runtime still knows: killed and forgotten.
        for id in dir_names(&depot.join("runtime")) {
            if !known.contains(&id) {
                tracing::info!(handle = %id, "removing a leftover container");
                let _ = self.inner.runtime.delete(&id).await;
            }
        }
        // Their network: DEL for every unknown container that has a named
        // namespace, a directory or an address lease (the plugins find what
        // they made by its id), then the namespace's name.
        let prefix = format!("{}-", self.inner.cfg.tag);
        let containers = depot.join("containers");
        let mut unknown: Vec<String> = dir_names(Path::new("/run/netns"))
            .iter()
            .filter_map(|ns| ns.strip_prefix(&prefix).map(String::from))
            .chain(dir_names(&containers))
            .chain(net.lease_holders())
            .filter(|h| !known.contains(h))
            .collect();
        unknown.sort();
        unknown.dedup();
        // portmap skips a DEL that names no mapping; given any, it removes
        // the container's chains by its id, whatever was mapped.
        let any_port = [crate::api::PortMapping {
            host_port: 1,
            container_port: 1,
        }];
        for h in &unknown {
            if let Err(e) = net.teardown_container(h, &any_port, None).await {
                tracing::warn!(handle = %h, error = %e, "releasing a leftover container's network");
            }
        }
        // Their mounts (overlay, limited layer) and loop devices, then
        // their directories. Peas of known containers go too: their
        // runtime containers went above, and no one waits for them now.
        for h in dir_names(&containers) {
            if known.contains(&h) {
                self.remove_peas(&containers.join(&h)).await;
                continue;
            }
            let dir = containers.join(&h);
            for m in mounts_under(&dir) {
                unmount(&m);
            }
            for (dev, _) in crate::quota::loops_backed_by(|f| f.starts_with(&dir)) {
                crate::quota::detach_loop(&dev);
            }
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "removing a leftover container");
            }
        }
        // Cgroups of unknown containers, with whatever still runs in them
        // (a container whose runtime state went with its depot).
        let parent = self.parent_cgroup();
        for h in parent.children() {
            if !known.contains(&h) {
                let cg = self.cgroup(&h);
                if !cg.procs().is_empty() {
                    tracing::info!(handle = %h, "killing a leftover container's processes");
                    if !cg.kill_all(std::time::Duration::from_secs(5)).await {
                        tracing::warn!(handle = %h, pids = ?cg.procs(), "leftover processes outlived SIGKILL");
                    }
                }
                cg.remove();
            }
        }
    }
}

fn dir_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Mount points at or below `dir`, deepest first.
fn mounts_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<std::path::PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| std::path::PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    points.dedup();
    points
}

fn unmount(p: &Path) {
    use std::os::unix::ffi::OsStrExt;
    if let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) {
        // SAFETY: c is a valid path.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}
