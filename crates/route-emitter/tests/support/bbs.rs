//! A real BBS (SQLite in a temp dir) on 127.0.0.1:0 and the lifecycle
//! calls a rep would make.

use bbs::config::BbsConfig;
use bbs::server::{start, Overrides, RunningBbs};
use bbs_client::{BbsClient, HttpBbsClient, InternalBbsClient, RunningInfo};
use std::time::Duration;

pub struct TestBbs {
    pub running: RunningBbs,
    pub url: String,
    client: HttpBbsClient,
    _dir: tempfile::TempDir,
}

impl TestBbs {
    pub async fn start() -> TestBbs {
        Self::start_in(tempfile::tempdir().unwrap()).await
    }

    /// The database file (`bbs.db` in `dir`) and the key, for seeding.
    pub fn db_path(dir: &std::path::Path) -> String {
        dir.join("bbs.db").display().to_string()
    }

    pub const KEY_LABEL: &'static str = "k1";
    pub const KEY_PASSPHRASE: &'static str = "a passphrase";

    /// A BBS on the database in `dir` (which may hold seeded records).
    pub async fn start_in(dir: tempfile::TempDir) -> TestBbs {
        let mut cfg = BbsConfig {
            listen_address: "127.0.0.1:0".into(),
            health_address: "127.0.0.1:0".into(),
            database_connection_string: Self::db_path(dir.path()),
            active_key_label: Self::KEY_LABEL.into(),
            communication_timeout: bbs::config::GoDuration(Duration::from_secs(5)),
            ..Default::default()
        };
        cfg.encryption_keys
            .insert("k1".into(), "a passphrase".into());
        let running = start(&cfg, Overrides::default()).await.expect("bbs starts");
        let url = format!("http://{}", running.addr);
        TestBbs {
            client: HttpBbsClient::plain(&url).unwrap(),
            url,
            running,
            _dir: dir,
        }
    }

    // Every call below panics on a transport error or an error answer.

    pub async fn desire(&self, lrp: models::DesiredLrp) {
        self.client.desire_lrp(lrp).await.unwrap();
    }

    pub async fn update(&self, guid: &str, update: models::DesiredLrpUpdate) {
        self.client.update_desired_lrp(guid, update).await.unwrap();
    }

    pub async fn remove_desired(&self, guid: &str) {
        self.client.remove_desired_lrp(guid).await.unwrap();
    }

    /// Claims and starts instance `index` on `cell` with host port `port`
    /// (container port 8080).
    pub async fn run_instance(&self, guid: &str, index: i32, ig: &str, cell: &str, port: u32) {
        let ik = models::ActualLrpInstanceKey::new(ig, cell);
        self.client
            .claim_actual_lrp(&key(guid, index), &ik)
            .await
            .unwrap();
        self.start_routable(guid, index, ig, cell, port, true).await;
    }

    /// Starts (or re-starts) a claimed/running instance saying whether it
    /// is routable yet (its readiness check).
    pub async fn start_routable(
        &self,
        guid: &str,
        index: i32,
        ig: &str,
        cell: &str,
        port: u32,
        routable: bool,
    ) {
        let info = RunningInfo {
            net_info: net_info(port),
            routable,
            ..Default::default()
        };
        let ik = models::ActualLrpInstanceKey::new(ig, cell);
        self.client
            .start_actual_lrp(&key(guid, index), &ik, &info)
            .await
            .unwrap();
    }

    pub async fn crash(&self, guid: &str, index: i32, ig: &str, cell: &str) {
        let ik = models::ActualLrpInstanceKey::new(ig, cell);
        self.client
            .crash_actual_lrp(&key(guid, index), &ik, "exited with status 1")
            .await
            .unwrap();
    }

    pub async fn remove_actual(&self, guid: &str, index: i32, ig: &str, cell: &str) {
        let ik = models::ActualLrpInstanceKey::new(ig, cell);
        self.client
            .remove_actual_lrp(&key(guid, index), &ik)
            .await
            .unwrap();
    }

    pub async fn evacuate_running(&self, guid: &str, index: i32, ig: &str, cell: &str, port: u32) {
        let info = RunningInfo {
            net_info: net_info(port),
            routable: true,
            ..Default::default()
        };
        let ik = models::ActualLrpInstanceKey::new(ig, cell);
        let (_, r) = self
            .client
            .evacuate_running_actual_lrp(&key(guid, index), &ik, &info)
            .await;
        r.unwrap();
    }
}

pub fn key(guid: &str, index: i32) -> models::ActualLrpKey {
    models::ActualLrpKey::new(guid, index, "cf-apps")
}

/// Cell address 127.0.0.1, host port `port` for container port 8080,
/// container address 10.255.0.<port % 250>.
pub fn net_info(port: u32) -> models::ActualLrpNetInfo {
    models::ActualLrpNetInfo {
        address: "127.0.0.1".into(),
        instance_address: format!("10.255.0.{}", port % 250),
        ports: vec![models::PortMapping {
            container_port: 8080,
            host_port: port,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A desired LRP with cf-router routes (JSON as Cloud Controller writes it).
pub fn desired_lrp(guid: &str, instances: i32, cf_routes: &str) -> models::DesiredLrp {
    models::DesiredLrp {
        process_guid: guid.into(),
        domain: "cf-apps".into(),
        root_fs: "preloaded:cflinuxfs4".into(),
        instances,
        action: Some(models::Action {
            run_action: Some(models::RunAction {
                path: "/bin/app".into(),
                user: "vcap".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        memory_mb: 128,
        disk_mb: 256,
        log_guid: format!("{guid}-log"),
        ports: vec![8080],
        routes: Some(routes(cf_routes)),
        // Diego requires a source_id tag.
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

pub fn routes(cf_routes: &str) -> models::ProtoRoutes {
    let mut r = models::ProtoRoutes::default();
    r.routes
        .insert("cf-router".into(), cf_routes.as_bytes().to_vec());
    r
}
