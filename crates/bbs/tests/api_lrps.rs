//! Desired and actual LRPs through a real BBS (SQLite), over HTTP.

mod api_support;

use api_support::*;
use bbs::server::Overrides;
use models::actual_lrp::Presence;
use models::*;
use prost::Message as _;

async fn actuals(bbs: &TestBbs, guid: &str) -> Vec<ActualLrp> {
    let r: ActualLrPsResponse = bbs
        .call(
            "/v1/actual_lrps/list",
            &ActualLrPsRequest {
                process_guid: guid.into(),
                ..Default::default()
            },
        )
        .await;
    assert!(r.error.is_none(), "{:?}", r.error);
    let mut l = r.actual_lrps;
    l.sort_by_key(|a| (a.index(), a.presence));
    l
}

fn key(guid: &str, index: i32) -> ActualLrpKey {
    ActualLrpKey::new(guid, index, "test-domain")
}

fn ikey(ig: &str, cell: &str) -> ActualLrpInstanceKey {
    ActualLrpInstanceKey::new(ig, cell)
}

async fn claim(
    bbs: &TestBbs,
    guid: &str,
    index: i32,
    ik: &ActualLrpInstanceKey,
) -> ActualLrpLifecycleResponse {
    bbs.call(
        "/v1/actual_lrps/claim",
        &ClaimActualLrpRequest {
            process_guid: guid.into(),
            index,
            actual_lrp_instance_key: Some(ik.clone()),
        },
    )
    .await
}

fn net_info() -> ActualLrpNetInfo {
    ActualLrpNetInfo {
        address: "10.0.0.1".into(),
        ports: vec![PortMapping {
            container_port: 8080,
            host_port: 61000,
            ..Default::default()
        }],
        instance_address: "10.255.0.2".into(),
        ..Default::default()
    }
}

async fn start(
    bbs: &TestBbs,
    guid: &str,
    index: i32,
    ik: &ActualLrpInstanceKey,
) -> ActualLrpLifecycleResponse {
    bbs.call(
        "/v1/actual_lrps/start.r1",
        &StartActualLrpRequest {
            actual_lrp_key: Some(key(guid, index)),
            actual_lrp_instance_key: Some(ik.clone()),
            actual_lrp_net_info: Some(net_info()),
            ..Default::default()
        },
    )
    .await
}

async fn crash(
    bbs: &TestBbs,
    guid: &str,
    index: i32,
    ik: &ActualLrpInstanceKey,
    msg: &str,
) -> ActualLrpLifecycleResponse {
    bbs.call(
        "/v1/actual_lrps/crash",
        &CrashActualLrpRequest {
            actual_lrp_key: Some(key(guid, index)),
            actual_lrp_instance_key: Some(ik.clone()),
            error_message: msg.into(),
        },
    )
    .await
}

async fn desire(bbs: &TestBbs, lrp: DesiredLrp) -> DesiredLrpLifecycleResponse {
    bbs.call(
        "/v1/desired_lrp/desire.r2",
        &DesireLrpRequest {
            desired_lrp: Some(lrp),
        },
    )
    .await
}

