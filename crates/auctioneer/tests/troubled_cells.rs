//! Cells the auctioneer must work around, end to end (real locket, BBS and
//! auctioneer; simulated cells with presences in locket): one registered
//! but unreachable (its rep refuses connections), one too slow to answer
//! for its state within `cell_state_timeout` (2 s here), one evacuating.
//! Every instance lands on the one healthy cell, none on the others, and
//! the auction is not held up beyond the state timeout.

mod support;

use auctioneer::sim::SimCellConfig;
use bbs_client::{ActualLrpFilter, BbsClient};
use models::rep::Resources;
use std::time::{Duration, Instant};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unreachable_slow_and_evacuating_cells_get_no_work() {
    let cell = |id: &str, zone: &str| SimCellConfig::new(id, zone, Resources::new(8192, 16384, 40));
    let good = cell("good", "z1");
    let gone = cell("gone", "z2");
    let mut slow = cell("slow", "z3");
    slow.state_delay = Duration::from_secs(5);
    let mut leaving = cell("leaving", "z2");
    leaving.evacuating = true;
    let sys = system(Duration::from_secs(30), vec![good, gone, slow, leaving]).await;
    sys.sim_cell("gone").stop_serving();
    assert_eq!(sys.cells().await.len(), 4, "all four registered");

    let t = Instant::now();
    sys.desire_lrp(desired_lrp("web", 6, 256)).await;
    let client = sys.bbs_client();
    let running = eventually("6 RUNNING instances", 30, || async {
        let lrps = client
            .actual_lrps(&ActualLrpFilter::process("web"))
            .await
            .ok()?;
        let running: Vec<_> = lrps
            .into_iter()
            .filter(|l| l.state == models::actual_lrp_state::RUNNING)
            .collect();
        (running.len() == 6).then_some(running)
    })
    .await;
    eprintln!(
        "6 instances placed around an unreachable, a slow and an evacuating cell in {:?}",
        t.elapsed()
    );
    assert!(
        running.iter().all(|l| cell_id(l) == "good"),
        "{:?}",
        running.iter().map(cell_id).collect::<Vec<_>>()
    );
    for id in ["slow", "leaving"] {
        assert!(
            sys.sim_cell(id).state().lrps.is_empty(),
            "{id} was given work"
        );
    }
}
