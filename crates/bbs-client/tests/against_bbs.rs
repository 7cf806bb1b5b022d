//! The client against a real BBS (SQLite store): every kind of call, the
//! answers' Diego errors, both event streams and mutual TLS.

use bbs_client::*;
use futures::StreamExt;
use models::events::Event;
use models::ErrorType;
use std::time::Duration;
use testkit::control_plane::{work, ControlPlane};

/// A lone BBS (testkit's control plane, SQLite).
async fn bbs() -> ControlPlane {
    ControlPlane::builder().start().await
}

fn client(b: &ControlPlane) -> HttpBbsClient {
    HttpBbsClient::plain(b.bbs_url()).unwrap()
}

fn lrp(guid: &str, instances: i32) -> models::DesiredLrp {
    models::DesiredLrp {
        domain: "d".into(),
        memory_mb: 64,
        disk_mb: 64,
        log_guid: String::new(),
        ..work::desired_lrp(guid, instances)
    }
}

fn task_definition() -> models::TaskDefinition {
    models::TaskDefinition {
        action: lrp("x", 1).action,
        ..work::task_definition()
    }
}

#[tokio::test]
async fn desired_lrps_domains_and_errors() {
    let b = bbs().await;
    let c = client(&b);
    assert!(c.ping().await);
    c.upsert_domain("d", Duration::ZERO).await.unwrap();
    assert_eq!(c.domains().await.unwrap(), vec!["d".to_string()]);

    c.desire_lrp(lrp("web", 2)).await.unwrap();
    let again = c.desire_lrp(lrp("web", 2)).await.unwrap_err();
    assert!(again.is(ErrorType::ResourceExists), "{again:?}");
    let got = c.desired_lrp_by_process_guid("web").await.unwrap().unwrap();
    assert_eq!(got.instances, 2);
    let missing = c.desired_lrp_by_process_guid("nope").await.unwrap_err();
    assert!(missing.is(ErrorType::ResourceNotFound));
    assert_eq!(
        missing.to_string(),
        "the requested resource could not be found"
    );

    let update = models::DesiredLrpUpdate {
        optional_instances: Some(models::desired_lrp_update::OptionalInstances::Instances(3)),
        ..Default::default()
    };
    c.update_desired_lrp("web", update).await.unwrap();
    let filter = DesiredLrpFilter {
        domain: "d".into(),
        ..Default::default()
    };
    assert_eq!(c.desired_lrps(&filter).await.unwrap()[0].instances, 3);
    let infos = c.desired_lrp_scheduling_infos(&filter).await.unwrap();
    assert_eq!(infos.len(), 1);
    let info = c
        .desired_lrp_scheduling_info_by_process_guid("web")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.instances, 3);
    let routing = c
        .desired_lrp_routing_infos(&DesiredLrpFilter {
            process_guids: vec!["web".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(routing[0].process_guid, "web");

    // Streaming a list gives what the plain call gives.
    let (streamed, _) = c
        .list_streaming::<_, models::DesiredLrpSchedulingInfo>(
            &models::bbs_routes::DESIRED_LRP_SCHEDULING_INFOS,
            &models::DesiredLrPsRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(streamed, infos);

    let actuals = c
        .actual_lrps(&ActualLrpFilter::process("web"))
        .await
        .unwrap();
    assert_eq!(actuals.len(), 3);
    let by_index = c
        .actual_lrps(&ActualLrpFilter {
            process_guid: "web".into(),
            index: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_index.len(), 1);
    assert_eq!(
        c.actual_lrps_by_process_guids(&["web".into()])
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        c.actual_lrp_groups_by_process_guid("web")
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(c
        .actual_lrp_group_by_process_guid_and_index("web", 0)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        c.actual_lrp_groups(&ActualLrpFilter::default())
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(c.cells().await.unwrap().is_empty());

    c.remove_desired_lrp("web").await.unwrap();
    assert!(c
        .remove_desired_lrp("web")
        .await
        .unwrap_err()
        .is(ErrorType::ResourceNotFound));
    b.shutdown().await;
}

#[tokio::test]
async fn the_lrp_lifecycle_and_evacuation_of_a_cell() {
    let b = bbs().await;
    let c = client(&b);
    c.desire_lrp(lrp("app", 1)).await.unwrap();
    let key = models::ActualLrpKey::new("app", 0, "d");
    let ik = models::ActualLrpInstanceKey::new("ig-1", "cell-1");
    let mut events = c.subscribe_to_instance_events("cell-1").await.unwrap();

    c.claim_actual_lrp(&key, &ik).await.unwrap();
    let info = RunningInfo {
        net_info: models::ActualLrpNetInfo {
            address: "10.0.0.1".into(),
            ..Default::default()
        },
        routable: true,
        ..Default::default()
    };
    c.start_actual_lrp(&key, &ik, &info).await.unwrap();
    let running = &c
        .actual_lrps(&ActualLrpFilter::cell("cell-1"))
        .await
        .unwrap()[0];
    assert_eq!(running.state, "RUNNING");
    assert_eq!(running.routable(), Some(true));

    // The cell's stream saw the claim and the start.
    let mut changes = 0;
    while changes < 2 {
        let ev = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("an event")
            .expect("stream open")
            .expect("decodable");
        if let Event::ActualLrpInstanceChanged(e) = ev {
            assert_eq!(e.actual_lrp_instance_key.unwrap().cell_id, "cell-1");
            changes += 1;
        }
    }

    // A running instance evacuates: keep the container until replaced.
    let (keep, r) = c.evacuate_running_actual_lrp(&key, &ik, &info).await;
    r.unwrap();
    assert!(keep);
    let (keep, r) = c.evacuate_stopped_actual_lrp(&key, &ik).await;
    r.unwrap();
    assert!(!keep);
    c.remove_evacuating_actual_lrp(&key, &ik)
        .await
        .unwrap_err()
        .is(ErrorType::ResourceNotFound)
        .then_some(())
        .expect("nothing left to remove");

    // Crash and fail need matching states; the BBS says why not.
    let other = models::ActualLrpInstanceKey::new("ig-2", "cell-2");
    let e = c.crash_actual_lrp(&key, &other, "boom").await.unwrap_err();
    assert!(e.error_type().is_some(), "a Diego error: {e:?}");
    c.fail_actual_lrp(&key, "no room").await.unwrap();
    c.retire_actual_lrp(&key).await.unwrap();
    b.shutdown().await;
}

#[tokio::test]
async fn tasks_from_desire_to_delete_with_their_events() {
    let b = bbs().await;
    let c = client(&b);
    let mut events = c.subscribe_to_task_events().await.unwrap();
    c.desire_task("t1", "d", Some(task_definition()))
        .await
        .unwrap();
    assert!(c.start_task("t1", "cell-1").await.unwrap());
    assert_eq!(
        c.tasks(&TaskFilter {
            cell_id: "cell-1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .len(),
        1
    );
    c.complete_task("t1", "cell-1", false, "", "done")
        .await
        .unwrap();
    let t = c.task_by_guid("t1").await.unwrap().unwrap();
    assert_eq!(t.result, "done");
    c.resolving_task("t1").await.unwrap();
    c.delete_task("t1").await.unwrap();
    assert!(c
        .task_by_guid("t1")
        .await
        .unwrap_err()
        .is(ErrorType::ResourceNotFound));

    c.desire_task("t2", "d", Some(task_definition()))
        .await
        .unwrap();
    c.reject_task("t2", "no room").await.unwrap();
    c.cancel_task("t2").await.unwrap();
    c.desire_task("t3", "d", Some(task_definition()))
        .await
        .unwrap();
    c.fail_task("t3", "given up").await.unwrap();

    let names: Vec<&'static str> = events
        .by_ref()
        .take(4)
        .map(|e| e.unwrap().event_type())
        .collect()
        .await;
    assert_eq!(
        names,
        vec![
            "task_created",
            "task_changed",
            "task_changed",
            "task_changed"
        ]
    );
    b.shutdown().await;
}

#[tokio::test]
async fn mutual_tls_with_material_from_memory() {
    let b = ControlPlane::builder().tls(true).start().await;
    let ca = &b.pki().unwrap().ca;
    let url = format!("https://127.0.0.1:{}", b.bbs().addr.port());
    let rep = ca.issue("rep", &["rep"]);
    let tls = ca.client_tls(Some(&rep));
    let c = HttpBbsClient::new(&ClientConfig::new(&url).with_tls(Some(tls))).unwrap();
    assert!(c.ping().await);
    c.upsert_domain("d", Duration::from_secs(60)).await.unwrap();

    // Without a certificate the BBS refuses the handshake.
    let anonymous = ca.client_tls(None);
    let c = HttpBbsClient::new(
        &ClientConfig::new(&url)
            .with_tls(Some(anonymous))
            .with_retries(1),
    )
    .unwrap();
    assert!(matches!(c.domains().await, Err(Error::Transport(_))));
    b.shutdown().await;
}
