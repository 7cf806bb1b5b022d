//! Convergence of a running BBS: the loop (short interval) recreates
//! missing instances, retires extras of fresh domains only, expires
//! pending tasks and deletes expired completed ones.

mod api_support;

use api_support::*;
use bbs::config::GoDuration;
use bbs::db::{ActualLrpFilter, TaskFilter};
use bbs::server::Overrides;
use models::task::State as TaskState;
use models::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convergence_loop_repairs_lrps_and_expires_tasks() {
    let (auctioneer, rec) = fake_auctioneer().await;
    let bbs = TestBbs::start_with(
        |c| {
            c.auctioneer_address = auctioneer;
            c.converge_repeat_interval = GoDuration(Duration::from_millis(200));
            c.kick_task_duration = GoDuration(Duration::from_millis(500));
            c.expire_pending_task_duration = GoDuration(Duration::from_millis(500));
            c.expire_completed_task_duration = GoDuration(Duration::from_millis(500));
        },
        Overrides::default(),
    )
    .await;
    let store = bbs.running().app.store.clone();
    store.upsert_domain("test-domain", 0).await.unwrap();
    let resp: DesiredLrpLifecycleResponse = bbs
        .call(
            "/v1/desired_lrp/desire.r2",
            &DesireLrpRequest {
                desired_lrp: Some(desired_lrp("app", 2)),
            },
        )
        .await;
    assert!(resp.error.is_none(), "{:?}", resp.error);
    let mut old = desired_lrp("old-app", 1);
    old.domain = "old-domain".into();
    let resp: DesiredLrpLifecycleResponse = bbs
        .call(
            "/v1/desired_lrp/desire.r2",
            &DesireLrpRequest {
                desired_lrp: Some(old),
            },
        )
        .await;
    assert!(resp.error.is_none(), "{:?}", resp.error);

    let rows = |guid: &'static str| {
        let store = store.clone();
        async move {
            let mut v: Vec<i32> = store
                .actual_lrps(&ActualLrpFilter {
                    process_guid: guid.into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .iter()
                .map(|l| l.index())
                .collect();
            v.sort();
            v
        }
    };
    // Delete the instances: convergence recreates and auctions them.
    for i in 0..2 {
        store.remove_actual_lrp("app", i, None).await.unwrap();
    }
    // An extra in the fresh domain and one in a domain nobody keeps fresh.
    store
        .create_unclaimed_actual_lrp(&ActualLrpKey::new("app", 5, "test-domain"))
        .await
        .unwrap();
    store
        .create_unclaimed_actual_lrp(&ActualLrpKey::new("old-app", 3, "old-domain"))
        .await
        .unwrap();
    let lrps_before = rec.lrps.lock().unwrap().len();
    eventually(|| async { (rows("app").await == vec![0, 1]).then_some(()) }).await;
    eventually(|| async { (rec.lrps.lock().unwrap().len() > lrps_before).then_some(()) }).await;
    // A pass run on demand changes nothing more; the stale extra stays.
    let report = bbs.running().converger.run_once().await;
    assert_eq!(report.lrps.missing, 0);
    assert_eq!(rows("old-app").await, vec![0, 3]);

    // Tasks: pending past expiry fails, then the completed task is deleted.
    store
        .desire_task(&task_definition(), "t1", "test-domain")
        .await
        .unwrap();
    let failed = eventually(|| async {
        let t = store.task_by_guid("t1").await.ok()?;
        (t.state() == TaskState::Completed).then_some(t)
    })
    .await;
    assert!(failed.failed);
    assert_eq!(failed.failure_reason, "not started within time limit");
    eventually(|| async {
        store
            .tasks(&TaskFilter::default())
            .await
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await;
    let metrics = reqwest::get(format!("http://{}/metrics", bbs.running().health_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("bbs_convergence_runs_total"));
    assert!(metrics.contains("bbs_lrps{state=\"desired\"}"));
    bbs.shutdown().await;
}
