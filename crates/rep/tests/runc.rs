//! The LRP test under the runc backend (root only): instances run in real
//! containers and report the container's address and mapped port; a
//! process killed inside its container is reported crashed and restarted.

mod support;

use bbs_client::BbsClient;

use garden::{Backend, RuncBackend, RuncConfig};
use rep::executor_store::StoreClient;
use std::net::Ipv4Addr;
use std::sync::Arc;
use support::{eventually, running, sleeper_lrp, start_world};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lrps_run_and_restart_in_runc_containers() {
    testkit::skip_if!(garden::runc_unavailable());
    let world = start_world().await;
    let mut cfg = world.rep_config("cell-runc", "z1");
    cfg.container_backend = "runc".into();

    // A backend of this test's own: tag, subnet and ports no other test uses.
    let rootfs = world.dir().join("busybox-rootfs");
    garden::rootfs::build_busybox_rootfs(&rootfs).unwrap();
    cfg.preloaded_root_fs[0].path = rootfs.display().to_string();
    let mut rc = RuncConfig::new(world.dir().join("runc-depot"));
    rc.rootfs.insert("cflinuxfs4".into(), rootfs);
    rc.tag = "rep1".into();
    rc.subnet = Ipv4Addr::new(10, 250, 7, 0);
    rc.subnet_prefix = 24;
    rc.port_range = (19100, 19149); // below the ephemeral range
    let backend = RuncBackend::new(rc).await.unwrap();
    let _teardown = garden::DestroyOnDrop(backend.clone());
    let store = executor::ContainerStore::new(
        Arc::new(backend.clone()),
        executor::ExecutorConfig {
            capacity: Some(executor::ExecutorResources::new(4096, 8192, 250)),
            temp_dir: world.dir().join("executor-tmp"),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let rep = rep::Rep::start(&cfg, Arc::new(StoreClient::new(store)))
        .await
        .unwrap();
    rep.presence_registered().await.unwrap();

    let mut lrp = sleeper_lrp("boxed", 2);
    lrp.ports = vec![8080];
    let desired_at = std::time::Instant::now();
    world.desire_lrp(lrp).await;
    let instances = eventually("2 RUNNING runc instances", 60, || async {
        let r = running(&world, "boxed").await;
        (r.len() == 2).then_some(r)
    })
    .await;
    eprintln!("desire → 2 RUNNING (runc): {:?}", desired_at.elapsed());
    for l in &instances {
        let net = l.actual_lrp_net_info.as_ref().unwrap();
        assert_eq!(net.address, "127.0.0.1");
        assert!(net.instance_address.starts_with("10.250.7."), "{net:?}");
        assert_eq!(net.ports.len(), 1);
        assert_eq!(net.ports[0].container_port, 8080);
        assert!((19100..=19149).contains(&net.ports[0].host_port), "{net:?}");
    }

    // Kill index 0's process from inside its container.
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
    // (Retried until the instance has written its pid file.)
    support::runc_cell::kill_instance_process(&backend, &guid, "killed inside the container").await;
    let restarted = eventually("index 0 restarted after its crash", 60, || async {
        running(&world, "boxed").await.into_iter().find(|l| {
            l.actual_lrp_key.as_ref().unwrap().index == 0
                && l.actual_lrp_instance_key.as_ref().unwrap().instance_guid != guid
        })
    })
    .await;
    assert_eq!(restarted.crash_count, 1);

    // A task whose container cannot be created here (its image's registry
    // is not there) is rejected: back to PENDING for another cell (the BBS
    // re-auctions it at its next convergence).
    world
        .desire_task(
            "unrunnable",
            models::TaskDefinition {
                root_fs: "docker://127.0.0.1:1/busybox".into(),
                action: Some(support::run_action("true")),
                memory_mb: 64,
                disk_mb: 64,
                ..Default::default()
            },
        )
        .await;
    let t = eventually("task rejected", 20, || async {
        let t = world
            .bbs_client()
            .task_by_guid("unrunnable")
            .await
            .ok()
            .flatten()?;
        (t.rejection_count >= 1).then_some(t)
    })
    .await;
    assert_eq!(t.state, models::task::State::Pending as i32, "{t:?}");
    assert!(
        t.rejection_reason.contains("failed to create container"),
        "{t:?}"
    );

    rep.shutdown().await;
    assert!(backend
        .containers(&Default::default())
        .await
        .unwrap()
        .is_empty());
    world.shutdown().await;
}
