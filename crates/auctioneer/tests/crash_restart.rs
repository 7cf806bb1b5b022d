//! A crashing instance end to end, with Diego's restart policy
//! (`models/restart_calculator.go`, `db/sqldb/actual_lrp_db.go`
//! CrashActualLRP; `DefaultImmediateRestarts` = 3): each crash raises the
//! crash count; while the count is below 3 the instance is unclaimed and
//! auctioned at once (so the first two crashes restart immediately); the
//! third leaves it CRASHED, and convergence restarts it once
//! `since + 30 s · 2^(count − 3)` has passed — 30 s for the third crash.
//! The crash count survives the restart.

mod support;

use bbs_client::{ActualLrpFilter, BbsClient};

use auctioneer::sim::SimCellConfig;
use models::actual_lrp_state::{CRASHED, RUNNING};
use models::rep::Resources;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::*;

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

async fn crash(sys: &System, reason: &str) {
    let lrp = &sys.actual_lrps("crashy").await[0];
    let cell = sys.sim_cell(cell_id(lrp));
    cell.crash_lrp("crashy", 0, reason).await.unwrap();
}

async fn running_again(sys: &System, crash_count: i32) -> models::ActualLrp {
    eventually("restarted and running", 10, || async {
        let l = sys
            .bbs_client()
            .actual_lrps(&ActualLrpFilter::process("crashy"))
            .await
            .ok()?;
        (l.len() == 1 && l[0].state == RUNNING && l[0].crash_count == crash_count)
            .then(|| l[0].clone())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crashes_restart_twice_at_once_then_back_off_30s() {
    let cells = ["z1", "z2"]
        .iter()
        .enumerate()
        .map(|(i, z)| SimCellConfig::new(&format!("cell-{i}"), z, Resources::new(4096, 8192, 10)))
        .collect();
    let sys = system(Duration::from_millis(500), cells).await;
    sys.desire_lrp(desired_lrp("crashy", 1, 256)).await;
    let first = running_again(&sys, 0).await;

    // Crashes 1 and 2: unclaimed and auctioned at once; running again with
    // the count and reason recorded, in a new container.
    crash(&sys, "exit status 1").await;
    let second = running_again(&sys, 1).await;
    assert_eq!(second.crash_reason, "exit status 1");
    assert_ne!(instance_guid(&second), instance_guid(&first));
    crash(&sys, "exit status 2").await;
    let third = running_again(&sys, 2).await;
    assert_eq!(third.crash_reason, "exit status 2");

    // Crash 3: CRASHED, no container anywhere, and it stays so for 30 s.
    let before = now_ns();
    crash(&sys, "exit status 3").await;
    let crashed = sys.actual_lrps("crashy").await;
    assert_eq!(crashed.len(), 1);
    let crashed = &crashed[0];
    assert_eq!(crashed.state, CRASHED);
    assert_eq!(crashed.crash_count, 3);
    assert_eq!(crashed.crash_reason, "exit status 3");
    assert!(
        crashed.since >= before && crashed.since <= now_ns(),
        "since is the crash time"
    );
    assert!(crashed
        .actual_lrp_instance_key
        .as_ref()
        .is_none_or(|k| k.cell_id.is_empty()));
    assert!(sys.sim_cells.iter().all(|c| c.state().lrps.is_empty()));
    let backoff_ends = crashed.since + Duration::from_secs(30).as_nanos() as i64;

    // Restarted by convergence (every 500 ms) once the 30 s have passed,
    // not before; the crash count is kept.
    let restarted = eventually("restarted after the back-off", 40, || async {
        let l = sys
            .bbs_client()
            .actual_lrps(&ActualLrpFilter::process("crashy"))
            .await
            .ok()?;
        if l[0].state != CRASHED {
            assert!(
                now_ns() >= backoff_ends,
                "left CRASHED {} ms before the back-off ended",
                (backoff_ends - now_ns()) / 1_000_000
            );
        }
        (l[0].state == RUNNING).then(|| l[0].clone())
    })
    .await;
    assert_eq!(restarted.crash_count, 3);
    assert_eq!(restarted.crash_reason, "exit status 3");
    assert!(restarted.since >= backoff_ends);
    // Convergence runs every 500 ms and the sim starts at once.
    assert!(restarted.since < backoff_ends + Duration::from_secs(5).as_nanos() as i64);
    let held: usize = sys.sim_cells.iter().map(|c| c.state().lrps.len()).sum();
    assert_eq!(held, 1);

    sys.shutdown().await;
}
