//! Locket restarts (down 3 s, back on the same address and store) under a
//! running system. The cells carry on: their presence runners retry until
//! locket is back and register again. The BBS, whose lock refresh failed
//! meanwhile, stops serving, as Diego's does on `lost-lock` (it exits for
//! its supervisor to start it again, so that two BBSes never both serve).

mod support;

use auctioneer::sim::SimCellConfig;
use bbs_client::{ActualLrpFilter, BbsClient};
use models::rep::Resources;
use std::time::{Duration, Instant};
use support::*;

/// The presences locket holds, read from locket itself.
async fn presences(sys: &System) -> Vec<String> {
    let Ok(mut client) = locket::client::connect(&sys.locket_client_config()).await else {
        return Vec::new();
    };
    let req = locket::proto::FetchAllRequest {
        type_code: locket::proto::TypeCode::Presence as i32,
        ..Default::default()
    };
    match client
        .fetch_all(locket::client::with_request_uuid(req))
        .await
    {
        Ok(r) => {
            let mut keys: Vec<String> = r
                .into_inner()
                .resources
                .into_iter()
                .map(|r| r.key)
                .collect();
            keys.sort();
            keys
        }
        Err(_) => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cells_carry_on_through_a_locket_restart_and_the_bbs_stops() {
    let cells = ["z1", "z2"]
        .iter()
        .enumerate()
        .map(|(i, z)| SimCellConfig::new(&format!("cell-{i}"), z, Resources::new(8192, 16384, 40)))
        .collect();
    let mut sys = system(Duration::from_secs(30), cells).await;
    sys.desire_lrp(desired_lrp("web", 2, 256)).await;
    let client = sys.bbs_client().clone();
    eventually("2 RUNNING", 30, || async {
        let lrps = client
            .actual_lrps(&ActualLrpFilter::process("web"))
            .await
            .ok()?;
        (lrps
            .iter()
            .filter(|l| l.state == models::actual_lrp_state::RUNNING)
            .count()
            == 2)
            .then_some(())
    })
    .await;
    assert_eq!(presences(&sys).await, ["cell-0", "cell-1"]);

    sys.restart_locket(Duration::from_secs(3)).await;
    let t = Instant::now();
    eventually("both presences back in locket", 30, || async {
        (presences(&sys).await == ["cell-0", "cell-1"]).then_some(())
    })
    .await;
    // Still there past the presence TTL (15 s): refreshed by the cells,
    // not rows the old locket left that the new one has yet to expire.
    tokio::time::sleep(Duration::from_secs(16).saturating_sub(t.elapsed())).await;
    assert_eq!(presences(&sys).await, ["cell-0", "cell-1"]);
    eventually("the BBS stopped serving", 30, || async {
        (!client.ping().await).then_some(())
    })
    .await;
}
