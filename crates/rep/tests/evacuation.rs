//! Evacuation with two real reps (houdini): `POST /evacuate` on one cell
//! hands its running instance over to the other cell, keeping it running
//! (EVACUATING) until the replacement runs, then the evacuated cell is
//! empty and its evacuator finishes.

mod support;

use bbs_client::{ActualLrpFilter, BbsClient};

use std::time::Duration;
use support::{eventually, running, sleeper_lrp, start_world};

fn cell_of(l: &models::ActualLrp) -> String {
    l.actual_lrp_instance_key.as_ref().unwrap().cell_id.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn evacuate_moves_instances_to_the_other_cell() {
    let world = start_world().await;
    let cfg1 = world.rep_config("cell-1", "z1");
    let cfg2 = world.rep_config("cell-2", "z1");
    let rep1 = world.start_rep(&cfg1).await;
    let rep2 = world.start_rep(&cfg2).await;
    eventually("2 cells in the BBS", 10, || async {
        let cells = world.bbs_client().cells().await.ok()?;
        (cells.len() == 2).then_some(())
    })
    .await;

    world.desire_lrp(sleeper_lrp("web", 2)).await;
    let before = eventually("2 RUNNING instances, one per cell", 30, || async {
        let r = running(&world, "web").await;
        (r.len() == 2).then_some(r)
    })
    .await;
    let mut cells: Vec<String> = before.iter().map(cell_of).collect();
    cells.sort();
    assert_eq!(cells, ["cell-1", "cell-2"], "spread across cells");

    // The drain script's call.
    let resp = reqwest::Client::new()
        .post(format!("{}/evacuate", rep1.local_url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    assert_eq!(resp.text().await.unwrap(), r#"{"ping_path":"/ping"}"#);
    let body = reqwest::get(format!("{}/state", rep1.url))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let state: models::rep::CellState = serde_json::from_slice(&body).unwrap();
    assert!(state.evacuating);

    assert!(
        tokio::time::timeout(Duration::from_secs(30), rep1.evacuated())
            .await
            .expect("evacuated in time"),
        "every container handed over"
    );
    let after = running(&world, "web").await;
    assert_eq!(after.len(), 2);
    assert!(after.iter().all(|l| cell_of(l) == "cell-2"), "{after:?}");
    assert!(
        after.iter().all(|l| l.crash_count == 0),
        "handed over, not crashed"
    );
    let all = world
        .bbs_client()
        .actual_lrps(&ActualLrpFilter::process("web"))
        .await
        .unwrap();
    assert!(
        all.iter()
            .all(|l| l.presence != models::actual_lrp::Presence::Evacuating as i32),
        "no EVACUATING instance left"
    );
    assert!(rep1.executor().list_containers().await.unwrap().is_empty());
    assert_eq!(rep2.executor().list_containers().await.unwrap().len(), 2);

    // An evacuating cell takes no new work.
    let work = models::rep::Work {
        lrps: vec![models::rep::Lrp::new(
            "",
            &models::ActualLrpKey {
                process_guid: "web".into(),
                index: 5,
                domain: "test-domain".into(),
            },
            models::rep::Resource::new(1, 1, 0),
            models::rep::PlacementConstraint::new("preloaded:cflinuxfs4", vec![], vec![]),
        )],
        ..Default::default()
    };
    let failed: models::rep::Work = serde_json::from_slice(
        &reqwest::Client::new()
            .post(format!("{}/work", rep1.url))
            .body(serde_json::to_vec(&work).unwrap())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(failed.lrps.len(), 1);

    rep1.shutdown().await;
    rep2.shutdown().await;
    world.shutdown().await;
}

/// With nowhere to go, an evacuating instance keeps running as EVACUATING
/// (its ordinary instance waits UNCLAIMED for a cell) until
/// `evacuation_timeout`; then the evacuator gives up and the rep's
/// shutdown deletes the container.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn evacuating_instances_keep_running_until_the_timeout() {
    let world = start_world().await;
    let mut cfg = world.rep_config("cell-1", "z1");
    cfg.evacuation_timeout = auctioneer::config::GoDuration(Duration::from_secs(3));
    let rep = world.start_rep(&cfg).await;
    world.desire_lrp(sleeper_lrp("lonely", 1)).await;
    let before = eventually("RUNNING", 30, || async {
        running(&world, "lonely").await.into_iter().next()
    })
    .await;
    let guid = before.actual_lrp_instance_key.unwrap().instance_guid;

    rep.evacuate();
    let all = eventually(
        "an EVACUATING instance and an UNCLAIMED one",
        10,
        || async {
            let all = world
                .bbs_client()
                .actual_lrps(&ActualLrpFilter::process("lonely"))
                .await
                .ok()?;
            let evacuating = all.iter().any(|l| {
                l.presence == models::actual_lrp::Presence::Evacuating as i32
                    && l.state == models::actual_lrp_state::RUNNING
                    && l.actual_lrp_instance_key.as_ref().unwrap().instance_guid == guid
            });
            let unclaimed = all.iter().any(|l| {
                l.presence == models::actual_lrp::Presence::Ordinary as i32
                    && l.state == models::actual_lrp_state::UNCLAIMED
            });
            (evacuating && unclaimed).then_some(all)
        },
    )
    .await;
    assert_eq!(all.len(), 2);
    // Still running here, well before the timeout.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let c = rep.executor().get_container(&guid).await.unwrap();
    assert_eq!(c.state, executor::State::Running);

    let started = std::time::Instant::now();
    assert!(!rep.evacuated().await, "timed out, not drained");
    assert!(started.elapsed() < Duration::from_secs(3));
    rep.shutdown().await;
    world.shutdown().await;
}
