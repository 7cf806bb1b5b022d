//! A real API on a real BBS (testkit's control plane, on SQLite), its own
//! store on SQLite or a throwaway PostgreSQL, and a stand-in cell: the
//! BBS's internal client claiming and starting instances as a rep would.

#![allow(dead_code)]

use api::{ApiConfig, RunningApi};
use api_client::ApiClient;
use bbs::config::GoDuration;
use bbs_client::{ActualLrpFilter, BbsClient, HttpBbsClient, InternalBbsClient, RunningInfo};
use std::time::Duration;
use testkit::control_plane::ControlPlane;
#[allow(unused_imports)]
pub use testkit::eventually;
use testkit::postgres::TestPostgres;

pub const TOKEN: &str = "test-token";

#[derive(Debug, Clone, Copy)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct Env {
    pub cp: ControlPlane,
    pub api: RunningApi,
    pub client: ApiClient,
    pub internal: HttpBbsClient,
    pub dir: tempfile::TempDir,
}

/// The database URL for `db`, or None (skipped) when PostgreSQL tests are
/// switched off.
pub fn database(db: Db, dir: &std::path::Path, test: &str) -> Option<(String, String)> {
    match db {
        Db::Sqlite => Some(("sqlite".into(), dir.join("api.db").display().to_string())),
        Db::Postgres => {
            let pg = TestPostgres::shared_or_skip(test)?;
            Some(("postgres".into(), pg.fresh_database_url()))
        }
    }
}

pub async fn env(db: Db, test: &str) -> Option<Env> {
    env_with(db, test, |_| {}).await
}

/// As [`env`], with the API's config changed by `tweak`.
pub async fn env_with(db: Db, test: &str, tweak: impl FnOnce(&mut ApiConfig)) -> Option<Env> {
    let dir = tempfile::tempdir().unwrap();
    let (driver, conn) = database(db, dir.path(), test)?;
    let cp = ControlPlane::builder().start().await;
    let bbs_url = cp.bbs_url().to_string();
    let cfg = ApiConfig {
        listen_address: "127.0.0.1:0".into(),
        database_driver: driver,
        database_connection_string: conn,
        blobstore_directory: dir.path().join("blobs").display().to_string(),
        bbs_address: bbs_url.clone(),
        auth_tokens: vec![TOKEN.into()],
        sync_interval: GoDuration(Duration::from_millis(500)),
        deployment_interval: GoDuration(Duration::from_millis(100)),
        ..Default::default()
    };
    let mut cfg = cfg;
    tweak(&mut cfg);
    let api = api::start(&cfg).await.unwrap();
    let client = ApiClient::new(&format!("http://{}", api.addr), TOKEN).unwrap();
    let internal = cp.bbs_client().clone();
    Some(Env {
        cp,
        api,
        client,
        internal,
        dir,
    })
}

/// A gzipped tar holding one file.
pub fn tgz(body: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), body).unwrap();
    let out = std::process::Command::new("tar")
        .args(["-czf", "-", "-C"])
        .arg(dir.path())
        .arg(".")
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

impl Env {
    /// Pushes `name` as the CLI does: app, package, bits, build, start.
    pub async fn push(&self, name: &str, instances: i32) -> models::capi::App {
        use models::capi::*;
        let app = self
            .client
            .create_app(&CreateApp {
                name: name.into(),
                process: Some(ProcessSettings {
                    instances: Some(instances),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap();
        let droplet = self.stage(&app.guid, "v1").await;
        self.client
            .set_current_droplet(&app.guid, &droplet)
            .await
            .unwrap();
        self.client.app_action(&app.guid, "start").await.unwrap()
    }

    /// A new droplet of `app` with `body`; its guid.
    pub async fn stage(&self, app: &str, body: &str) -> String {
        use models::capi::*;
        let pkg = self
            .client
            .create_package(&CreatePackage {
                kind: BITS.into(),
                relationships: PackageRelationships {
                    app: ToOne::to(app),
                },
                data: None,
            })
            .await
            .unwrap();
        self.client.upload(&pkg.guid, tgz(body)).await.unwrap();
        let build = self.client.create_build(&pkg.guid).await.unwrap();
        build.droplet_guid.unwrap()
    }

    pub async fn web(&self, app: &str) -> Vec<models::capi::Process> {
        self.client
            .processes(app)
            .await
            .unwrap()
            .into_iter()
            .filter(|p| p.kind == "web")
            .collect()
    }

    pub async fn lrp(&self, guid: &str) -> Option<models::DesiredLrp> {
        self.internal
            .desired_lrp_by_process_guid(guid)
            .await
            .ok()
            .flatten()
    }

    /// Plays the cell: claims and starts every instance of the LRP below
    /// its instance count that does not run yet.
    pub async fn run_instances(&self, lrp_guid: &str) {
        let actual = self
            .internal
            .actual_lrps(&ActualLrpFilter::process(lrp_guid))
            .await
            .unwrap();
        for a in actual {
            if a.state == "RUNNING" {
                continue;
            }
            let key = a.actual_lrp_key.clone().unwrap();
            let ik = models::ActualLrpInstanceKey {
                instance_guid: format!("ig-{}-{}", lrp_guid, key.index),
                cell_id: "cell-1".into(),
            };
            self.internal.claim_actual_lrp(&key, &ik).await.unwrap();
            let info = RunningInfo {
                net_info: models::ActualLrpNetInfo {
                    address: "127.0.0.1".into(),
                    ports: vec![models::PortMapping {
                        container_port: 8080,
                        host_port: 60000 + key.index as u32,
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                routable: true,
                ..Default::default()
            };
            self.internal
                .start_actual_lrp(&key, &ik, &info)
                .await
                .unwrap();
        }
    }

    /// Crashes instance `index` of the LRP as its cell would report it.
    pub async fn crash(&self, lrp_guid: &str, index: i32, reason: &str) {
        let actual = self
            .internal
            .actual_lrps(&ActualLrpFilter::process(lrp_guid))
            .await
            .unwrap();
        let a = actual
            .into_iter()
            .find(|a| a.actual_lrp_key.as_ref().unwrap().index == index)
            .unwrap();
        let key = a.actual_lrp_key.clone().unwrap();
        let mut ik = a.actual_lrp_instance_key.clone().unwrap_or_default();
        if ik.cell_id.is_empty() {
            ik = models::ActualLrpInstanceKey {
                instance_guid: format!("ig-{lrp_guid}-{index}"),
                cell_id: "cell-1".into(),
            };
            self.internal.claim_actual_lrp(&key, &ik).await.unwrap();
        }
        self.internal
            .crash_actual_lrp(&key, &ik, reason)
            .await
            .unwrap();
    }
}
