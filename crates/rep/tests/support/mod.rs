//! A small Diego for the rep's tests: a real locket and BBS (SQLite), the
//! auctioneer, and reps on the houdini backend (host processes, no root).

#![allow(dead_code)]

use auctioneer::config::{AuctioneerConfig, GoDuration};
use bbs::config::BbsConfig;
use bbs_client::{ActualLrpFilter, BbsClient, HttpBbsClient};
use locket::config::LocketConfig;
use locket::server::ServerOptions;
use rep::config::{Capacity, RepConfig, RootFs};
use rep::Rep;
use std::sync::Arc;
use std::time::Duration;

pub struct World {
    pub dir: tempfile::TempDir,
    pub locket_addr: String,
    pub bbs_url: String,
    pub bbs: HttpBbsClient,
    locket: locket::server::RunningLocket,
    bbs_server: bbs::server::RunningBbs,
    auctioneer: auctioneer::server::RunningAuctioneer,
}

impl World {
    pub async fn start() -> World {
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
        World {
            dir,
            locket_addr,
            bbs_url,
            bbs,
            locket,
            bbs_server,
            auctioneer,
        }
    }

    /// A rep config for a houdini cell.
    pub fn rep_config(&self, cell_id: &str, zone: &str) -> RepConfig {
        RepConfig {
            cell_id: cell_id.into(),
            zone: zone.into(),
            listen_addr: "127.0.0.1:0".into(),
            bbs_address: self.bbs_url.clone(),
            locket_address: self.locket_addr.clone(),
            lock_ttl: GoDuration(Duration::from_secs(5)),
            lock_retry_interval: GoDuration(Duration::from_secs(2)),
            preloaded_root_fs: vec![RootFs {
                name: "cflinuxfs4".into(),
                path: "/".into(),
            }],
            supported_providers: vec!["docker".into()],
            evacuation_polling_interval: GoDuration(Duration::from_millis(300)),
            memory_mb: Capacity::Mb(4096),
            disk_mb: Capacity::Mb(8192),
            container_backend: "houdini".into(),
            depot_dir: self.dir.path().join(cell_id).display().to_string(),
            ..Default::default()
        }
    }

    /// Starts a houdini rep and waits for its presence.
    pub async fn start_rep(&self, cfg: &RepConfig) -> Rep {
        let executor = Arc::new(rep::backend::executor_from_config(cfg).await.unwrap());
        let rep = Rep::start(cfg, executor).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), rep.presence_registered())
            .await
            .expect("presence registered")
            .unwrap();
        rep
    }

    pub async fn desire_lrp(&self, lrp: models::DesiredLrp) {
        let r = self.bbs.desire_lrp(lrp).await;
        assert!(r.is_ok(), "{r:?}");
    }

    pub async fn desire_task(&self, guid: &str, def: models::TaskDefinition) {
        let r = self.bbs.desire_task(guid, "test-domain", Some(def)).await;
        assert!(r.is_ok(), "{r:?}");
    }

    pub async fn stop(self) {
        self.auctioneer.shutdown().await;
        self.bbs_server.shutdown().await;
        self.locket.shutdown().await;
    }
}

pub fn run_action(script: &str) -> models::Action {
    models::Action {
        run_action: Some(models::RunAction {
            path: "sh".into(),
            args: vec!["-c".into(), script.into()],
            user: "vcap".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An LRP whose instances write their pid to `pid` in their container
/// directory and sleep.
pub fn sleeper_lrp(guid: &str, instances: i32) -> models::DesiredLrp {
    models::DesiredLrp {
        process_guid: guid.into(),
        domain: "test-domain".into(),
        root_fs: "preloaded:cflinuxfs4".into(),
        instances,
        action: Some(run_action("echo $$ > pid; while true; do sleep 0.2; done")),
        memory_mb: 128,
        disk_mb: 128,
        log_guid: "log-guid".into(),
        metric_tags: [
            (
                "source_id".to_string(),
                models::MetricTagValue {
                    r#static: guid.to_string(),
                    ..Default::default()
                },
            ),
            (
                "instance_index".to_string(),
                models::MetricTagValue {
                    dynamic: models::metric_tag_value::DynamicValue::Index as i32,
                    ..Default::default()
                },
            ),
        ]
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

/// The RUNNING ordinary instances of `guid`.
pub async fn running(world: &World, guid: &str) -> Vec<models::ActualLrp> {
    world
        .bbs
        .actual_lrps(&ActualLrpFilter::process(guid))
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|l| {
            l.state == models::actual_lrp_state::RUNNING
                && l.presence == models::actual_lrp::Presence::Ordinary as i32
        })
        .collect()
}
pub mod runc_cell;
