//! The one cell of `diego dev`: a rep with real runc containers when this
//! process can make them (root, runc installed), otherwise houdini (host
//! processes, no isolation), and the `busybox` rootfs built from the host's
//! static busybox on first run.

use super::DataDir;
use std::net::SocketAddr;
use std::path::Path;

/// The preloaded rootfs apps name as `preloaded:busybox`.
pub const STACK: &str = "busybox";
pub const CELL_ID: &str = "dev-cell-0";
/// Above this many MB of image layers, unused ones are removed.
pub const DEV_IMAGE_STORE_MB: i64 = 4096;

/// "runc" when containers can run here, else "houdini", and why.
pub fn container_backend() -> (&'static str, String) {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let runc = super::binaries::find("runc").is_some();
    match (root, runc) {
        (true, true) => ("runc", "runc containers".into()),
        (false, _) => (
            "houdini",
            "not root: apps run as host processes (houdini, no isolation)".into(),
        ),
        (true, false) => (
            "houdini",
            "runc not installed: apps run as host processes (houdini, no isolation)".into(),
        ),
    }
}

/// The busybox rootfs directory, built once.
pub fn busybox_rootfs(data: &DataDir) -> anyhow::Result<std::path::PathBuf> {
    let dir = data.root().join("rootfs").join(STACK);
    if !dir.join("bin").join("sh").exists() {
        anyhow::ensure!(
            Path::new("/usr/bin/busybox").is_file() || Path::new("/bin/busybox").is_file(),
            "no static busybox on this machine: install Debian's busybox-static"
        );
        std::fs::create_dir_all(&dir)?;
        garden::rootfs::build_busybox_rootfs(&dir)?;
    }
    Ok(dir)
}

/// The rep's config; `rootfs` are the preloaded stacks (name, directory).
pub fn rep_config(
    data: &DataDir,
    listen: SocketAddr,
    bbs_url: &str,
    locket_address: &str,
    backend: &str,
    rootfs: &[(String, std::path::PathBuf)],
    logs_ingress: Option<SocketAddr>,
) -> rep::RepConfig {
    let loggregator = match logs_ingress {
        Some(a) => rep::config::LoggregatorConfig {
            loggregator_use_v2_api: true,
            loggregator_api_port: a.port(),
            loggregator_api_host: a.ip().to_string(),
            ..Default::default()
        },
        None => Default::default(),
    };
    rep::RepConfig {
        loggregator,
        cell_id: CELL_ID.into(),
        zone: "z1".into(),
        listen_addr: listen.to_string(),
        bbs_address: bbs_url.into(),
        locket_address: locket_address.into(),
        preloaded_root_fs: rootfs
            .iter()
            .map(|(name, path)| rep::config::RootFs {
                name: name.clone(),
                path: path.display().to_string(),
            })
            .collect(),
        // Images need the runc backend (houdini runs host processes).
        supported_providers: if backend == "runc" {
            vec!["docker".into()]
        } else {
            vec![]
        },
        // A registry on this machine (docker-registry on loopback) just
        // works, as Docker allows plain HTTP to 127.0.0.0/8.
        insecure_docker_registry_list: image::LOOPBACK.iter().map(|s| s.to_string()).collect(),
        graph_cleanup_threshold_in_mb: DEV_IMAGE_STORE_MB,
        evacuation_timeout: auctioneer::config::GoDuration(std::time::Duration::from_secs(10)),
        // An evacuated container goes at the next poll: 1 s, not 10.
        evacuation_polling_interval: auctioneer::config::GoDuration(
            std::time::Duration::from_secs(1),
        ),
        polling_interval: auctioneer::config::GoDuration(std::time::Duration::from_secs(10)),
        container_backend: backend.into(),
        depot_dir: data.root().join("cell").display().to_string(),
        external_ip: "127.0.0.1".into(),
        ..Default::default()
    }
}