#[tokio::test]
async fn desire_creates_unclaimed_instances_and_requests_an_auction() {
    let (url, rec) = fake_auctioneer().await;
    let bbs = TestBbs::start_with(|c| c.auctioneer_address = url, Overrides::default()).await;

    let r = desire(&bbs, desired_lrp("app-1", 3)).await;
    assert!(r.error.is_none(), "{:?}", r.error);

    let infos: DesiredLrpSchedulingInfosResponse = bbs
        .call(
            "/v1/desired_lrp_scheduling_infos/list",
            &DesiredLrPsRequest::default(),
        )
        .await;
    assert_eq!(infos.desired_lrp_scheduling_infos.len(), 1);
    let info = &infos.desired_lrp_scheduling_infos[0];
    assert_eq!(info.instances, 3);
    assert_eq!(info.desired_lrp_key.as_ref().unwrap().process_guid, "app-1");
    // The active BBS streams nsync's answer from its LRP cache; it still
    // announces its length, as a whole answer (and Diego's BBS) does.
    let resp = bbs
        .client
        .post(format!("{}/v1/desired_lrp_scheduling_infos/list", bbs.base))
        .body(DesiredLrPsRequest::default().encode_to_vec())
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("transfer-encoding").is_none());
    let announced = resp.headers().get("content-length").cloned();
    let body = resp.bytes().await.unwrap();
    assert_eq!(
        announced.map(|v| v.to_str().unwrap().parse::<usize>().unwrap()),
        Some(body.len())
    );

    let lrps = actuals(&bbs, "app-1").await;
    assert_eq!(lrps.len(), 3);
    assert!(lrps.iter().all(|l| l.state == "UNCLAIMED"));

    let lrp_requests = rec.lrps.lock().unwrap().clone();
    assert_eq!(lrp_requests.len(), 1);
    assert_eq!(lrp_requests[0]["process_guid"], "app-1");
    assert_eq!(lrp_requests[0]["indices"], serde_json::json!([0, 1, 2]));
    assert_eq!(lrp_requests[0]["MemoryMB"], 128);
    assert_eq!(lrp_requests[0]["RootFs"], "preloaded:cflinuxfs4");

    // Desiring the same guid again: ResourceExists, nothing changes.
    let again = desire(&bbs, desired_lrp("app-1", 5)).await;
    assert_eq!(error_type(&again.error), Some(ErrorType::ResourceExists));
    assert_eq!(actuals(&bbs, "app-1").await.len(), 3);

    let one: DesiredLrpResponse = bbs
        .call(
            "/v1/desired_lrps/get_by_process_guid.r3",
            &DesiredLrpByProcessGuidRequest {
                process_guid: "app-1".into(),
            },
        )
        .await;
    assert_eq!(one.desired_lrp.unwrap().instances, 3);
}

