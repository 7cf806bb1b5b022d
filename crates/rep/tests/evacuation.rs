//! Evacuation with two real reps (houdini): `POST /evacuate` on one cell
//! hands its running instance over to the other cell, keeping it running
//! (EVACUATING) until the replacement runs, then the evacuated cell is
//! empty and its evacuator finishes.

mod support;

use std::time::Duration;
use support::{eventually, running, sleeper_lrp, World};

fn cell_of(l: &models::ActualLrp) -> String {
    l.actual_lrp_instance_key.as_ref().unwrap().cell_id.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn evacuate_moves_instances_to_the_other_cell() {
    let world = World::start().await;
    let cfg1 = world.rep_config("cell-1", "z1");
    let cfg2 = world.rep_config("cell-2", "z1");
    let rep1 = world.start_rep(&cfg1).await;
    let rep2 = world.start_rep(&cfg2).await;
    eventually("2 cells in the BBS", 10, || async {
        let r = reqwest::Client::new()
            .post(format!("{}/v1/cells/list.r1", world.bbs_url))
            .send()
            .await
            .ok()?;
        let body = r.bytes().await.ok()?;
        let cells = <models::CellsResponse as prost::Message>::decode(body.as_ref()).ok()?;
        (cells.cells.len() == 2).then_some(())
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
    let all = world.bbs.actual_lrps_by_process("web").await.unwrap();
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
    world.stop().await;
}
