//! Finding the host programs `diego dev` uses (runc, nats-server): on PATH,
//! or in the sbin directories Debian installs them to, which a non-login
//! root shell may not have on PATH.

use std::path::PathBuf;

pub fn find(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into(), "/usr/bin".into()])
        .map(|d| d.join(binary))
        .find(|p| p.is_file())
}