#[tokio::test]
async fn actual_lrp_lifecycle_legal_and_illegal_transitions() {
    let (url, rec) = fake_auctioneer().await;
    let bbs = TestBbs::start_with(|c| c.auctioneer_address = url, Overrides::default()).await;
    assert!(desire(&bbs, desired_lrp("app", 1)).await.error.is_none());
    let ik = ikey("ig-1", "cell-1");
    let other = ikey("ig-2", "cell-2");

    // Crash while UNCLAIMED is illegal and changes nothing.
    let before = actuals(&bbs, "app").await;
    let r = crash(&bbs, "app", 0, &ik, "boom").await;
    assert_eq!(
        error_type(&r.error),
        Some(ErrorType::ActualLrpCannotBeCrashed)
    );
    assert_eq!(actuals(&bbs, "app").await, before);

    // Claim, then a claim by another instance is refused.
    assert!(claim(&bbs, "app", 0, &ik).await.error.is_none());
    let claimed = actuals(&bbs, "app").await;
    assert_eq!(claimed[0].state, "CLAIMED");
    assert_eq!(claimed[0].instance_key(), ik);
    let r = claim(&bbs, "app", 0, &other).await;
    assert_eq!(
        error_type(&r.error),
        Some(ErrorType::ActualLrpCannotBeClaimed)
    );
    assert_eq!(actuals(&bbs, "app").await, claimed);

    // Fail is only for UNCLAIMED instances.
    let r: ActualLrpLifecycleResponse = bbs
        .call(
            "/v1/actual_lrps/fail",
            &FailActualLrpRequest {
                actual_lrp_key: Some(key("app", 0)),
                error_message: "no cells".into(),
            },
        )
        .await;
    assert_eq!(
        error_type(&r.error),
        Some(ErrorType::ActualLrpCannotBeFailed)
    );
    assert_eq!(actuals(&bbs, "app").await, claimed);

    // Start; then starting from a different instance is refused.
    assert!(start(&bbs, "app", 0, &ik).await.error.is_none());
    let running = actuals(&bbs, "app").await;
    assert_eq!(running[0].state, "RUNNING");
    assert_eq!(
        running[0].actual_lrp_net_info.as_ref().unwrap().address,
        "10.0.0.1"
    );
    assert_eq!(running[0].routable(), Some(true));
    let r = start(&bbs, "app", 0, &other).await;
    assert_eq!(
        error_type(&r.error),
        Some(ErrorType::ActualLrpCannotBeStarted)
    );
    assert_eq!(actuals(&bbs, "app").await, running);

    // Crash from another instance is refused; from the owner it restarts at once.
    let r = crash(&bbs, "app", 0, &other, "boom").await;
    assert_eq!(
        error_type(&r.error),
        Some(ErrorType::ActualLrpCannotBeCrashed)
    );
    assert_eq!(actuals(&bbs, "app").await, running);
    let auctions_before = rec.lrps.lock().unwrap().len();
    assert!(crash(&bbs, "app", 0, &ik, "boom").await.error.is_none());
    let crashed = actuals(&bbs, "app").await;
    assert_eq!(crashed[0].state, "UNCLAIMED");
    assert_eq!(crashed[0].crash_count, 1);
    assert_eq!(crashed[0].crash_reason, "boom");
    let auctions = rec.lrps.lock().unwrap().clone();
    assert_eq!(
        auctions.len(),
        auctions_before + 1,
        "immediate restart is auctioned"
    );
    assert_eq!(auctions.last().unwrap()["indices"], serde_json::json!([0]));

    // Fail records a placement error on the UNCLAIMED instance.
    let r: ActualLrpLifecycleResponse = bbs
        .call(
            "/v1/actual_lrps/fail",
            &FailActualLrpRequest {
                actual_lrp_key: Some(key("app", 0)),
                error_message: "found no compatible cell".into(),
            },
        )
        .await;
    assert!(r.error.is_none());
    assert_eq!(
        actuals(&bbs, "app").await[0].placement_error,
        "found no compatible cell"
    );

    // Remove with a wrong instance key: not found, nothing removed.
    assert!(claim(&bbs, "app", 0, &ik).await.error.is_none());
    let r: ActualLrpLifecycleResponse = bbs
        .call(
            "/v1/actual_lrps/remove",
            &RemoveActualLrpRequest {
                process_guid: "app".into(),
                index: 0,
                actual_lrp_instance_key: Some(other.clone()),
            },
        )
        .await;
    assert_eq!(error_type(&r.error), Some(ErrorType::ResourceNotFound));
    assert_eq!(actuals(&bbs, "app").await.len(), 1);
    let r: ActualLrpLifecycleResponse = bbs
        .call(
            "/v1/actual_lrps/remove",
            &RemoveActualLrpRequest {
                process_guid: "app".into(),
                index: 0,
                actual_lrp_instance_key: Some(ik.clone()),
            },
        )
        .await;
    assert!(r.error.is_none());
    assert!(actuals(&bbs, "app").await.is_empty());

    // Start on a missing row creates a RUNNING instance.
    assert!(start(&bbs, "app", 0, &ik).await.error.is_none());
    assert_eq!(actuals(&bbs, "app").await[0].state, "RUNNING");

    // Claim of an unknown index: not found.
    let r = claim(&bbs, "app", 7, &ik).await;
    assert_eq!(error_type(&r.error), Some(ErrorType::ResourceNotFound));
}

#[tokio::test]
async fn three_crashes_leave_the_instance_crashed() {
    let bbs = TestBbs::start().await;
    assert!(desire(&bbs, desired_lrp("crashy", 1)).await.error.is_none());
    let ik = ikey("ig", "cell");
    for n in 1..=3 {
        assert!(claim(&bbs, "crashy", 0, &ik).await.error.is_none());
        assert!(start(&bbs, "crashy", 0, &ik).await.error.is_none());
        assert!(crash(&bbs, "crashy", 0, &ik, "again").await.error.is_none());
        let l = &actuals(&bbs, "crashy").await[0];
        assert_eq!(l.crash_count, n);
        assert_eq!(l.state, if n < 3 { "UNCLAIMED" } else { "CRASHED" });
    }
    // A CRASHED instance may not be claimed by another instance.
    let r = claim(&bbs, "crashy", 0, &ikey("x", "y")).await;
    assert_eq!(
        error_type(&r.error),
        Some(ErrorType::ActualLrpCannotBeClaimed)
    );
}

