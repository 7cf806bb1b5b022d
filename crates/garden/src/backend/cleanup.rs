//! What a crashed backend left: kernel objects of containers the depot has
//! no record of (a create that died before its record was written, or a
//! record lost). Run at start, before the host is set up again; the
//! firewall tables are rebuilt from the records anyway.

use std::collections::HashSet;
use std::path::Path;

use super::RuncBackend;
use crate::cmd::run;

impl RuncBackend {
    pub(super) async fn sweep(&self) {
        let known: HashSet<String> = {
            let st = self.inner.state.lock().expect("state lock");
            st.containers.keys().cloned().collect()
        };
        let known_ips: HashSet<u32> = {
            let st = self.inner.state.lock().expect("state lock");
            st.containers.values().map(|r| r.ip_offset).collect()
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
        // Their mounts (overlay, limited layer) and loop devices, then
        // their directories.
        let containers = depot.join("containers");
        for h in dir_names(&containers) {
            if known.contains(&h) {
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
        // Network namespaces and veths of the backend's naming.
        let prefix = format!("{}-", self.inner.cfg.tag);
        for ns in dir_names(Path::new("/run/netns")) {
            let Some(h) = ns.strip_prefix(&prefix) else {
                continue;
            };
            if !known.contains(h) {
                let _ = run("ip", &["netns", "delete", &ns], None).await;
            }
        }
        let links = run("ip", &["-o", "link", "show"], None)
            .await
            .unwrap_or_default();
        for l in links.lines() {
            let name = l.split(':').nth(1).unwrap_or("").trim();
            let name = name.split('@').next().unwrap_or("");
            if let Some(ip) = net.veth_addr(name) {
                if !known_ips.contains(&net.offset_of(ip)) {
                    let _ = run("ip", &["link", "del", name], None).await;
                }
            }
        }
        // NAT rules of unknown handles.
        for h in net.handles_with_rules().await {
            if !known.contains(&h) {
                let _ = net.unmap_ports(&h, net.gateway(), &[]).await;
            }
        }
        // Cgroups of unknown containers (empty now their processes died).
        let parent = self.parent_cgroup();
        for h in parent.children() {
            if !known.contains(&h) {
                self.cgroup(&h).remove();
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
