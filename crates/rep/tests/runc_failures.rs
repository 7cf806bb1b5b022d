//! Failures of work in real runc containers (root only), reported with
//! Diego's wording: an instance whose liveness check starts failing is
//! crashed ("Instance became unhealthy: ...") and restarted; an instance
//! over its memory limit is killed and its crash reason says "out of
//! memory"; a task's result file comes back with its completion.

mod support;

use bbs_client::{ActualLrpFilter, BbsClient};

use support::runc_cell::{self, tcp_check};
use support::{eventually, run_action, running, sleeper_lrp, start_world};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_failing_its_liveness_check_is_crashed_and_restarted() {
    testkit::skip_if!(runc_cell::skip_reason());
    let world = start_world().await;
    let cell = runc_cell::start(&world, "cell-live", "rfl", (251, 1), (19200, 19219)).await;

    // httpd in the background; the test kills it later from a second
    // process in the container, leaving the action itself running.
    let mut lrp = sleeper_lrp("flaky", 1);
    lrp.action = Some(run_action(
        "mkdir -p www && echo up > www/index.html && \
         (httpd -f -p 8080 -h www & echo $! > pid; wait) & \
         while true; do sleep 0.2; done",
    ));
    lrp.ports = vec![8080];
    lrp.start_timeout_ms = 20_000;
    lrp.check_definition = Some(tcp_check(8080));
    world.desire_lrp(lrp).await;
    let first = eventually("RUNNING once httpd answers", 30, || async {
        running(&world, "flaky").await.into_iter().next()
    })
    .await;
    let guid = first.actual_lrp_instance_key.unwrap().instance_guid;

    support::runc_cell::kill_instance_process(
        &cell.backend,
        &guid,
        "httpd killed inside the container",
    )
    .await;

    let restarted = eventually("restarted after the liveness failure", 30, || async {
        running(&world, "flaky")
            .await
            .into_iter()
            .find(|l| l.actual_lrp_instance_key.as_ref().unwrap().instance_guid != guid)
    })
    .await;
    assert_eq!(restarted.crash_count, 1, "{restarted:?}");
    let reason = &restarted.crash_reason;
    eprintln!("liveness crash reason: {reason}");
    assert!(
        reason.starts_with("Instance became unhealthy: "),
        "crash reason: {reason:?}"
    );
    assert!(
        reason.contains("failed to make TCP connection to 10.251.1.") && reason.contains(":8080"),
        "crash reason: {reason:?}"
    );

    cell.rep.shutdown().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_over_its_memory_limit_crashes_out_of_memory() {
    testkit::skip_if!(runc_cell::skip_reason());
    let world = start_world().await;
    let cell = runc_cell::start(&world, "cell-oom", "rfo", (251, 2), (19220, 19239)).await;

    // dd's 100 MB block is filled from /dev/zero: three times the limit.
    let mut lrp = sleeper_lrp("hog", 1);
    lrp.action = Some(run_action("dd if=/dev/zero of=/dev/null bs=100M count=1"));
    lrp.memory_mb = 32;
    world.desire_lrp(lrp).await;
    let crashed = eventually("crashed out of memory", 30, || async {
        let all = world
            .bbs_client()
            .actual_lrps(&ActualLrpFilter::process("hog"))
            .await
            .ok()?;
        all.into_iter().find(|l| l.crash_count >= 1)
    })
    .await;
    eprintln!("memory crash reason: {}", crashed.crash_reason);
    assert!(
        crashed.crash_reason.contains("Exited with status")
            && crashed.crash_reason.ends_with("(out of memory)"),
        "crash reason: {:?}",
        crashed.crash_reason
    );

    // Stopped while the crashed instance's replacement is being created:
    // the rep waits for that create and destroys what it made.
    cell.rep.shutdown().await;
    let depot = cell.depot.display().to_string();
    let mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&depot)))
        .map(String::from)
        .collect();
    assert_eq!(mounts, Vec::<String>::new(), "mounts left under the depot");
    let netns = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let left: Vec<String> = String::from_utf8_lossy(&netns.stdout)
        .lines()
        .filter(|l| l.starts_with("rfo-"))
        .map(String::from)
        .collect();
    assert_eq!(left, Vec::<String>::new(), "network namespaces left");
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_result_file_comes_back_with_its_completion() {
    testkit::skip_if!(runc_cell::skip_reason());
    let world = start_world().await;
    let cell = runc_cell::start(&world, "cell-task", "rft", (251, 3), (19240, 19259)).await;

    world
        .desire_task(
            "report",
            models::TaskDefinition {
                root_fs: "preloaded:cflinuxfs4".into(),
                action: Some(run_action(
                    "printf 'made in %s' \"$(hostname)\" > /home/vcap/result.txt",
                )),
                memory_mb: 64,
                disk_mb: 64,
                log_guid: "task-log".into(),
                result_file: "/home/vcap/result.txt".into(),
                ..Default::default()
            },
        )
        .await;
    let t = eventually("task completed", 30, || async {
        let t = world
            .bbs_client()
            .task_by_guid("report")
            .await
            .ok()
            .flatten()?;
        (t.state == models::task::State::Completed as i32).then_some(t)
    })
    .await;
    assert!(!t.failed, "{}", t.failure_reason);
    // The container's hostname is its handle (the task guid), so the
    // result was written inside the container.
    assert_eq!(t.result, "made in report");

    cell.rep.shutdown().await;
    world.shutdown().await;
}
