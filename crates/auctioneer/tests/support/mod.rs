//! A whole scheduling system for the end-to-end tests: a real locket
//! (SQLite), a real BBS (SQLite, with locket and the auctioneer
//! configured, converging every `converge` interval), the auctioneer
//! holding its locket lock, and simulated cells registering presences in
//! locket and claiming/starting what they are given in the BBS.
#![allow(dead_code)]

use auctioneer::config::{AuctioneerConfig, GoDuration};
use auctioneer::server::RunningAuctioneer;
use auctioneer::sim::{SimCell, SimCellConfig};
use bbs::config::BbsConfig;
use bbs_client::{ActualLrpFilter, BbsClient, HttpBbsClient};
use locket::client::ClientLocketConfig;
use locket::config::LocketConfig;
use locket::server::{RunningLocket, ServerOptions};
use std::time::Duration;

pub struct System {
    pub locket: RunningLocket,
    pub bbs: bbs::server::RunningBbs,
    pub auctioneer: RunningAuctioneer,
    pub cells: Vec<SimCell>,
    pub client: HttpBbsClient,
    pub bbs_url: String,
    pub locket_addr: String,
    _dir: tempfile::TempDir,
}

impl System {
    /// Starts locket, the BBS (converging every `converge`), the
    /// auctioneer and one simulated cell per config (given the BBS and
    /// locket), and waits until the BBS lists every cell.
    pub async fn start(converge: Duration, cells: Vec<SimCellConfig>) -> System {
        let dir = tempfile::tempdir().unwrap();
        let locket = locket::server::start(
            &LocketConfig {
                listen_address: "127.0.0.1:0".into(),
                database_driver: "sqlite".into(),
                database_connection_string: dir.path().join("locket.db").display().to_string(),
                ..Default::default()
            },
            ServerOptions {
                burglar_interval: Duration::from_millis(500),
            },
        )
        .await
        .expect("locket starts");
        let locket_addr = locket.addr.to_string();

        // The auctioneer's port is picked first: the BBS must know it.
        let auctioneer_addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let mut bbs_cfg = BbsConfig {
            listen_address: "127.0.0.1:0".into(),
            health_address: "127.0.0.1:0".into(),
            database_connection_string: dir.path().join("bbs.db").display().to_string(),
            active_key_label: "k1".into(),
            auctioneer_address: format!("http://{auctioneer_addr}"),
            locket_address: locket_addr.clone(),
            lock_ttl: bbs::config::GoDuration(Duration::from_secs(5)),
            lock_retry_interval: bbs::config::GoDuration(Duration::from_secs(2)),
            converge_repeat_interval: bbs::config::GoDuration(converge),
            uuid: "bbs-0".into(),
            ..Default::default()
        };
        bbs_cfg
            .encryption_keys
            .insert("k1".into(), "a test passphrase".into());
        let bbs = tokio::time::timeout(
            Duration::from_secs(20),
            bbs::server::start(&bbs_cfg, bbs::server::Overrides::default()),
        )
        .await
        .expect("bbs takes its lock")
        .expect("bbs starts");
        let bbs_url = format!("http://{}", bbs.addr);

        let auctioneer_cfg = AuctioneerConfig {
            listen_address: auctioneer_addr.to_string(),
            bbs_address: bbs_url.clone(),
            locket_address: locket_addr.clone(),
            lock_ttl: GoDuration(Duration::from_secs(5)),
            lock_retry_interval: GoDuration(Duration::from_secs(2)),
            cell_state_timeout: GoDuration(Duration::from_secs(2)),
            uuid: "auctioneer-0".into(),
            ..Default::default()
        };
        let auctioneer = tokio::time::timeout(
            Duration::from_secs(20),
            auctioneer::server::start(&auctioneer_cfg),
        )
        .await
        .expect("auctioneer takes its lock")
        .expect("auctioneer starts");

        let n = cells.len();
        let mut started = Vec::new();
        for mut c in cells {
            c.bbs_address = Some(bbs_url.clone());
            c.locket = Some(ClientLocketConfig::insecure(locket_addr.clone()));
            let mut cell = SimCell::start(c).await.unwrap();
            cell.presence_registered().await.unwrap();
            started.push(cell);
        }
        let client = HttpBbsClient::new(
            &bbs_client::ClientConfig::new(&bbs_url).with_request_timeout(Duration::from_secs(10)),
        )
        .unwrap();
        eventually("every cell in the BBS", 10, || async {
            (client.cells().await.ok()?.len() == n).then_some(())
        })
        .await;
        System {
            locket,
            bbs,
            auctioneer,
            cells: started,
            client,
            bbs_url,
            locket_addr,
            _dir: dir,
        }
    }

    pub fn cell(&self, id: &str) -> &SimCell {
        self.cells.iter().find(|c| c.cell_id == id).unwrap()
    }

    pub fn cell_mut(&mut self, id: &str) -> &mut SimCell {
        self.cells.iter_mut().find(|c| c.cell_id == id).unwrap()
    }

    pub async fn desire(&self, lrp: models::DesiredLrp) {
        let r = self.client.desire_lrp(lrp).await;
        assert!(r.is_ok(), "{r:?}");
    }

    pub async fn scale(&self, process_guid: &str, instances: i32) {
        let update = models::DesiredLrpUpdate {
            optional_instances: Some(models::desired_lrp_update::OptionalInstances::Instances(
                instances,
            )),
            ..Default::default()
        };
        let r = self.client.update_desired_lrp(process_guid, update).await;
        assert!(r.is_ok(), "{r:?}");
    }

    pub async fn actual_lrps(&self, process_guid: &str) -> Vec<models::ActualLrp> {
        self.client
            .actual_lrps(&ActualLrpFilter::process(process_guid))
            .await
            .unwrap()
    }

    pub async fn shutdown(self) {
        self.auctioneer.shutdown().await;
        for c in self.cells {
            c.stop().await;
        }
        self.bbs.shutdown().await;
        self.locket.shutdown().await;
    }
}

fn run_action(path: &str) -> models::Action {
    models::Action {
        run_action: Some(models::RunAction {
            path: path.into(),
            user: "vcap".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn desired_lrp(guid: &str, instances: i32, memory_mb: i32) -> models::DesiredLrp {
    models::DesiredLrp {
        process_guid: guid.into(),
        domain: "test-domain".into(),
        root_fs: "preloaded:cflinuxfs4".into(),
        instances,
        action: Some(run_action("/bin/app")),
        memory_mb,
        disk_mb: 128,
        log_guid: "log-guid".into(),
        metric_tags: [(
            "source_id".to_string(),
            models::MetricTagValue {
                r#static: guid.to_string(),
                ..Default::default()
            },
        )]
        .into_iter()
        .collect(),
        ..Default::default()
    }
}

pub async fn eventually<T, F, Fut>(what: &str, secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("{what}: not within {secs}s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn cell_id(l: &models::ActualLrp) -> &str {
    l.actual_lrp_instance_key
        .as_ref()
        .map(|k| k.cell_id.as_str())
        .unwrap_or("")
}

pub fn instance_guid(l: &models::ActualLrp) -> &str {
    l.actual_lrp_instance_key
        .as_ref()
        .map(|k| k.instance_guid.as_str())
        .unwrap_or("")
}

pub fn index(l: &models::ActualLrp) -> i32 {
    l.actual_lrp_key.as_ref().map(|k| k.index).unwrap_or(-1)
}
