//! End to end: a real locket (SQLite), a real BBS (SQLite, with locket and
//! this auctioneer configured), the auctioneer holding its locket lock, and
//! ten simulated cells in three zones registering presences in locket and
//! claiming/starting what they are given in the BBS.

mod support;

use bbs_client::{ActualLrpFilter, BbsClient};

use auctioneer::sim::SimCellConfig;
use models::rep::Resources;
use std::collections::BTreeMap;
use std::time::Duration;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lrps_are_placed_across_zones_and_misfits_get_the_placement_error() {
    // 10 cells: 4 in z1, 3 in z2, 3 in z3; each fits 20 instances of 512 MB.
    let mut configs = Vec::new();
    let mut zone_of = BTreeMap::new();
    for i in 0..10 {
        let zone = format!("z{}", 1 + (i % 3));
        let id = format!("cell-{i}");
        let mut c = SimCellConfig::new(&id, &zone, Resources::new(10240, 20480, 40));
        c.cell_index = i;
        zone_of.insert(id, zone);
        configs.push(c);
    }
    // Convergence stays out of the way (Diego's default 30 s).
    let sys = system(Duration::from_secs(30), configs).await;
    let client = sys.bbs_client();
    let cells = &sys.sim_cells;

    sys.desire_lrp(desired_lrp("web", 100, 512)).await;
    let running = eventually("100 RUNNING instances", 60, || async {
        let lrps = client
            .actual_lrps(&ActualLrpFilter::process("web"))
            .await
            .ok()?;
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
    // Within a zone, the 1000-per-instance score spreads evenly by cell.
    let mut per_cell: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &running {
        *per_cell.entry(cell_id(l)).or_default() += 1;
    }
    for zone in ["z1", "z2", "z3"] {
        let counts: Vec<usize> = zone_of
            .iter()
            .filter(|(_, z)| z.as_str() == zone)
            .map(|(c, _)| per_cell.get(c.as_str()).copied().unwrap_or(0))
            .collect();
        let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(hi - lo <= 1, "{zone} unbalanced by cell: {per_cell:?}");
    }
    // The simulated cells hold exactly what the BBS says runs.
    let held: usize = cells.iter().map(|c| c.state().lrps.len()).sum();
    assert_eq!(held, 100);

    // Too big for every cell: the instances stay UNCLAIMED with Diego's error.
    sys.desire_lrp(desired_lrp("huge", 2, 20000)).await;
    let failed = eventually("placement errors on huge", 30, || async {
        let lrps = client
            .actual_lrps(&ActualLrpFilter::process("huge"))
            .await
            .ok()?;
        (lrps.len() == 2 && lrps.iter().all(|l| !l.placement_error.is_empty())).then_some(lrps)
    })
    .await;
    for l in failed {
        assert_eq!(l.placement_error, "insufficient resources: memory");
        assert_eq!(l.state, models::actual_lrp_state::UNCLAIMED);
    }
    assert!(sys.auctioneer().stats().placed_lrps >= 100);

    // Scale down: the BBS stops the surplus instances through the cells'
    // stop endpoint; the cells remove them from the BBS.
    sys.scale("web", 90).await;
    eventually("90 instances after scale-down", 30, || async {
        let n = client
            .actual_lrps(&ActualLrpFilter::process("web"))
            .await
            .ok()?
            .len();
        let held: usize = cells.iter().map(|c| c.state().lrps.len()).sum();
        (n == 90 && held == 90).then_some(())
    })
    .await;

    // The surplus indices (90..99) went; 0..89 stay, all running.
    let mut left: Vec<i32> = client
        .actual_lrps(&ActualLrpFilter::process("web"))
        .await
        .unwrap()
        .iter()
        .filter(|l| l.state == models::actual_lrp_state::RUNNING)
        .map(index)
        .collect();
    left.sort();
    assert_eq!(left, (0..90).collect::<Vec<_>>());

    sys.shutdown().await;
}
