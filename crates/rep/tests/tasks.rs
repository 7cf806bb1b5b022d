//! Tasks on a real rep (houdini backend) with a real BBS, locket and
//! auctioneer: completion with the result file, failure with the exit
//! status, cancellation through the BBS, and the bulk sync failing a task
//! whose container is gone.

mod support;

use bbs_client::{BbsClient, InternalBbsClient};

use support::{eventually, run_action, start_world, World};

fn task(script: &str) -> models::TaskDefinition {
    models::TaskDefinition {
        root_fs: "preloaded:cflinuxfs4".into(),
        action: Some(run_action(script)),
        memory_mb: 64,
        disk_mb: 64,
        log_guid: "task-log".into(),
        result_file: "/result.txt".into(),
        ..Default::default()
    }
}

async fn completed(world: &World, guid: &str) -> models::Task {
    eventually(&format!("task {guid} completed"), 30, || async {
        let t = world.bbs_client().task_by_guid(guid).await.ok().flatten()?;
        (t.state == models::task::State::Completed as i32).then_some(t)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_complete_fail_cancel_and_lose_their_container() {
    let world = start_world().await;
    let cfg = world.rep_config("cell-1", "z1");
    let rep = world.start_rep(&cfg).await;

    world
        .desire_task("ok", task("printf 42 > result.txt"))
        .await;
    let t = completed(&world, "ok").await;
    assert!(!t.failed, "{}", t.failure_reason);
    assert_eq!(t.result, "42");

    world.desire_task("bad", task("exit 3")).await;
    let t = completed(&world, "bad").await;
    assert!(t.failed);
    assert!(t.failure_reason.contains('3'), "{}", t.failure_reason);
    assert_eq!(t.result, "");

    // Completed tasks' containers are deleted.
    eventually("containers deleted", 10, || async {
        rep.executor()
            .list_containers()
            .await
            .ok()?
            .is_empty()
            .then_some(())
    })
    .await;

    // Cancelled through the BBS: the BBS tells the rep, which deletes
    // the container.
    world.desire_task("long", task("sleep 30")).await;
    eventually("long running", 20, || async {
        let t = world
            .bbs_client()
            .task_by_guid("long")
            .await
            .ok()
            .flatten()?;
        let c = rep.executor().get_container("long").await.ok()?;
        (t.state == models::task::State::Running as i32 && c.state == executor::State::Running)
            .then_some(())
    })
    .await;
    world.bbs_client().cancel_task("long").await.unwrap();
    eventually("cancelled task's container deleted", 20, || async {
        rep.executor()
            .get_container("long")
            .await
            .is_err()
            .then_some(())
    })
    .await;
    let t = completed(&world, "long").await;
    assert!(t.failed);

    // A task running on this cell as far as the BBS knows, without a
    // container: the bulk sync fails it.
    let mut lost = task("true");
    lost.placement_tags = vec!["nowhere".into()];
    world.desire_task("lost", lost).await;
    eventually("lost rejected by the auction", 20, || async {
        let t = world
            .bbs_client()
            .task_by_guid("lost")
            .await
            .ok()
            .flatten()?;
        (t.rejection_count >= 1).then_some(())
    })
    .await;
    assert!(world
        .bbs_client()
        .start_task("lost", "cell-1")
        .await
        .unwrap());
    rep.sync_now().await;
    let t = completed(&world, "lost").await;
    assert!(t.failed);
    assert_eq!(
        t.failure_reason,
        rep::task_processor::REASON_MISSING_CONTAINER
    );

    rep.shutdown().await;
    world.shutdown().await;
}
