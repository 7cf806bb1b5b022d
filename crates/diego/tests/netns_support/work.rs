//! The work the test desires: LRPs and tasks running a busybox shell
//! script in the preloaded rootfs, as the vcap user.

pub use testkit::control_plane::work::shell as run_action;

/// One instance of `script`, with the source_id tag the BBS requires.
pub fn lrp(guid: &str, script: &str) -> models::DesiredLrp {
    models::DesiredLrp {
        action: Some(run_action(script)),
        memory_mb: 32,
        disk_mb: 64,
        start_timeout_ms: 20_000,
        ..testkit::control_plane::work::desired_lrp(guid, 1)
    }
}

/// A TCP check on `port` every 100 ms.
pub fn tcp_check(port: u32) -> models::CheckDefinition {
    models::CheckDefinition {
        checks: vec![models::Check {
            tcp_check: Some(models::TcpCheck {
                port,
                connect_timeout_ms: 500,
                interval_ms: 100,
            }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A task running `script`, whose result is the file `result_file`.
pub fn task(script: &str, result_file: &str) -> models::TaskDefinition {
    models::TaskDefinition {
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(run_action(script)),
        memory_mb: 32,
        disk_mb: 64,
        log_guid: "task-log".into(),
        result_file: result_file.into(),
        ..Default::default()
    }
}
