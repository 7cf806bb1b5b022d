//! Whether this host can run the runc backend, and a guard that leaves
//! nothing behind (tests and tools that bring a backend up and down).

use crate::{Backend, RuncBackend};

/// Why the runc backend cannot run on this host, if it cannot: not root,
/// or a program it drives (runc, ip, iptables, iptables-restore, nft,
/// mkfs.ext4, the CNI plugins) or the static busybox its containers' init
/// uses is missing.
pub fn runc_unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root: runc containers need root".into());
    }
    for bin in [
        "runc",
        "ip",
        "iptables",
        "iptables-restore",
        "nft",
        "mkfs.ext4",
    ] {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {bin}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !found {
            return Some(format!("{bin} not found"));
        }
    }
    for plugin in ["bridge", "host-local", "portmap", "firewall"] {
        if !std::path::Path::new("/usr/lib/cni").join(plugin).exists() {
            return Some(format!(
                "CNI plugin /usr/lib/cni/{plugin} not found (containernetworking-plugins)"
            ));
        }
    }
    if !std::path::Path::new("/usr/bin/busybox").exists() {
        return Some("/usr/bin/busybox (busybox-static) not found".into());
    }
    None
}

/// Destroys every container of the backend and removes its host setup
/// (bridge, chains) when dropped, even while a failing test unwinds.
pub struct DestroyOnDrop(pub RuncBackend);

impl Drop for DestroyOnDrop {
    fn drop(&mut self) {
        let backend = self.0.clone();
        // Its own thread and runtime: drop may run inside another runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the teardown");
            rt.block_on(async {
                for h in backend
                    .containers(&Default::default())
                    .await
                    .unwrap_or_default()
                {
                    let _ = backend.destroy(&h).await;
                }
                backend.teardown_host().await;
            });
        })
        .join();
    }
}
