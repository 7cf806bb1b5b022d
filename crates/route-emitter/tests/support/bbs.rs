//! A real BBS (testkit's control plane: the BBS alone, SQLite in a temp
//! dir) and the lifecycle calls a rep would make.

use bbs_client::{BbsClient, HttpBbsClient, InternalBbsClient, RunningInfo};
use testkit::control_plane::ControlPlane;

pub struct TestBbs {
    pub url: String,
    client: HttpBbsClient,
    _control: ControlPlane,
}

impl TestBbs {
    pub async fn start() -> TestBbs {
        Self::start_in(tempfile::tempdir().unwrap()).await
    }

    /// The database file (`bbs.db` in `dir`) and the key, for seeding.
    pub fn db_path(dir: &std::path::Path) -> String {
        dir.join("bbs.db").display().to_string()
    }

    pub const KEY_LABEL: &'static str = testkit::control_plane::KEY_LABEL;
    pub const KEY_PASSPHRASE: &'static str = testkit::control_plane::KEY_PASSPHRASE;

    /// A BBS on the database in `dir` (which may hold seeded records).
    pub async fn start_in(dir: tempfile::TempDir) -> TestBbs {
        Self::from(ControlPlane::builder().dir(dir).start().await)
    }

    fn from(control: ControlPlane) -> TestBbs {
        TestBbs {
            url: control.bbs_url().into(),
            client: HttpBbsClient::plain(control.bbs_url()).unwrap(),
            _control: control,
        }
    }

    /// A BBS holding its lock from a locket of its own, for components
    /// taking locks too.
    pub async fn with_locket() -> TestBbs {
        Self::from(ControlPlane::builder().locket(true).start().await)
    }

    pub fn locket_addr(&self) -> &str {
        self._control.locket_addr()
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
        domain: "cf-apps".into(),
        log_guid: format!("{guid}-log"),
        ports: vec![8080],
        routes: Some(routes(cf_routes)),
        ..testkit::control_plane::work::desired_lrp(guid, instances)
    }
}

pub fn routes(cf_routes: &str) -> models::ProtoRoutes {
    let mut r = models::ProtoRoutes::default();
    r.routes
        .insert("cf-router".into(), cf_routes.as_bytes().to_vec());
    r
}
