//! A cell's presence vanishes while its containers keep running, then the
//! cell comes back: Diego's SUSPECT handling end to end (convergence every
//! 500 ms).
//!
//! Diego (`db/sqldb/lrp_convergence.go`, `controllers/
//! lrp_convergence_controller.go`, `actual_lrp_lifecycle_controller.go`,
//! `db/sqldb/suspect_db.go`):
//! - an ordinary RUNNING instance on a cell without presence becomes
//!   SUSPECT (state and instance key kept) and an UNCLAIMED ordinary
//!   replacement is created and auctioned; the suspect stays while the
//!   replacement is only CLAIMED;
//! - when the replacement starts (StartActualLRP) the suspect row is
//!   removed at once; the old cell's container, when that cell comes back,
//!   is refused by StartActualLRP (ActualLRPCannotBeStarted) and its rep
//!   destroys it — the replacement is kept;
//! - when the cell comes back before the replacement runs, convergence
//!   promotes the suspect back to ordinary and deletes the replacement —
//!   the original is kept.

mod support;

use bbs_client::{ActualLrpFilter, BbsClient};

use auctioneer::sim::SimCellConfig;
use models::actual_lrp::Presence;
use models::actual_lrp_state::{CLAIMED, RUNNING, UNCLAIMED};
use models::rep::Resources;
use std::time::Duration;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_on_a_vanished_cell_turn_suspect_are_replaced_and_resolved_when_it_returns() {
    // cell-0 alone offers the "gpu" placement tag: what needs it cannot be
    // replaced while cell-0 is gone.
    let mut cells = Vec::new();
    for (i, zone) in ["z1", "z2", "z3"].iter().enumerate() {
        let mut c = SimCellConfig::new(&format!("cell-{i}"), zone, Resources::new(8192, 16384, 20));
        c.cell_index = i as i32;
        if i == 0 {
            c.optional_placement_tags = vec!["gpu".into()];
        } else {
            // Replacements take a while to start: the SUSPECT original and
            // its CLAIMED replacement are seen side by side.
            c.start_delay = Duration::from_secs(2);
        }
        cells.push(c);
    }
    let mut sys = system(Duration::from_millis(500), cells).await;

    sys.desire_lrp(desired_lrp("web", 3, 256)).await;
    let mut pinned = desired_lrp("pinned", 1, 256);
    pinned.placement_tags = vec!["gpu".into()];
    sys.desire_lrp(pinned).await;

    let web = eventually("3 web instances running, one per zone", 30, || async {
        let l = sys
            .bbs_client()
            .actual_lrps(&ActualLrpFilter::process("web"))
            .await
            .ok()?;
        (l.len() == 3 && l.iter().all(|l| l.state == RUNNING)).then_some(l)
    })
    .await;
    let mut web_cells: Vec<&str> = web.iter().map(cell_id).collect();
    web_cells.sort();
    assert_eq!(web_cells, ["cell-0", "cell-1", "cell-2"]);
    let web_on_0 = web.iter().find(|l| cell_id(l) == "cell-0").unwrap().clone();
    let pinned_before = eventually("pinned running on cell-0", 20, || async {
        let l = sys
            .bbs_client()
            .actual_lrps(&ActualLrpFilter::process("pinned"))
            .await
            .ok()?;
        (l.len() == 1 && l[0].state == RUNNING).then(|| l[0].clone())
    })
    .await;
    assert_eq!(cell_id(&pinned_before), "cell-0");

    // cell-0's presence goes; its containers stay.
    sys.sim_cell_mut("cell-0").drop_presence().await;

    // pinned: the original is SUSPECT (still RUNNING on cell-0, same
    // instance); its replacement stays UNCLAIMED: no other cell has "gpu".
    let pinned_rows = eventually("pinned suspect + unclaimed replacement", 20, || async {
        let l = sys
            .bbs_client()
            .actual_lrps(&ActualLrpFilter::process("pinned"))
            .await
            .ok()?;
        let has_error = l
            .iter()
            .any(|l| l.state == UNCLAIMED && !l.placement_error.is_empty());
        (l.len() == 2 && has_error).then_some(l)
    })
    .await;
    let suspect = pinned_rows
        .iter()
        .find(|l| l.presence == Presence::Suspect as i32)
        .expect("a suspect row");
    assert_eq!(suspect.state, RUNNING);
    assert_eq!(
        suspect.actual_lrp_instance_key,
        pinned_before.actual_lrp_instance_key
    );
    let replacement = pinned_rows
        .iter()
        .find(|l| l.presence == Presence::Ordinary as i32)
        .expect("an ordinary replacement");
    assert_eq!(replacement.state, UNCLAIMED);
    assert_eq!(
        replacement.placement_error,
        "found no compatible cell with placement tag \"gpu\""
    );

    // web: cell-0's instance turns SUSPECT (still RUNNING, same instance)
    // while its replacement is placed on another cell and claimed there.
    let web_index = index(&web_on_0);
    let side_by_side = eventually("web suspect + claimed replacement", 20, || async {
        let l = sys
            .bbs_client()
            .actual_lrps(&ActualLrpFilter::process("web"))
            .await
            .ok()?;
        let rows: Vec<_> = l.into_iter().filter(|l| index(l) == web_index).collect();
        let claimed = rows
            .iter()
            .any(|l| l.presence == Presence::Ordinary as i32 && l.state == CLAIMED);
        (rows.len() == 2 && claimed).then_some(rows)
    })
    .await;
    let suspect = side_by_side
        .iter()
        .find(|l| l.presence == Presence::Suspect as i32)
        .expect("a suspect row");
    assert_eq!(suspect.state, RUNNING);
    assert_eq!(
        suspect.actual_lrp_instance_key,
        web_on_0.actual_lrp_instance_key
    );
    let claimed = side_by_side
        .iter()
        .find(|l| l.presence == Presence::Ordinary as i32)
        .unwrap();
    assert_ne!(cell_id(claimed), "cell-0");

    // Once the replacement runs the suspect row is gone.
    let replaced = eventually("web instance replaced off cell-0", 20, || async {
        let l = sys
            .bbs_client()
            .actual_lrps(&ActualLrpFilter::process("web"))
            .await
            .ok()?;
        let rows: Vec<_> = l.into_iter().filter(|l| index(l) == web_index).collect();
        (rows.len() == 1
            && rows[0].state == RUNNING
            && rows[0].presence == Presence::Ordinary as i32
            && cell_id(&rows[0]) != "cell-0")
            .then(|| rows[0].clone())
    })
    .await;
    assert_ne!(instance_guid(&replaced), instance_guid(&web_on_0));
    // The old container still runs on cell-0.
    assert!(sys
        .sim_cell("cell-0")
        .state()
        .lrps
        .iter()
        .any(|l| l.instance_guid == instance_guid(&web_on_0)));

    // cell-0 comes back.
    sys.sim_cell_mut("cell-0").restore_presence();
    sys.sim_cell_mut("cell-0")
        .presence_registered()
        .await
        .unwrap();

    // pinned: the suspect is promoted back to ordinary (same instance, on
    // cell-0, RUNNING); the unclaimed replacement is deleted.
    let pinned_after = eventually("pinned suspect promoted", 20, || async {
        let l = sys
            .bbs_client()
            .actual_lrps(&ActualLrpFilter::process("pinned"))
            .await
            .ok()?;
        (l.len() == 1 && l[0].presence == Presence::Ordinary as i32).then(|| l[0].clone())
    })
    .await;
    assert_eq!(pinned_after.state, RUNNING);
    assert_eq!(cell_id(&pinned_after), "cell-0");
    assert_eq!(
        pinned_after.actual_lrp_instance_key,
        pinned_before.actual_lrp_instance_key
    );
    assert_eq!(pinned_after.placement_error, "");

    // web: cell-0's rep syncs; the BBS refuses its old instance (the
    // index runs elsewhere), so the rep destroys that container. pinned's
    // container is accepted (it is that index's instance).
    let destroyed = sys.sim_cell("cell-0").sync_lrps().await;
    assert_eq!(destroyed, vec![instance_guid(&web_on_0).to_string()]);
    let held: Vec<String> = sys
        .sim_cell("cell-0")
        .state()
        .lrps
        .iter()
        .map(|l| l.process_guid.clone())
        .collect();
    assert_eq!(held, ["pinned"]);

    // End state, stable over a few convergence passes: web has exactly 3
    // ordinary RUNNING rows, one per index, the replaced index on its new
    // cell; pinned one ordinary RUNNING row on cell-0.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut web = sys.actual_lrps("web").await;
    web.sort_by_key(index);
    assert_eq!(web.len(), 3);
    for (i, l) in web.iter().enumerate() {
        assert_eq!(index(l), i as i32);
        assert_eq!(l.state, RUNNING);
        assert_eq!(l.presence, Presence::Ordinary as i32);
    }
    let now = &web[web_index as usize];
    assert_eq!(instance_guid(now), instance_guid(&replaced));
    assert_eq!(cell_id(now), cell_id(&replaced));
    let pinned = sys.actual_lrps("pinned").await;
    assert_eq!(pinned.len(), 1);
    assert_eq!(
        pinned[0].actual_lrp_instance_key,
        pinned_before.actual_lrp_instance_key
    );
    assert_eq!(pinned[0].presence, Presence::Ordinary as i32);
    // Every cell holds exactly what the BBS says runs on it.
    for c in &sys.sim_cells {
        let mut held: Vec<String> = c
            .state()
            .lrps
            .iter()
            .map(|l| l.instance_guid.clone())
            .collect();
        held.sort();
        let mut want: Vec<String> = web
            .iter()
            .chain(pinned.iter())
            .filter(|l| cell_id(l) == c.cell_id)
            .map(|l| instance_guid(l).to_string())
            .collect();
        want.sort();
        assert_eq!(held, want, "{}", c.cell_id);
    }

    sys.shutdown().await;
}