#[tokio::test]
async fn retire_scale_and_remove() {
    let bbs = TestBbs::start().await;
    assert!(desire(&bbs, desired_lrp("scale", 2)).await.error.is_none());
    let ik = ikey("ig-0", "cell-gone");
    assert!(claim(&bbs, "scale", 0, &ik).await.error.is_none());
    assert!(start(&bbs, "scale", 0, &ik).await.error.is_none());

    // Scale up to 4: new UNCLAIMED instances 2 and 3.
    let r: DesiredLrpLifecycleResponse = bbs
        .call(
            "/v1/desired_lrp/update",
            &UpdateDesiredLrpRequest {
                process_guid: "scale".into(),
                update: Some(DesiredLrpUpdate {
                    optional_instances: Some(desired_lrp_update::OptionalInstances::Instances(4)),
                    ..Default::default()
                }),
            },
        )
        .await;
    assert!(r.error.is_none(), "{:?}", r.error);
    let l = actuals(&bbs, "scale").await;
    assert_eq!(
        l.iter().map(|a| a.index()).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );

    // Scale down to 1: unplaced extras are removed.
    let r: DesiredLrpLifecycleResponse = bbs
        .call(
            "/v1/desired_lrp/update",
            &UpdateDesiredLrpRequest {
                process_guid: "scale".into(),
                update: Some(DesiredLrpUpdate {
                    optional_instances: Some(desired_lrp_update::OptionalInstances::Instances(1)),
                    ..Default::default()
                }),
            },
        )
        .await;
    assert!(r.error.is_none());
    let l = actuals(&bbs, "scale").await;
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].state, "RUNNING");

    // Retire the running instance: its cell has no presence, so it is removed.
    let r: ActualLrpLifecycleResponse = bbs
        .call(
            "/v1/actual_lrps/retire",
            &RetireActualLrpRequest {
                actual_lrp_key: Some(key("scale", 0)),
            },
        )
        .await;
    assert!(r.error.is_none(), "{:?}", r.error);
    assert!(actuals(&bbs, "scale").await.is_empty());
    let r: ActualLrpLifecycleResponse = bbs
        .call(
            "/v1/actual_lrps/retire",
            &RetireActualLrpRequest {
                actual_lrp_key: Some(key("scale", 0)),
            },
        )
        .await;
    assert_eq!(error_type(&r.error), Some(ErrorType::ResourceNotFound));

    // Remove the desired LRP.
    let r: DesiredLrpLifecycleResponse = bbs
        .call(
            "/v1/desired_lrp/remove",
            &RemoveDesiredLrpRequest {
                process_guid: "scale".into(),
            },
        )
        .await;
    assert!(r.error.is_none());
    let r: DesiredLrpResponse = bbs
        .call(
            "/v1/desired_lrps/get_by_process_guid.r3",
            &DesiredLrpByProcessGuidRequest {
                process_guid: "scale".into(),
            },
        )
        .await;
    assert_eq!(error_type(&r.error), Some(ErrorType::ResourceNotFound));
    let r: DesiredLrpLifecycleResponse = bbs
        .call(
            "/v1/desired_lrp/remove",
            &RemoveDesiredLrpRequest {
                process_guid: "scale".into(),
            },
        )
        .await;
    assert_eq!(error_type(&r.error), Some(ErrorType::ResourceNotFound));
}

