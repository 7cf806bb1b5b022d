//! A small Diego for the rep's tests: testkit's control plane (locket, the
//! BBS on SQLite, the auctioneer) and reps on the houdini backend (host
//! processes, no root) or, in `runc_cell`, on runc.

#![allow(dead_code)]

use bbs_client::{ActualLrpFilter, BbsClient};
use testkit::control_plane::work;
pub use testkit::control_plane::ControlPlane as World;
pub use testkit::eventually;

/// Locket, the BBS and the auctioneer; the test starts its reps with
/// `rep_config` and `start_rep`.
pub async fn start_world() -> World {
    World::builder().auctioneer(true).start().await
}

pub use testkit::control_plane::work::shell as run_action;

/// An LRP whose instances write their pid to `pid` in their container
/// directory and sleep.
pub fn sleeper_lrp(guid: &str, instances: i32) -> models::DesiredLrp {
    let mut metric_tags = work::source_id(guid);
    metric_tags.insert(
        "instance_index".to_string(),
        models::MetricTagValue {
            dynamic: models::metric_tag_value::DynamicValue::Index as i32,
            ..Default::default()
        },
    );
    models::DesiredLrp {
        action: Some(run_action("echo $$ > pid; while true; do sleep 0.2; done")),
        disk_mb: 128,
        metric_tags,
        ..work::desired_lrp(guid, instances)
    }
}

/// The RUNNING ordinary instances of `guid`.
pub async fn running(world: &World, guid: &str) -> Vec<models::ActualLrp> {
    world
        .bbs_client()
        .actual_lrps(&ActualLrpFilter::process(guid))
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|l| {
            l.state == models::actual_lrp_state::RUNNING
                && l.presence == models::actual_lrp::Presence::Ordinary as i32
        })
        .collect()
}
pub mod runc_cell;
