//! A small Diego for the rep's tests: testkit's control plane (locket, the
//! BBS on SQLite, the auctioneer) and reps on the houdini backend (host
//! processes, no root) or, in `runc_cell`, on runc.

#![allow(dead_code)]

use bbs_client::{ActualLrpFilter, BbsClient};
pub use testkit::control_plane::ControlPlane as World;
pub use testkit::eventually;

/// Locket, the BBS and the auctioneer; the test starts its reps with
/// `rep_config` and `start_rep`.
pub async fn start_world() -> World {
    World::builder().auctioneer(true).start().await
}

pub fn run_action(script: &str) -> models::Action {
    models::Action {
        run_action: Some(models::RunAction {
            path: "sh".into(),
            args: vec!["-c".into(), script.into()],
            user: "vcap".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An LRP whose instances write their pid to `pid` in their container
/// directory and sleep.
pub fn sleeper_lrp(guid: &str, instances: i32) -> models::DesiredLrp {
    models::DesiredLrp {
        process_guid: guid.into(),
        domain: "test-domain".into(),
        root_fs: "preloaded:cflinuxfs4".into(),
        instances,
        action: Some(run_action("echo $$ > pid; while true; do sleep 0.2; done")),
        memory_mb: 128,
        disk_mb: 128,
        log_guid: "log-guid".into(),
        metric_tags: [
            (
                "source_id".to_string(),
                models::MetricTagValue {
                    r#static: guid.to_string(),
                    ..Default::default()
                },
            ),
            (
                "instance_index".to_string(),
                models::MetricTagValue {
                    dynamic: models::metric_tag_value::DynamicValue::Index as i32,
                    ..Default::default()
                },
            ),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
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
