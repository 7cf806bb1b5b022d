//! The control plane builder itself: each store, TLS on and off, houdini
//! reps and simulated cells; work desired in the BBS runs on the cells.

use auctioneer::sim::SimCellConfig;
use bbs_client::{BbsClient, HttpBbsClient};
use models::rep::Resources;
use testkit::control_plane::{work, ControlPlane, Store};
use testkit::eventually;
use testkit::mariadb::TestMariaDb;
use testkit::postgres::TestPostgres;

/// An LRP whose instances sleep (a host process on houdini).
fn sleeper(guid: &str, instances: i32) -> models::DesiredLrp {
    models::DesiredLrp {
        action: Some(work::shell("while true; do sleep 0.2; done")),
        disk_mb: 128,
        ..work::desired_lrp(guid, instances)
    }
}

async fn running_on(cp: &ControlPlane, guid: &str, n: usize) -> Vec<String> {
    eventually(&format!("{n} instances of {guid} running"), 30, || async {
        let lrps = cp.actual_lrps(guid).await;
        let running: Vec<String> = lrps
            .iter()
            .filter(|l| l.state == models::actual_lrp_state::RUNNING)
            .map(|l| l.actual_lrp_instance_key.clone().unwrap().cell_id)
            .collect();
        (running.len() == n).then_some(running)
    })
    .await
}

/// Mutual TLS everywhere the BBS and locket are called, two houdini reps,
/// the auctioneer: an LRP's instances are placed and run.
async fn tls_plane_runs_work(store: Store) {
    let cp = ControlPlane::builder()
        .store(store)
        .tls(true)
        .auctioneer(true)
        .houdini_cells(2)
        .start()
        .await;
    assert!(cp.bbs_url().starts_with("https://"), "{}", cp.bbs_url());
    let mut cells: Vec<String> = cp.cells().await.into_iter().map(|c| c.cell_id).collect();
    cells.sort();
    assert_eq!(cells, ["cell-1", "cell-2"]);

    cp.desire_lrp(sleeper("web", 2)).await;
    let on = running_on(&cp, "web", 2).await;
    assert!(on.iter().all(|c| cells.contains(c)), "{on:?}");

    // The BBS wants a client certificate from the plane's CA.
    let anonymous = HttpBbsClient::new(
        &bbs_client::ClientConfig::new(cp.bbs_url())
            .with_tls(Some(cp.pki().unwrap().ca.client_tls(None)))
            .with_retries(1),
    )
    .unwrap();
    assert!(anonymous.domains().await.is_err());
    cp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_with_tls_runs_work_on_houdini_cells() {
    tls_plane_runs_work(Store::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_with_tls_runs_work_on_houdini_cells() {
    if TestPostgres::shared_or_skip("postgres_with_tls_runs_work_on_houdini_cells").is_none() {
        return;
    }
    tls_plane_runs_work(Store::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_with_tls_runs_work_on_houdini_cells() {
    if TestMariaDb::shared_or_skip("mysql_with_tls_runs_work_on_houdini_cells").is_none() {
        return;
    }
    tls_plane_runs_work(Store::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_with_simulated_cells_runs_work() {
    let cells = ["sim-a", "sim-b"]
        .iter()
        .map(|id| SimCellConfig::new(id, "z1", Resources::new(1024, 1024, 10)))
        .collect();
    let cp = ControlPlane::builder()
        .auctioneer(true)
        .sim_cells(cells)
        .start()
        .await;
    assert!(cp.bbs_url().starts_with("http://"));
    cp.desire_lrp(sleeper("sim-web", 3)).await;
    let on = running_on(&cp, "sim-web", 3).await;
    let held: usize = cp.sim_cells.iter().map(|c| c.state().lrps.len()).sum();
    assert_eq!(held, 3, "{on:?}");
    cp.shutdown().await;
}

#[tokio::test]
async fn a_lone_bbs_has_no_lock_and_serves() {
    let cp = ControlPlane::builder().start().await;
    assert!(!cp.bbs().holds_lock());
    assert!(cp.bbs_client().ping().await);
    assert!(cp.cells().await.is_empty());
}
