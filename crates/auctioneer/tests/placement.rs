//! End to end: a real locket (SQLite), a real BBS (SQLite, with locket and
//! this auctioneer configured), the auctioneer holding its locket lock, and
//! ten simulated cells in three zones registering presences in locket and
//! claiming/starting what they are given in the BBS.

use auctioneer::bbs_client::{BbsClient, ClientTlsFiles};
use auctioneer::config::{AuctioneerConfig, GoDuration};
use auctioneer::sim::{SimCell, SimCellConfig};
use bbs::config::BbsConfig;
use locket::client::ClientLocketConfig;
use locket::config::LocketConfig;
use locket::server::ServerOptions;
use models::rep::Resources;
use prost::Message;
use std::collections::BTreeMap;
use std::time::Duration;

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

fn desired_lrp(guid: &str, instances: i32, memory_mb: i32) -> models::DesiredLrp {
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

async fn desire(bbs_url: &str, lrp: models::DesiredLrp) {
    let body = models::DesireLrpRequest {
        desired_lrp: Some(lrp),
    }
    .encode_to_vec();
    let resp = reqwest::Client::new()
        .post(format!("{bbs_url}/v1/desired_lrp/desire.r2"))
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let r =
        models::DesiredLrpLifecycleResponse::decode(resp.bytes().await.unwrap().as_ref()).unwrap();
    assert!(r.error.is_none(), "{:?}", r.error);
}

async fn eventually<T, F, Fut>(what: &str, secs: u64, mut f: F) -> T
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lrps_are_placed_across_zones_and_misfits_get_the_placement_error() {
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
        lock_retry_interval: bbs::config::GoDuration(Duration::from_millis(500)),
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
        lock_retry_interval: GoDuration(Duration::from_millis(500)),
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

    // 10 cells: 4 in z1, 3 in z2, 3 in z3; each fits 20 instances of 512 MB.
    let mut cells = Vec::new();
    let mut zone_of = BTreeMap::new();
    for i in 0..10 {
        let zone = format!("z{}", 1 + (i % 3));
        let id = format!("cell-{i}");
        let mut c = SimCellConfig::new(&id, &zone, Resources::new(10240, 20480, 40));
        c.cell_index = i;
        c.bbs_address = Some(bbs_url.clone());
        c.locket = Some(ClientLocketConfig::insecure(locket_addr.clone()));
        zone_of.insert(id, zone);
        let mut cell = SimCell::start(c).await.unwrap();
        cell.presence_registered().await.unwrap();
        cells.push(cell);
    }
    let client = BbsClient::new(
        &bbs_url,
        Duration::from_secs(10),
        &ClientTlsFiles::default(),
    )
    .unwrap();
    eventually("10 cells in the BBS", 10, || async {
        (client.cells().await.ok()?.len() == 10).then_some(())
    })
    .await;

    desire(&bbs_url, desired_lrp("web", 100, 512)).await;
    let running = eventually("100 RUNNING instances", 60, || async {
        let lrps = client.actual_lrps("web").await.ok()?;
        let running: Vec<_> = lrps
            .into_iter()
            .filter(|l| l.state == models::actual_lrp_state::RUNNING)
            .collect();
        (running.len() == 100).then_some(running)
    })
    .await;
    let mut per_zone: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &running {
        let cell_id = &l.actual_lrp_instance_key.as_ref().unwrap().cell_id;
        *per_zone.entry(zone_of[cell_id].as_str()).or_default() += 1;
    }
    assert_eq!(per_zone.len(), 3, "{per_zone:?}");
    let max = per_zone.values().max().unwrap();
    let min = per_zone.values().min().unwrap();
    assert!(max - min <= 1, "unbalanced zones: {per_zone:?}");
    // The simulated cells hold exactly what the BBS says runs.
    let held: usize = cells.iter().map(|c| c.state().lrps.len()).sum();
    assert_eq!(held, 100);

    // Too big for every cell: the instances stay UNCLAIMED with Diego's error.
    desire(&bbs_url, desired_lrp("huge", 2, 20000)).await;
    let failed = eventually("placement errors on huge", 30, || async {
        let lrps = client.actual_lrps("huge").await.ok()?;
        (lrps.len() == 2 && lrps.iter().all(|l| !l.placement_error.is_empty())).then_some(lrps)
    })
    .await;
    for l in failed {
        assert_eq!(l.placement_error, "insufficient resources: memory");
        assert_eq!(l.state, models::actual_lrp_state::UNCLAIMED);
    }
    assert!(auctioneer.stats().placed_lrps >= 100);

    // Scale down: the BBS stops the surplus instances through the cells'
    // stop endpoint; the cells remove them from the BBS.
    let update = models::UpdateDesiredLrpRequest {
        process_guid: "web".into(),
        update: Some(models::DesiredLrpUpdate {
            optional_instances: Some(models::desired_lrp_update::OptionalInstances::Instances(90)),
            ..Default::default()
        }),
    };
    let resp = reqwest::Client::new()
        .post(format!("{bbs_url}/v1/desired_lrp/update"))
        .header("Content-Type", "application/x-protobuf")
        .body(update.encode_to_vec())
        .send()
        .await
        .unwrap();
    let r =
        models::DesiredLrpLifecycleResponse::decode(resp.bytes().await.unwrap().as_ref()).unwrap();
    assert!(r.error.is_none(), "{:?}", r.error);
    eventually("90 instances after scale-down", 30, || async {
        let n = client.actual_lrps("web").await.ok()?.len();
        let held: usize = cells.iter().map(|c| c.state().lrps.len()).sum();
        (n == 90 && held == 90).then_some(())
    })
    .await;

    auctioneer.shutdown().await;
    for c in cells {
        c.stop().await;
    }
    bbs.shutdown().await;
    locket.shutdown().await;
}
