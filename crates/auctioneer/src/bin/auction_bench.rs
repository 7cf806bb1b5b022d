//! `auction-bench [CELLS] [INSTANCES...]`: placements per second of Diego's
//! scheduler over simulated cells (defaults: 1,000 cells in 3 zones;
//! 10,000 and 100,000 instances of 100-instance apps).
//!
//! - `in-process`: the scheduler alone on in-memory cell states;
//! - `http`: one full auction round through HTTP: every cell's `GET
//!   /state`, scheduling, and `POST /work` to in-process simulated reps
//!   (no BBS). Pass `--no-http` to skip it.
//!
//! Build with `--release` for meaningful figures.

use auctioneer::runner::Runner;
use auctioneer::scheduler::{build_zones, Cell, LrpAuction, Scheduler, SchedulerConfig};
use auctioneer::sim::{SimCell, SimCellConfig};
use bbs_client::HttpBbsClient;
use models::rep::{CellState, Lrp, PlacementConstraint, Resource, Resources, RootFsProvider};
use rep_client::RepClientFactory;
use std::sync::Arc;
use std::time::{Duration, Instant};

const APP_SIZE: usize = 100;

fn capacity(instances: usize, cells: usize) -> Resources {
    // Room for twice the average load per cell.
    let per_cell = (2 * instances / cells).max(4) as i32;
    Resources::new(per_cell * 256, per_cell * 512, per_cell)
}

fn cell_state(i: usize, cap: Resources) -> CellState {
    let mut s = CellState {
        cell_id: format!("cell-{i}"),
        cell_index: i as i32,
        zone: format!("z{}", i % 3),
        total_resources: cap,
        available_resources: cap,
        ..Default::default()
    };
    s.root_fs_providers.insert(
        "preloaded".into(),
        RootFsProvider::fixed_set(["cflinuxfs4"]),
    );
    s.root_fs_providers
        .insert("docker".into(), RootFsProvider::Arbitrary);
    s
}

fn auctions(instances: usize) -> Vec<LrpAuction> {
    (0..instances)
        .map(|n| {
            let key = models::ActualLrpKey {
                process_guid: format!("app-{}", n / APP_SIZE),
                index: (n % APP_SIZE) as i32,
                domain: "bench".into(),
            };
            LrpAuction::new(Lrp::new(
                "",
                &key,
                Resource::new(128 + 64 * (n % 3) as i32, 256, 0),
                PlacementConstraint::new("preloaded:cflinuxfs4", vec![], vec![]),
            ))
        })
        .collect()
}

fn in_process(cells: usize, instances: usize) {
    let cap = capacity(instances, cells);
    let zones = build_zones(
        (0..cells)
            .map(|i| Cell::new(&format!("cell-{i}"), "", cell_state(i, cap)))
            .collect(),
        0.0,
    );
    let batch = auctions(instances);
    let mut s = Scheduler::new(zones, SchedulerConfig::default());
    let t = Instant::now();
    let r = s.schedule_all(batch, vec![]);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "in-process  cells={cells:>6} instances={instances:>7} placed={:>7} failed={:>5} time={secs:>8.3}s  placements/s={:>10.0}",
        r.successful_lrps.len(),
        r.failed_lrps.len(),
        r.successful_lrps.len() as f64 / secs
    );
}

async fn over_http(sims: &[SimCell], instances: usize) {
    let presences: Vec<models::CellPresence> = sims
        .iter()
        .map(|c| models::CellPresence {
            cell_id: c.cell_id.clone(),
            rep_url: c.url.clone(),
            ..Default::default()
        })
        .collect();
    let bbs = HttpBbsClient::new(
        &bbs_client::ClientConfig::new("http://127.0.0.1:9")
            .with_request_timeout(Duration::from_secs(1)),
    )
    .unwrap();
    let reps = RepClientFactory::new(&rep_client::ClientConfig {
        request_timeout: Some(Duration::from_secs(30)),
        state_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    })
    .unwrap();
    let runner = Runner::new(Arc::new(bbs), reps, SchedulerConfig::default(), 1000);
    let t = Instant::now();
    let zones = runner.fetch_state_and_build_zones(&presences).await;
    let fetched = t.elapsed().as_secs_f64();
    let r = runner.auction(zones, auctions(instances), vec![]).await;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "http        cells={:>6} instances={instances:>7} placed={:>7} failed={:>5} time={secs:>8.3}s (state fetch {fetched:.3}s)  placements/s={:>10.0}",
        sims.len(),
        r.successful_lrps.len(),
        r.failed_lrps.len(),
        r.successful_lrps.len() as f64 / secs
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let no_http = args.iter().any(|a| a == "--no-http");
    let nums: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let cells = nums.first().copied().unwrap_or(1000);
    let sizes = if nums.len() > 1 {
        nums[1..].to_vec()
    } else {
        vec![10_000, 100_000]
    };
    for &n in &sizes {
        in_process(cells, n);
    }
    if no_http {
        return;
    }
    for &n in &sizes {
        let cap = capacity(n, cells);
        let mut sims = Vec::with_capacity(cells);
        for i in 0..cells {
            let mut c = SimCellConfig::new(&format!("cell-{i}"), &format!("z{}", i % 3), cap);
            c.cell_index = i as i32;
            sims.push(SimCell::start(c).await.expect("sim cell"));
        }
        over_http(&sims, n).await;
        for s in sims {
            s.stop().await;
        }
    }
}