#[tokio::test]
async fn evacuating_a_running_instance_keeps_it_until_replaced() {
    let (url, rec) = fake_auctioneer().await;
    let bbs = TestBbs::start_with(|c| c.auctioneer_address = url, Overrides::default()).await;
    assert!(desire(&bbs, desired_lrp("evac", 1)).await.error.is_none());
    let ik = ikey("ig-old", "cell-old");
    assert!(claim(&bbs, "evac", 0, &ik).await.error.is_none());
    assert!(start(&bbs, "evac", 0, &ik).await.error.is_none());

    let r: EvacuationResponse = bbs
        .call(
            "/v1/actual_lrps/evacuate_running.r1",
            &EvacuateRunningActualLrpRequest {
                actual_lrp_key: Some(key("evac", 0)),
                actual_lrp_instance_key: Some(ik.clone()),
                actual_lrp_net_info: Some(net_info()),
                ..Default::default()
            },
        )
        .await;
    assert!(r.error.is_none(), "{:?}", r.error);
    assert!(r.keep_container);
    let l = actuals(&bbs, "evac").await;
    assert_eq!(l.len(), 2);
    assert_eq!(l[0].presence(), Presence::Ordinary);
    assert_eq!(l[0].state, "UNCLAIMED");
    assert_eq!(l[1].presence(), Presence::Evacuating);
    assert_eq!(l[1].instance_key(), ik);
    assert_eq!(rec.lrps.lock().unwrap().len(), 2, "replacement auctioned");

    // The deprecated group view pairs them.
    let groups: ActualLrpGroupsResponse = bbs
        .call(
            "/v1/actual_lrp_groups/list_by_process_guid",
            &ActualLrpGroupsByProcessGuidRequest {
                process_guid: "evac".into(),
            },
        )
        .await;
    assert_eq!(groups.actual_lrp_groups.len(), 1);
    assert!(groups.actual_lrp_groups[0].evacuating.is_some());

    // The replacement starts: the evacuating row goes away.
    let new_ik = ikey("ig-new", "cell-new");
    assert!(claim(&bbs, "evac", 0, &new_ik).await.error.is_none());
    assert!(start(&bbs, "evac", 0, &new_ik).await.error.is_none());
    let l = actuals(&bbs, "evac").await;
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].instance_key(), new_ik);

    // The old cell evacuates again: nothing to keep.
    let r: EvacuationResponse = bbs
        .call(
            "/v1/actual_lrps/evacuate_running.r1",
            &EvacuateRunningActualLrpRequest {
                actual_lrp_key: Some(key("evac", 0)),
                actual_lrp_instance_key: Some(ik.clone()),
                actual_lrp_net_info: Some(net_info()),
                ..Default::default()
            },
        )
        .await;
    assert!(r.error.is_none());
    assert!(!r.keep_container);

    // evacuate_stopped of the running instance removes it.
    let r: EvacuationResponse = bbs
        .call(
            "/v1/actual_lrps/evacuate_stopped",
            &EvacuateStoppedActualLrpRequest {
                actual_lrp_key: Some(key("evac", 0)),
                actual_lrp_instance_key: Some(new_ik.clone()),
            },
        )
        .await;
    assert!(r.error.is_none(), "{:?}", r.error);
    assert!(actuals(&bbs, "evac").await.is_empty());
}

/// The rows of `guid`'s instance `index`.
async fn at_index(bbs: &TestBbs, guid: &str, index: i32) -> Vec<ActualLrp> {
    actuals(bbs, guid)
        .await
        .into_iter()
        .filter(|l| l.key().index == index)
        .collect()
}

/// `evac2`'s instance 1, as cell `ik` has it, crashed while evacuating.
async fn evacuate_crashed(
    bbs: &TestBbs,
    ik: &ActualLrpInstanceKey,
    why: &str,
) -> EvacuationResponse {
    bbs.call(
        "/v1/actual_lrps/evacuate_crashed",
        &EvacuateCrashedActualLrpRequest {
            actual_lrp_key: Some(key("evac2", 1)),
            actual_lrp_instance_key: Some(ik.clone()),
            error_message: why.into(),
        },
    )
    .await
}

