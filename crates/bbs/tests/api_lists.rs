//! Lists longer than one page or one piece of the streamed answer (see
//! `handlers::stream`): every record once, in order, and the bytes are
//! exactly prost's encoding of the whole response message (what Diego's
//! client decodes), for every filter and version.

mod api_support;

use api_support::*;
use bbs::config::BbsConfig;
use bbs::server::Overrides;
use bbs_client::BbsClient;
use futures::StreamExt;
use models::*;
use prost::Message;
use testkit::control_plane::work;

/// More than one page of desired LRPs (200) and of tasks (500).
const LRPS: usize = 450;
const TASKS: usize = 1100;

async fn raw<Resp: Message + Default>(bbs: &TestBbs, path: &str, req: &impl Message) -> Resp {
    let (status, bytes) = bbs.post_raw(path, req.encode_to_vec()).await;
    assert!(status.is_success(), "{path}: {status}");
    let resp = Resp::decode(bytes.as_ref()).unwrap_or_else(|e| panic!("{path}: {e}"));
    // Same bytes as the whole message encoded at once.
    assert_eq!(
        resp.encode_to_vec(),
        bytes.as_ref(),
        "{path}: not prost's encoding"
    );
    resp
}

fn lrp_guid(i: usize) -> String {
    format!("list-lrp-{i:05}")
}

async fn seed(bbs: &TestBbs) {
    futures::stream::iter(0..LRPS)
        .for_each_concurrent(16, |i| async move {
            let mut lrp = work::desired_lrp(&lrp_guid(i), 1);
            lrp.domain = if i % 3 == 0 { "three" } else { "other" }.into();
            bbs.api.desire_lrp(lrp).await.unwrap();
        })
        .await;
    futures::stream::iter(0..TASKS)
        .for_each_concurrent(16, |i| async move {
            let domain = if i % 2 == 0 { "even" } else { "odd" };
            bbs.api
                .desire_task(
                    &format!("list-task-{i:05}"),
                    domain,
                    Some(work::task_definition()),
                )
                .await
                .unwrap();
        })
        .await;
}

async fn check_lists(bbs: &TestBbs) {
    let all: Vec<String> = (0..LRPS).map(lrp_guid).collect();
    let threes: Vec<String> = (0..LRPS).filter(|i| i % 3 == 0).map(lrp_guid).collect();
    for path in ["/v1/desired_lrps/list.r3", "/v1/desired_lrps/list.r2"] {
        let r: DesiredLrPsResponse = raw(bbs, path, &DesiredLrPsRequest::default()).await;
        let guids: Vec<String> = r
            .desired_lrps
            .iter()
            .map(|d| d.process_guid.clone())
            .collect();
        assert_eq!(guids, all, "{path}: every desired LRP once, in order");
        let r: DesiredLrPsResponse = raw(
            bbs,
            path,
            &DesiredLrPsRequest {
                domain: "three".into(),
                ..Default::default()
            },
        )
        .await;
        let guids: Vec<String> = r
            .desired_lrps
            .iter()
            .map(|d| d.process_guid.clone())
            .collect();
        assert_eq!(guids, threes, "{path}: domain filter");
        // Guids filter over several pages, unsorted, with duplicates and
        // unknown guids.
        let mut wanted: Vec<String> = (0..LRPS).rev().step_by(2).map(lrp_guid).collect();
        wanted.push(lrp_guid(3));
        wanted.push("no-such-lrp".into());
        let r: DesiredLrPsResponse = raw(
            bbs,
            path,
            &DesiredLrPsRequest {
                process_guids: wanted.clone(),
                ..Default::default()
            },
        )
        .await;
        let guids: Vec<String> = r
            .desired_lrps
            .iter()
            .map(|d| d.process_guid.clone())
            .collect();
        let mut expected: Vec<String> = wanted
            .into_iter()
            .filter(|g| g.starts_with("list-lrp"))
            .collect();
        expected.sort();
        expected.dedup();
        assert_eq!(guids, expected, "{path}: process guid filter");
    }
    let r: DesiredLrpSchedulingInfosResponse = raw(
        bbs,
        "/v1/desired_lrp_scheduling_infos/list",
        &DesiredLrPsRequest::default(),
    )
    .await;
    assert_eq!(r.desired_lrp_scheduling_infos.len(), LRPS);
    let r: DesiredLrPsResponse = raw(
        bbs,
        "/v1/desired_lrp_routing_infos/list",
        &DesiredLrPsRequest::default(),
    )
    .await;
    assert_eq!(r.desired_lrps.len(), LRPS);
    let r: ActualLrPsResponse =
        raw(bbs, "/v1/actual_lrps/list", &ActualLrPsRequest::default()).await;
    assert_eq!(r.actual_lrps.len(), LRPS);
    let r: ActualLrpGroupsResponse = raw(
        bbs,
        "/v1/actual_lrp_groups/list",
        &ActualLrpGroupsRequest::default(),
    )
    .await;
    assert_eq!(r.actual_lrp_groups.len(), LRPS);
    for path in ["/v1/tasks/list.r3", "/v1/tasks/list.r2"] {
        let r: TasksResponse = raw(bbs, path, &TasksRequest::default()).await;
        let guids: Vec<String> = r.tasks.iter().map(|t| t.task_guid.clone()).collect();
        let expected: Vec<String> = (0..TASKS).map(|i| format!("list-task-{i:05}")).collect();
        assert_eq!(guids, expected, "{path}: every task once, in order");
        let r: TasksResponse = raw(
            bbs,
            path,
            &TasksRequest {
                domain: "odd".into(),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(r.tasks.len(), TASKS / 2, "{path}: domain filter");
        assert!(r.tasks.iter().all(|t| t.domain == "odd"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lists_are_whole_and_encoded_as_one_message() {
    let bbs = TestBbs::start().await;
    seed(&bbs).await;
    check_lists(&bbs).await;
    bbs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lists_without_the_lrp_cache() {
    let bbs = TestBbs::start_with(
        |c: &mut BbsConfig| c.lrp_cache = false,
        Overrides::default(),
    )
    .await;
    seed(&bbs).await;
    check_lists(&bbs).await;
    bbs.shutdown().await;
}
