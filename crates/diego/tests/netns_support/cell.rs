//! A cell: `diego rep --config FILE` in the cell's network namespace over
//! the runc backend, listening on and advertising the namespace's address.
//!
//! Started with `nsenter --net` rather than `ip netns exec`: the latter
//! also gives the process a private mount namespace with a fresh /sys, in
//! which /sys/fs/cgroup is empty (runc cannot make cgroups there) and the
//! containers' overlay mounts would be hidden from the host, which this
//! test checks for leftovers. A cell's network is what is under test; it
//! shares the host's mounts and cgroup tree as a cell VM has its own.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use super::control::ControlPlane;
use super::net::CellNet;

/// The rep's port inside its namespace (no other listener there).
pub const REP_PORT: u16 = 1800;

pub struct Cell {
    pub cell_id: String,
    pub net: CellNet,
    /// The runc backend's tag: its cgroups, netns names, bridge, chains.
    pub tag: &'static str,
    pub depot: PathBuf,
    /// The rep's URL (all routes, /evacuate included).
    pub url: String,
    log: PathBuf,
    child: Option<Child>,
}

impl Cell {
    /// Starts the rep and waits until its presence is in locket.
    pub async fn start(
        control: &ControlPlane,
        dir: &Path,
        rootfs: &Path,
        cell_id: &str,
        net: CellNet,
        tag: &'static str,
    ) -> Cell {
        let depot = dir.join(format!("{cell_id}-depot"));
        let listen = format!("{}:{REP_PORT}", net.ip);
        let cfg = serde_json::json!({
            "cell_id": cell_id,
            "zone": net.zone,
            "listen_addr": listen,
            "bbs_address": control.bbs_url(),
            "locket_address": control.locket_addr(),
            "lock_ttl": "5s",
            "lock_retry_interval": "2s",
            "preloaded_root_fs": [format!("cflinuxfs4:{}", rootfs.display())],
            "supported_providers": ["docker"],
            "evacuation_polling_interval": "300ms",
            "memory_mb": 4096,
            "disk_mb": 8192,
            "container_backend": "runc",
            "depot_dir": depot.display().to_string(),
            "external_ip": net.ip,
            "container_tag": tag,
            "log_level": "info",
        });
        let cfg_path = dir.join(format!("{cell_id}.json"));
        std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
        let log = dir.join(format!("{cell_id}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", net.netns))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_diego"))
            .arg("rep")
            .arg("--config")
            .arg(&cfg_path)
            .env_remove("DIEGO_REP_CONFIG")
            .env_remove("RUST_LOG")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawning nsenter");
        let mut cell = Cell {
            cell_id: cell_id.into(),
            net,
            tag,
            depot,
            url: format!("http://{listen}"),
            log,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if control.cells().await.iter().any(|c| c.cell_id == cell_id) {
                return cell;
            }
            if let Some(status) = cell.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("{cell_id} exited ({status}):\n{}", cell.log());
            }
            assert!(
                Instant::now() < deadline,
                "{cell_id} not registered in 30 s:\n{}",
                cell.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Where the backend keeps its containers (one directory each).
    pub fn containers_dir(&self) -> PathBuf {
        self.depot.join("runc/containers")
    }

    /// The handles of the containers the backend has on disk.
    pub fn containers_on_disk(&self) -> Vec<String> {
        std::fs::read_dir(self.containers_dir())
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits for the rep to exit by itself (after an evacuation).
    pub async fn exited(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        let child = self.child.as_mut().expect("running");
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} still running after {within:?}:\n{}",
                self.cell_id,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: the rep dies on the spot (its containers do not: they are
    /// not its children), as when a cell's VM loses its agent.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM (what BOSH sends): the rep evacuates, then exits.
    pub async fn terminate(&mut self, within: Duration) -> ExitStatus {
        let pid = self.child.as_ref().expect("running").id();
        // SAFETY: plain syscall on our own child's pid (nsenter execs the
        // rep, so the pid is the rep's).
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        self.exited(within).await
    }
}

impl Drop for Cell {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
