//! The control plane in the test process: locket, the BBS (SQLite) and the
//! auctioneer, all listening on the host's end of the test bridge only, so
//! the reps in the cells' namespaces reach them and nothing else does.

use auctioneer::config::{AuctioneerConfig, GoDuration};
use bbs::config::BbsConfig;
use bbs_client::{BbsClient, HttpBbsClient};
use locket::config::LocketConfig;
use std::path::Path;
use std::time::Duration;

use super::net::HOST_IP;

pub struct ControlPlane {
    pub locket_addr: String,
    pub bbs_url: String,
    pub bbs: HttpBbsClient,
    locket: locket::server::RunningLocket,
    bbs_server: bbs::server::RunningBbs,
    auctioneer: auctioneer::server::RunningAuctioneer,
}

impl ControlPlane {
    pub async fn start(dir: &Path) -> ControlPlane {
        let any_port = format!("{HOST_IP}:0");
        let locket = locket::server::start(
            &LocketConfig {
                listen_address: any_port.clone(),
                database_driver: "sqlite".into(),
                database_connection_string: dir.join("locket.db").display().to_string(),
                ..Default::default()
            },
            locket::server::ServerOptions {
                burglar_interval: Duration::from_millis(500),
            },
        )
        .await
        .expect("locket starts");
        let locket_addr = locket.addr.to_string();
        let auctioneer_addr = std::net::TcpListener::bind(&any_port)
            .unwrap()
            .local_addr()
            .unwrap();
        let mut bbs_cfg = BbsConfig {
            listen_address: any_port.clone(),
            health_address: any_port.clone(),
            database_connection_string: dir.join("bbs.db").display().to_string(),
            active_key_label: "k1".into(),
            auctioneer_address: format!("http://{auctioneer_addr}"),
            locket_address: locket_addr.clone(),
            lock_ttl: bbs::config::GoDuration(Duration::from_secs(5)),
            lock_retry_interval: bbs::config::GoDuration(Duration::from_secs(2)),
            uuid: "bbs-0".into(),
            ..Default::default()
        };
        bbs_cfg
            .encryption_keys
            .insert("k1".into(), "a test passphrase".into());
        let bbs_server = tokio::time::timeout(
            Duration::from_secs(20),
            bbs::server::start(&bbs_cfg, bbs::server::Overrides::default()),
        )
        .await
        .expect("bbs takes its lock")
        .expect("bbs starts");
        let bbs_url = format!("http://{}", bbs_server.addr);
        let auctioneer = tokio::time::timeout(
            Duration::from_secs(20),
            auctioneer::server::start(&AuctioneerConfig {
                listen_address: auctioneer_addr.to_string(),
                bbs_address: bbs_url.clone(),
                locket_address: locket_addr.clone(),
                lock_ttl: GoDuration(Duration::from_secs(5)),
                lock_retry_interval: GoDuration(Duration::from_secs(2)),
                cell_state_timeout: GoDuration(Duration::from_secs(2)),
                uuid: "auctioneer-0".into(),
                ..Default::default()
            }),
        )
        .await
        .expect("auctioneer takes its lock")
        .expect("auctioneer starts");
        let bbs = HttpBbsClient::new(
            &bbs_client::ClientConfig::new(&bbs_url).with_request_timeout(Duration::from_secs(10)),
        )
        .unwrap();
        ControlPlane {
            locket_addr,
            bbs_url,
            bbs,
            locket,
            bbs_server,
            auctioneer,
        }
    }

    pub async fn desire_lrp(&self, lrp: models::DesiredLrp) {
        let r = self.bbs.desire_lrp(lrp).await;
        assert!(r.is_ok(), "{r:?}");
    }

    pub async fn remove_lrp(&self, guid: &str) {
        let r = self.bbs.remove_desired_lrp(guid).await;
        assert!(r.is_ok(), "{r:?}");
    }

    pub async fn desire_task(&self, guid: &str, def: models::TaskDefinition) {
        let r = self.bbs.desire_task(guid, "test-domain", Some(def)).await;
        assert!(r.is_ok(), "{r:?}");
    }

    /// The cells registered in locket, as the BBS lists them.
    pub async fn cells(&self) -> Vec<models::CellPresence> {
        self.bbs.cells().await.unwrap()
    }

    pub async fn stop(self) {
        self.auctioneer.shutdown().await;
        self.bbs_server.shutdown().await;
        self.locket.shutdown().await;
    }
}
