//! The work tests desire: a valid desired LRP and task definition (what
//! the BBS's validation asks for, as Cloud Controller sends it), which a
//! test changes with struct update syntax where it needs something else.

use models::{Action, DesiredLrp, MetricTagValue, RunAction, TaskDefinition};
use std::collections::BTreeMap;

/// Runs `path` with `args` as vcap.
pub fn run(path: &str, args: &[&str]) -> Action {
    Action {
        run_action: Some(RunAction {
            path: path.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            user: "vcap".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Runs `sh -c script` as vcap.
pub fn shell(script: &str) -> Action {
    run("sh", &["-c", script])
}

/// The `source_id` metric tag Diego requires of every LRP, naming `guid`.
pub fn source_id(guid: &str) -> BTreeMap<String, MetricTagValue> {
    let tag = MetricTagValue {
        r#static: guid.to_string(),
        ..Default::default()
    };
    [("source_id".to_string(), tag)].into()
}

/// `instances` of `/bin/app` in `test-domain` on `preloaded:cflinuxfs4`,
/// 128 MB of memory and 256 MB of disk, log guid `log-guid`.
pub fn desired_lrp(guid: &str, instances: i32) -> DesiredLrp {
    DesiredLrp {
        process_guid: guid.into(),
        domain: "test-domain".into(),
        root_fs: "preloaded:cflinuxfs4".into(),
        instances,
        action: Some(run("/bin/app", &[])),
        memory_mb: 128,
        disk_mb: 256,
        log_guid: "log-guid".into(),
        metric_tags: source_id(guid),
        ..Default::default()
    }
}

/// `/bin/task` on `preloaded:cflinuxfs4`, 64 MB of memory and of disk.
pub fn task_definition() -> TaskDefinition {
    TaskDefinition {
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(run("/bin/task", &[])),
        memory_mb: 64,
        disk_mb: 64,
        ..Default::default()
    }
}
