//! What the backends of one network namespace share and must give back:
//! `ip_forward` (the bridge plugin turns it on) and the CNI plugins'
//! host-wide chains. Each backend registers its tag while its host is set
//! up; the first to register keeps the value ip_forward had, the last to
//! leave restores it and removes the plugins' idle chains. Kept in /run
//! (gone at reboot, as the kernel state it describes), one directory per
//! network namespace, under a lock; a holder is its process's pid (a
//! killed backend's registration counts for nothing).

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;

use crate::api::GardenError;

const FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

fn dir() -> PathBuf {
    let ns = std::fs::metadata("/proc/self/ns/net")
        .map(|m| m.ino())
        .unwrap_or(0);
    PathBuf::from("/run/garden-net").join(format!("netns-{ns}"))
}

/// An exclusive lock on the namespace's directory, released when dropped.
struct Locked(#[allow(dead_code)] File, PathBuf);

fn lock() -> Result<Locked, GardenError> {
    let d = dir();
    std::fs::create_dir_all(d.join("holders"))?;
    let f = File::create(d.join("lock"))?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(Locked(f, d))
}

/// Registers `tag` as holding the host set up; keeps ip_forward's value
/// first.
pub fn join(tag: &str) -> Result<(), GardenError> {
    let l = lock()?;
    let saved = l.1.join("ip_forward");
    if !saved.exists() {
        let now = std::fs::read_to_string(FORWARD).unwrap_or_else(|_| "0".into());
        std::fs::write(&saved, now.trim())?;
    }
    std::fs::write(
        l.1.join("holders").join(tag),
        std::process::id().to_string(),
    )?;
    Ok(())
}

/// Unregisters `tag`; the last one out gets `true` after ip_forward is
/// restored (the caller then removes the shared chains, still alone:
/// pass `last_out` the cleanup).
pub async fn leave<F, Fut>(tag: &str, last_out: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let l = match tokio::task::spawn_blocking(lock).await {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => return tracing::warn!(error = %e, "host state lock"),
        Err(e) => return tracing::warn!(error = %e, "host state lock"),
    };
    let _ = std::fs::remove_file(l.1.join("holders").join(tag));
    // A holder whose process died (killed, crashed) holds nothing.
    let others = std::fs::read_dir(l.1.join("holders"))
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    let pid = std::fs::read_to_string(e.path()).unwrap_or_default();
                    let alive = !pid.trim().is_empty()
                        && std::path::Path::new("/proc").join(pid.trim()).exists();
                    if !alive {
                        let _ = std::fs::remove_file(e.path());
                    }
                    alive
                })
                .count()
        })
        .unwrap_or(0);
    if others > 0 {
        return;
    }
    last_out().await;
    let saved = l.1.join("ip_forward");
    if let Ok(v) = std::fs::read_to_string(&saved) {
        if let Err(e) = std::fs::write(FORWARD, v.trim()) {
            tracing::warn!(error = %e, "restoring ip_forward");
        }
        let _ = std::fs::remove_file(saved);
    }
    drop(l);
}
