//! A real rep (houdini backend) with a real BBS, locket and auctioneer:
//! LRP instances run and report their addresses; a killed instance is
//! reported crashed and restarted; the bulk sync clears BBS records of
//! this cell that have no container.

mod support;

use bbs_client::{ActualLrpFilter, BbsClient, InternalBbsClient};

use support::{eventually, running, sleeper_lrp, start_world};

fn container_dir(cfg: &rep::RepConfig, guid: &str) -> std::path::PathBuf {
    std::path::Path::new(&cfg.depot_dir)
        .join("houdini")
        .join(guid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lrps_run_crash_and_restart_and_bulk_sync_repairs() {
    let world = start_world().await;
    let cfg = world.rep_config("cell-1", "z1");
    let rep = world.start_rep(&cfg).await;

    let desired_at = std::time::Instant::now();
    world.desire_lrp(sleeper_lrp("sleeper", 2)).await;
    let instances = eventually("2 RUNNING instances", 30, || async {
        let r = running(&world, "sleeper").await;
        (r.len() == 2).then_some(r)
    })
    .await;
    eprintln!("desire → 2 RUNNING: {:?}", desired_at.elapsed());
    for l in &instances {
        assert_eq!(
            l.actual_lrp_instance_key.as_ref().unwrap().cell_id,
            "cell-1"
        );
        let net = l.actual_lrp_net_info.as_ref().unwrap();
        assert_eq!(net.address, "127.0.0.1");
        assert_eq!(net.instance_address, "127.0.0.1");
        assert_eq!(
            net.preferred_address,
            models::actual_lrp_net_info::PreferredAddress::Host as i32
        );
        assert_eq!(l.availability_zone, "z1");
        assert_eq!(l.crash_count, 0);
        let index = l.actual_lrp_key.as_ref().unwrap().index.to_string();
        assert_eq!(l.metric_tags.get("instance_index"), Some(&index));
        assert_eq!(
            l.metric_tags.get("source_id").map(String::as_str),
            Some("sleeper")
        );
    }

    // The cell's state shows both, running, and what they hold.
    let body = reqwest::get(format!("{}/state", rep.url))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let state: models::rep::CellState = serde_json::from_slice(&body).unwrap();
    assert_eq!(state.cell_id, "cell-1");
    assert_eq!(state.lrps.len(), 2);
    assert!(state.lrps.iter().all(|l| l.state == "RUNNING"));
    assert_eq!(state.available_resources.memory_mb, 4096 - 2 * 128);
    assert_eq!(state.available_resources.containers, 248);
    assert_eq!(state.starting_container_count, 0);

    let body = reqwest::get(format!("{}/container_metrics", rep.url))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let metrics: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(metrics["cell_id"], "cell-1");
    let lrps = metrics["lrps"].as_array().unwrap();
    assert_eq!(lrps.len(), 2);
    for m in lrps {
        assert_eq!(m["process_guid"], "sleeper");
        assert_eq!(m["metric_guid"], "log-guid");
        assert_eq!(m["memory_quota_bytes"], 128 * 1024 * 1024);
        assert!(m["instance_guid"].is_string() && m["disk_usage_bytes"].is_u64());
    }
    assert_eq!(metrics["tasks"], serde_json::json!([]));

    // Kill index 0's process: the rep reports the crash, the BBS restarts
    // it at once (crash count 1 < 3) and it runs again, in a new container.
    let victim = instances
        .iter()
        .find(|l| l.actual_lrp_key.as_ref().unwrap().index == 0)
        .unwrap();
    let guid = victim
        .actual_lrp_instance_key
        .as_ref()
        .unwrap()
        .instance_guid
        .clone();
    let pid = eventually("pid file", 10, || async {
        std::fs::read_to_string(container_dir(&cfg, &guid).join("pid"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    })
    .await;
    let status = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let restarted = eventually("index 0 restarted after its crash", 30, || async {
        running(&world, "sleeper").await.into_iter().find(|l| {
            l.actual_lrp_key.as_ref().unwrap().index == 0
                && l.actual_lrp_instance_key.as_ref().unwrap().instance_guid != guid
        })
    })
    .await;
    assert_eq!(restarted.crash_count, 1);
    assert!(
        restarted.crash_reason.contains("137"),
        "crash reason: {}",
        restarted.crash_reason
    );
    assert!(
        !container_dir(&cfg, &guid).exists(),
        "crashed container deleted"
    );

    // A record on this cell without a container: an instance nobody can
    // place (placement tag no cell has), claimed for cell-1 behind the
    // rep's back. The bulk sync removes it.
    let mut ghost = sleeper_lrp("ghost", 1);
    ghost.placement_tags = vec!["nowhere".into()];
    world.desire_lrp(ghost).await;
    eventually("ghost unplaceable", 20, || async {
        let l = world
            .bbs_client()
            .actual_lrps(&ActualLrpFilter::process("ghost"))
            .await
            .ok()?;
        l.first().filter(|l| !l.placement_error.is_empty()).cloned()
    })
    .await;
    let key = models::ActualLrpKey {
        process_guid: "ghost".into(),
        index: 0,
        domain: "test-domain".into(),
    };
    let ik = models::ActualLrpInstanceKey {
        instance_guid: "ghost-instance".into(),
        cell_id: "cell-1".into(),
    };
    world
        .bbs_client()
        .claim_actual_lrp(&key, &ik)
        .await
        .unwrap();
    rep.sync_now().await;
    eventually("ghost claim removed", 10, || async {
        let l = world
            .bbs_client()
            .actual_lrps(&ActualLrpFilter::process("ghost"))
            .await
            .ok()?;
        l.iter()
            .all(|l| {
                l.actual_lrp_instance_key
                    .as_ref()
                    .map(|k| k.instance_guid.as_str())
                    != Some("ghost-instance")
            })
            .then_some(())
    })
    .await;
    // The running instances were left alone.
    assert_eq!(running(&world, "sleeper").await.len(), 2);

    // Scale down: the BBS retires index 1 through the rep's stop route;
    // the rep removes the instance and deletes its container.
    let update = models::DesiredLrpUpdate {
        optional_instances: Some(models::desired_lrp_update::OptionalInstances::Instances(1)),
        ..Default::default()
    };
    world
        .bbs_client()
        .update_desired_lrp("sleeper", update)
        .await
        .unwrap();
    eventually("index 1 gone with its container", 20, || async {
        let all = world
            .bbs_client()
            .actual_lrps(&ActualLrpFilter::process("sleeper"))
            .await
            .ok()?;
        let containers = rep.executor().list_containers().await.ok()?;
        (all.len() == 1 && containers.len() == 1).then_some(())
    })
    .await;

    rep.shutdown().await;
    assert!(!container_dir(
        &cfg,
        &restarted.actual_lrp_instance_key.unwrap().instance_guid
    )
    .exists());
    world.shutdown().await;
}