/// Evacuation's other paths (Diego's evacuation controller): a claimed
/// instance is given back for another cell at once; an evacuating instance
/// that crashes just goes (its replacement stays); an ordinary instance
/// that crashes on an evacuating cell is crashed, for another cell.
#[tokio::test]
async fn evacuating_claimed_and_crashing_instances() {
    let (url, rec) = fake_auctioneer().await;
    let bbs = TestBbs::start_with(|c| c.auctioneer_address = url, Overrides::default()).await;
    assert!(desire(&bbs, desired_lrp("evac2", 2)).await.error.is_none());
    let auctions = || rec.lrps.lock().unwrap().len();
    let desired_auctions = auctions();
    let old = ikey("ig-claimed", "cell-old");

    // Claimed, not yet running, on the evacuating cell: unclaimed and
    // auctioned again; the rep drops its container.
    assert!(claim(&bbs, "evac2", 0, &old).await.error.is_none());
    let r: EvacuationResponse = bbs
        .call(
            "/v1/actual_lrps/evacuate_claimed",
            &EvacuateClaimedActualLrpRequest {
                actual_lrp_key: Some(key("evac2", 0)),
                actual_lrp_instance_key: Some(old.clone()),
            },
        )
        .await;
    assert!(r.error.is_none(), "{:?}", r.error);
    assert!(!r.keep_container);
    let l = actuals(&bbs, "evac2").await;
    let i0: Vec<_> = l.iter().filter(|l| l.key().index == 0).collect();
    assert_eq!(i0.len(), 1);
    assert_eq!(i0[0].state, "UNCLAIMED");
    assert_eq!(i0[0].instance_key(), ActualLrpInstanceKey::default());
    assert_eq!(auctions(), desired_auctions + 1, "auctioned again");

    // Running and evacuated (replacement UNCLAIMED), then the evacuating
    // instance crashes: its row goes, the replacement stays.
    let running = ikey("ig-running", "cell-old");
    assert!(claim(&bbs, "evac2", 1, &running).await.error.is_none());
    assert!(start(&bbs, "evac2", 1, &running).await.error.is_none());
    let r: EvacuationResponse = bbs
        .call(
            "/v1/actual_lrps/evacuate_running.r1",
            &EvacuateRunningActualLrpRequest {
                actual_lrp_key: Some(key("evac2", 1)),
                actual_lrp_instance_key: Some(running.clone()),
                actual_lrp_net_info: Some(net_info()),
                ..Default::default()
            },
        )
        .await;
    assert!(r.error.is_none() && r.keep_container, "{r:?}");
    let r = evacuate_crashed(&bbs, &running, "crashed while evacuating").await;
    assert!(r.error.is_none(), "{:?}", r.error);
    let i1 = at_index(&bbs, "evac2", 1).await;
    assert_eq!(i1.len(), 1, "{i1:?}");
    assert_eq!(i1[0].presence(), Presence::Ordinary);
    assert_eq!(i1[0].state, "UNCLAIMED");
    assert_eq!(i1[0].crash_count, 0, "the replacement did not crash");

    // An ordinary instance running on an evacuating cell crashes before
    // it was evacuated: crashed (count 1) and UNCLAIMED for another cell,
    // with no auction asked for here: Diego's EvacuateCrashedActualLRP
    // crashes it in the database only (controllers/evacuation_controller.go)
    // and convergence auctions it.
    let other = ikey("ig-other", "cell-old");
    assert!(claim(&bbs, "evac2", 1, &other).await.error.is_none());
    assert!(start(&bbs, "evac2", 1, &other).await.error.is_none());
    let before = auctions();
    let r = evacuate_crashed(&bbs, &other, "out of memory").await;
    assert!(r.error.is_none(), "{:?}", r.error);
    let i1 = at_index(&bbs, "evac2", 1).await;
    assert_eq!(i1.len(), 1, "{i1:?}");
    assert_eq!(i1[0].crash_count, 1);
    assert_eq!(i1[0].crash_reason, "out of memory");
    assert_eq!(i1[0].state, "UNCLAIMED");
    assert_eq!(auctions(), before, "left to convergence, as Diego does");

    // A cell that evacuates what it no longer owns changes nothing.
    let r = evacuate_crashed(&bbs, &other, "again").await;
    let after = at_index(&bbs, "evac2", 1).await;
    assert_eq!(after, i1, "{:?}", r.error);
}

