//! A real BBS (SQLite in a temp dir) on 127.0.0.1:0 and the lifecycle
//! calls a rep would make.

use bbs::config::BbsConfig;
use bbs::server::{start, Overrides, RunningBbs};
use prost::Message;
use std::time::Duration;

pub struct TestBbs {
    pub running: RunningBbs,
    pub url: String,
    client: reqwest::Client,
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
        TestBbs {
            url: format!("http://{}", running.addr),
            running,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// POSTs a request; panics on a transport error or an error answer.
    pub async fn call<Req: Message, Resp: Message + Default + std::fmt::Debug>(
        &self,
        path: &str,
        req: &Req,
    ) -> Resp {
        let body = self
            .client
            .post(format!("{}{path}", self.url))
            .header("Content-Type", "application/x-protobuf")
            .body(req.encode_to_vec())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let r = Resp::decode(body.as_ref()).unwrap();
        // Field 1 of every response is the error.
        let err = models::ActualLrpLifecycleResponse::decode(body.as_ref()).unwrap();
        assert!(err.error.is_none(), "{path}: {:?}", err.error);
        r
    }

    pub async fn desire(&self, lrp: models::DesiredLrp) {
        let _: models::DesiredLrpLifecycleResponse = self
            .call(
                "/v1/desired_lrp/desire.r2",
                &models::DesireLrpRequest {
                    desired_lrp: Some(lrp),
                },
            )
            .await;
    }

    pub async fn update(&self, guid: &str, update: models::DesiredLrpUpdate) {
        let _: models::DesiredLrpLifecycleResponse = self
            .call(
                "/v1/desired_lrp/update",
                &models::UpdateDesiredLrpRequest {
                    process_guid: guid.into(),
                    update: Some(update),
                },
            )
            .await;
    }

    pub async fn remove_desired(&self, guid: &str) {
        let _: models::DesiredLrpLifecycleResponse = self
            .call(
                "/v1/desired_lrp/remove",
                &models::RemoveDesiredLrpRequest {
                    process_guid: guid.into(),
                },
            )
            .await;
    }

    /// Claims and starts instance `index` on `cell` with host port `port`
    /// (container port 8080).
    pub async fn run_instance(&self, guid: &str, index: i32, ig: &str, cell: &str, port: u32) {
        let ik = models::ActualLrpInstanceKey::new(ig, cell);
        let _: models::ActualLrpLifecycleResponse = self
            .call(
                "/v1/actual_lrps/claim",
                &models::ClaimActualLrpRequest {
                    process_guid: guid.into(),
                    index,
                    actual_lrp_instance_key: Some(ik.clone()),
                },
            )
            .await;
        let _: models::ActualLrpLifecycleResponse = self
            .call(
                "/v1/actual_lrps/start.r1",
                &models::StartActualLrpRequest {
                    actual_lrp_key: Some(key(guid, index)),
                    actual_lrp_instance_key: Some(ik),
                    actual_lrp_net_info: Some(net_info(port)),
                    ..Default::default()
                },
            )
            .await;
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
        let _: models::ActualLrpLifecycleResponse = self
            .call(
                "/v1/actual_lrps/start.r1",
                &models::StartActualLrpRequest {
                    actual_lrp_key: Some(key(guid, index)),
                    actual_lrp_instance_key: Some(models::ActualLrpInstanceKey::new(ig, cell)),
                    actual_lrp_net_info: Some(net_info(port)),
                    optional_routable: Some(
                        models::start_actual_lrp_request::OptionalRoutable::Routable(routable),
                    ),
                    ..Default::default()
                },
            )
            .await;
    }

    pub async fn crash(&self, guid: &str, index: i32, ig: &str, cell: &str) {
        let _: models::ActualLrpLifecycleResponse = self
            .call(
                "/v1/actual_lrps/crash",
                &models::CrashActualLrpRequest {
                    actual_lrp_key: Some(key(guid, index)),
                    actual_lrp_instance_key: Some(models::ActualLrpInstanceKey::new(ig, cell)),
                    error_message: "exited with status 1".into(),
                },
            )
            .await;
    }

    pub async fn remove_actual(&self, guid: &str, index: i32, ig: &str, cell: &str) {
        let _: models::ActualLrpLifecycleResponse = self
            .call(
                "/v1/actual_lrps/remove",
                &models::RemoveActualLrpRequest {
                    process_guid: guid.into(),
                    index,
                    actual_lrp_instance_key: Some(models::ActualLrpInstanceKey::new(ig, cell)),
                },
            )
            .await;
    }

    pub async fn evacuate_running(&self, guid: &str, index: i32, ig: &str, cell: &str, port: u32) {
        let _: models::EvacuationResponse = self
            .call(
                "/v1/actual_lrps/evacuate_running.r1",
                &models::EvacuateRunningActualLrpRequest {
                    actual_lrp_key: Some(key(guid, index)),
                    actual_lrp_instance_key: Some(models::ActualLrpInstanceKey::new(ig, cell)),
                    actual_lrp_net_info: Some(net_info(port)),
                    ..Default::default()
                },
            )
            .await;
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
