//! Starting and stopping the components of `diego dev`.

use super::{DataDir, DevAddresses};
use anyhow::Context;
use std::net::SocketAddr;
use std::time::Duration;

/// How long a component may take to start (the bbs and the auctioneer wait
/// for their locks, which a fresh locket grants at once).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The system running in this process.
pub struct DevSystem {
    pub locket: locket::server::RunningLocket,
    pub bbs: bbs::server::RunningBbs,
    pub auctioneer: auctioneer::server::RunningAuctioneer,
    pub file_server: file_server::Running,
    file_server_stop: tokio::sync::oneshot::Sender<()>,
}

impl DevSystem {
    pub async fn start(data: &DataDir, addrs: &DevAddresses) -> anyhow::Result<Self> {
        let locket = locket::server::start(
            &locket::config::LocketConfig {
                listen_address: addrs.locket.to_string(),
                database_driver: "sqlite".into(),
                database_connection_string: data.locket_db().display().to_string(),
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .context("starting locket")?;
        let locket_address = locket.addr.to_string();

        // The bbs must know the auctioneer's address before the auctioneer
        // (which needs the bbs) runs: reserve it first when it is port 0.
        let auctioneer_addr = reserve(addrs.auctioneer)?;

        let key = data.encryption_key()?;
        let mut bbs_cfg = bbs::config::BbsConfig {
            listen_address: addrs.bbs.to_string(),
            health_address: addrs.bbs_health.to_string(),
            database_driver: "sqlite".into(),
            database_connection_string: data.bbs_db().display().to_string(),
            active_key_label: "dev".into(),
            auctioneer_address: format!("http://{auctioneer_addr}"),
            locket_address: locket_address.clone(),
            session_name: "bbs".into(),
            ..Default::default()
        };
        bbs_cfg.encryption_keys.insert("dev".into(), key);
        let bbs = timed(
            "bbs",
            bbs::server::start(&bbs_cfg, bbs::server::Overrides::default()),
        )
        .await?;
        let bbs_url = format!("http://{}", bbs.addr);

        let auctioneer = timed(
            "auctioneer",
            auctioneer::server::start(&auctioneer::AuctioneerConfig {
                listen_address: auctioneer_addr.to_string(),
                bbs_address: bbs_url,
                locket_address,
                ..Default::default()
            }),
        )
        .await?;

        let (file_server_stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let file_server = file_server::start(
            &file_server::FileServerConfig {
                server_address: addrs.file_server.to_string(),
                static_directory: data.static_dir().display().to_string(),
                ..Default::default()
            },
            async move {
                let _ = stopped.await;
            },
        )
        .await
        .context("starting the file server")?;

        Ok(Self {
            locket,
            bbs,
            auctioneer,
            file_server,
            file_server_stop,
        })
    }

    /// One line per component: what it is and where it listens.
    pub fn listening(&self) -> Vec<(&'static str, String)> {
        vec![
            ("locket", self.locket.addr.to_string()),
            ("bbs", format!("http://{}", self.bbs.addr)),
            (
                "bbs /metrics",
                format!("http://{}/metrics", self.bbs.health_addr),
            ),
            ("auctioneer", format!("http://{}", self.auctioneer.addr)),
            (
                "file-server",
                format!(
                    "http://{}{}/",
                    self.file_server.addr,
                    file_server::STATIC_ROUTE
                ),
            ),
        ]
    }

    /// Stops the components in reverse order of their start.
    pub async fn shutdown(self) {
        let _ = self.file_server_stop.send(());
        let _ = self.file_server.task.await;
        self.auctioneer.shutdown().await;
        self.bbs.shutdown().await;
        self.locket.shutdown().await;
    }
}

/// `addr` itself, or a free loopback port when it is port 0.
fn reserve(addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    if addr.port() != 0 {
        return Ok(addr);
    }
    let l = std::net::TcpListener::bind(addr)?;
    Ok(l.local_addr()?)
}

async fn timed<T>(
    what: &str,
    f: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::time::timeout(START_TIMEOUT, f)
        .await
        .map_err(|_| anyhow::anyhow!("{what} did not start within {START_TIMEOUT:?}"))?
        .with_context(|| format!("starting {what}"))
}
