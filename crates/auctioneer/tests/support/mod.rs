//! A whole scheduling system for the end-to-end tests: testkit's control
//! plane with the auctioneer and simulated cells (registering presences in
//! locket, claiming and starting what they are given in the BBS).
#![allow(dead_code)]

use auctioneer::sim::SimCellConfig;
use std::time::Duration;
pub use testkit::control_plane::ControlPlane as System;
pub use testkit::eventually;

/// Locket, the BBS (converging every `converge`), the auctioneer and one
/// simulated cell per config, every cell registered in the BBS.
pub async fn system(converge: Duration, cells: Vec<SimCellConfig>) -> System {
    System::builder()
        .auctioneer(true)
        .converge_every(converge)
        .sim_cells(cells)
        .start()
        .await
}

/// `instances` of an app needing `memory_mb` (128 MB of disk).
pub fn desired_lrp(guid: &str, instances: i32, memory_mb: i32) -> models::DesiredLrp {
    models::DesiredLrp {
        memory_mb,
        disk_mb: 128,
        ..testkit::control_plane::work::desired_lrp(guid, instances)
    }
}

pub fn cell_id(l: &models::ActualLrp) -> &str {
    l.actual_lrp_instance_key
        .as_ref()
        .map(|k| k.cell_id.as_str())
        .unwrap_or("")
}

pub fn instance_guid(l: &models::ActualLrp) -> &str {
    l.actual_lrp_instance_key
        .as_ref()
        .map(|k| k.instance_guid.as_str())
        .unwrap_or("")
}

pub fn index(l: &models::ActualLrp) -> i32 {
    l.actual_lrp_key.as_ref().map(|k| k.index).unwrap_or(-1)
}
