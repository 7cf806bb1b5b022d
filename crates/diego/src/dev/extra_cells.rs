//! `diego dev --cells N`'s cells beyond the first: each a `diego rep`
//! process in a network namespace of its own ([`super::cell_net`]), with
//! its own address, zone (`z2`, `z3`, ...), container tag, container
//! subnet (10.254.4.0/22, 10.254.8.0/22, ...) and depot. The control
//! plane stays on the host's loopback: in each cell's namespace, its
//! loopback ports (the BBS, locket, the file server, the API, the log
//! ingress) are forwarded to the host's, so the cells use the same
//! addresses as the first; the BBS, the auctioneer and the router reach
//! the cells and their containers at the cells' own addresses.

use super::cell_net::{self, CellNet};
use super::DataDir;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;
use tokio::task::JoinHandle;

/// The rep's port in its namespace.
pub const REP_PORT: u16 = 1800;

pub struct ExtraCell {
    pub cell_id: String,
    pub zone: String,
    pub url: String,
    child: Child,
    forwarders: Vec<JoinHandle<()>>,
    pub log: PathBuf,
}

/// What the extra cells need from the first.
pub struct CellSpec<'a> {
    pub data: &'a DataDir,
    pub rootfs: &'a [(String, PathBuf)],
    pub bbs_url: &'a str,
    pub locket_address: &'a str,
    pub logs_ingress: SocketAddr,
    /// The host's loopback ports the cells call.
    pub forwarded: Vec<SocketAddr>,
}

/// Connections to `listener` (in a cell's namespace) go on to `to` (on the
/// host's loopback).
fn forward(listener: std::net::TcpListener, to: SocketAddr) -> anyhow::Result<JoinHandle<()>> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    Ok(tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    }))
}

fn rep_config(spec: &CellSpec, net: &CellNet, cell_id: &str, zone: &str) -> serde_json::Value {
    let rootfs: Vec<String> = spec
        .rootfs
        .iter()
        .map(|(name, path)| format!("{name}:{}", path.display()))
        .collect();
    serde_json::json!({
        "cell_id": cell_id,
        "zone": zone,
        "listen_addr": format!("{}:{REP_PORT}", net.ip),
        "bbs_address": spec.bbs_url,
        "locket_address": spec.locket_address,
        "preloaded_root_fs": rootfs,
        "supported_providers": ["docker"],
        "insecure_docker_registry_list": image::LOOPBACK,
        "graph_cleanup_threshold_in_mb": super::cell::DEV_IMAGE_STORE_MB,
        "evacuation_timeout": "10s",
        // An evacuated container goes at the next poll: 1 s, not 10.
        "evacuation_polling_interval": "1s",
        "polling_interval": "10s",
        "container_backend": "runc",
        "depot_dir": spec.data.root().join(format!("cell-{}", net.index)).display().to_string(),
        "external_ip": net.ip.to_string(),
        "container_tag": format!("dc{}", net.index),
        // Its own container subnet beside the first cell's 10.254.0.0/22.
        "container_network": format!("10.254.{}.0/22", 4 * net.index),
        "loggregator": {
            "loggregator_use_v2_api": true,
            "loggregator_api_port": spec.logs_ingress.port(),
            "loggregator_api_host": spec.logs_ingress.ip().to_string(),
        },
        "log_level": "warn",
    })
}

/// Starts `extra` cells (indices 1..=extra) and waits until they answer;
/// on failure, what was started is stopped and the network removed.
pub async fn start(spec: CellSpec<'_>, extra: usize) -> anyhow::Result<Vec<ExtraCell>> {
    let started = start_inner(spec, extra).await;
    if started.is_err() {
        cell_net::remove();
    }
    started
}

async fn start_inner(spec: CellSpec<'_>, extra: usize) -> anyhow::Result<Vec<ExtraCell>> {
    let nets = cell_net::create(extra)?;
    let mut cells = Vec::new();
    for net in nets {
        let cell_id = format!("dev-cell-{}", net.index);
        let zone = format!("z{}", net.index + 1);
        let mut forwarders = Vec::new();
        for port in &spec.forwarded {
            let l = cell_net::listen_in(&net.netns, *port)?;
            forwarders.push(forward(l, *port)?);
        }
        let cfg = rep_config(&spec, &net, &cell_id, &zone);
        let cfg_path = spec.data.root().join(format!("cell-{}.json", net.index));
        std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg)?)?;
        let log = spec.data.root().join(format!("cell-{}.log", net.index));
        let out = std::fs::File::create(&log)?;
        // nsenter (not `ip netns exec`, which also makes a private mount
        // namespace with a fresh /sys, where runc finds no cgroups): the
        // cell's network is its own, its mounts and cgroups the host's.
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", net.netns))
            .arg("--")
            .arg(std::env::current_exe()?)
            .args(["rep", "--config"])
            .arg(&cfg_path)
            .env_remove("DIEGO_REP_CONFIG")
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting {cell_id} with nsenter: {e}"))?;
        cells.push(ExtraCell {
            url: format!("http://{}:{REP_PORT}", net.ip),
            cell_id,
            zone,
            child,
            forwarders,
            log,
        });
    }
    for c in &mut cells {
        c.wait_ready().await?;
    }
    Ok(cells)
}

impl ExtraCell {
    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let client = rep_client::RepClientFactory::new(&Default::default())?.client_at(&self.url);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "{} exited ({status}):\n{}",
                    self.cell_id,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if client.ping().await.is_ok() {
                return Ok(());
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "{} did not answer {}/ping in 60 s (log: {})",
                self.cell_id,
                self.url,
                self.log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM: the rep evacuates (to the cells still up), then exits.
    pub async fn stop(mut self) {
        self.stop_inner().await;
    }

    async fn stop_inner(&mut self) {
        // SAFETY: plain syscall on our own child (nsenter execs the rep).
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                _ => {
                    tracing::warn!(cell = %self.cell_id, "did not stop in 30 s: killed");
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
            }
        }
        for f in &self.forwarders {
            f.abort();
        }
    }
}

impl Drop for ExtraCell {
    /// A cell not stopped (a failed start): killed, not left running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for f in &self.forwarders {
            f.abort();
        }
    }
}

/// Stops the cells one after the other (each hands its instances to those
/// still up), then removes their network.
pub async fn stop_all(cells: Vec<ExtraCell>) {
    for c in cells {
        c.stop().await;
    }
    cell_net::remove();
}