#[tokio::test]
async fn deprecated_reads_and_downgrades() {
    let bbs = TestBbs::start().await;
    let mut lrp = desired_lrp("layers", 1);
    lrp.root_fs = "docker:///cloudfoundry/grace".into();
    lrp.legacy_download_user = "vcap".into();
    lrp.image_layers = vec![ImageLayer {
        name: "bits".into(),
        url: "http://blobs/bits.tgz".into(),
        destination_path: "/home/vcap".into(),
        layer_type: image_layer::Type::Exclusive as i32,
        media_type: image_layer::MediaType::Tgz as i32,
        digest_algorithm: image_layer::DigestAlgorithm::Sha256 as i32,
        digest_value: "abc123".into(),
    }];
    let r = desire(&bbs, lrp).await;
    assert!(r.error.is_none(), "{:?}", r.error);

    let v3: DesiredLrPsResponse = bbs
        .call("/v1/desired_lrps/list.r3", &DesiredLrPsRequest::default())
        .await;
    assert_eq!(v3.desired_lrps[0].image_layers.len(), 1);
    let v2: DesiredLrPsResponse = bbs
        .call("/v1/desired_lrps/list.r2", &DesiredLrPsRequest::default())
        .await;
    let d = &v2.desired_lrps[0];
    assert!(d.image_layers.is_empty());
    let setup = d.setup.as_ref().expect("layers become setup downloads");
    let dl = setup.parallel_action.as_ref().unwrap().actions[0]
        .download_action
        .as_ref()
        .unwrap();
    assert_eq!(dl.cache_key, "sha256:abc123");

    let g: ActualLrpGroupResponse = bbs
        .call(
            "/v1/actual_lrp_groups/get_by_process_guid_and_index",
            &ActualLrpGroupByProcessGuidAndIndexRequest {
                process_guid: "layers".into(),
                index: 0,
            },
        )
        .await;
    assert_eq!(
        g.actual_lrp_group.unwrap().instance.unwrap().state,
        "UNCLAIMED"
    );
    let g: ActualLrpGroupResponse = bbs
        .call(
            "/v1/actual_lrp_groups/get_by_process_guid_and_index",
            &ActualLrpGroupByProcessGuidAndIndexRequest {
                process_guid: "layers".into(),
                index: 9,
            },
        )
        .await;
    assert_eq!(error_type(&g.error), Some(ErrorType::ResourceNotFound));

    let routing: DesiredLrPsResponse = bbs
        .call(
            "/v1/desired_lrp_routing_infos/list",
            &DesiredLrPsRequest::default(),
        )
        .await;
    assert_eq!(routing.desired_lrps.len(), 1);
    assert_eq!(routing.desired_lrps[0].process_guid, "layers");

    let by_guids: ActualLrPsByProcessGuidsResponse = bbs
        .call(
            "/v1/actual_lrps/list_by_process_guids",
            &ActualLrPsByProcessGuidsRequest {
                process_guids: vec!["layers".into()],
            },
        )
        .await;
    assert_eq!(by_guids.actual_lrps.len(), 1);

    let domains: UpsertDomainResponse = bbs
        .call(
            "/v1/domains/upsert",
            &UpsertDomainRequest {
                domain: "cf-apps".into(),
                ttl: 0,
            },
        )
        .await;
    assert!(domains.error.is_none());
    let d: DomainsResponse = bbs.call("/v1/domains/list", &()).await;
    assert_eq!(d.domains, vec!["cf-apps".to_string()]);
}
