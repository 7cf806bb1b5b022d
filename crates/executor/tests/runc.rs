//! The executor on the real runc backend with a busybox rootfs: a run
//! action's output and exit status, and an HTTP-checked instance reached
//! through the container's network; egress rules as the backend's NetOut
//! rules (a bad one fails the create with Diego's words) and a used-up
//! disk named in the crash reason. Needs root, runc, ip, iptables, nft
//! and /usr/bin/busybox; skips (saying why) otherwise.

mod common;
use common::*;
use executor::{ContainerStore, PortMapping};
use garden::{Backend, RuncBackend, RuncConfig};
use models::{Check, CheckDefinition, HttpCheck};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// Tag, subnet and ports of this file's own, apart from garden's tests.
async fn runc_backend(dir: &std::path::Path) -> RuncBackend {
    backend_of(dir, "exe", 7, 19000).await
}

async fn backend_of(dir: &std::path::Path, tag: &str, net: u8, ports: u16) -> RuncBackend {
    let rootfs = dir.join("busybox-rootfs");
    garden::rootfs::build_busybox_rootfs(&rootfs).unwrap();
    let mut cfg = RuncConfig::new(dir.join("depot"));
    cfg.rootfs.insert("busybox".into(), rootfs);
    cfg.tag = tag.into();
    cfg.subnet = Ipv4Addr::new(10, 250, net, 0);
    cfg.subnet_prefix = 24;
    cfg.port_range = (ports, ports + 49); // below the ephemeral range
    RuncBackend::new(cfg).await.unwrap()
}

#[tokio::test]
async fn run_actions_and_checks_in_runc_containers() {
    testkit::skip_if!(garden::runc_unavailable());
    let dir = tempfile::tempdir().unwrap();
    let backend = runc_backend(dir.path()).await;
    let store = ContainerStore::new(Arc::new(backend.clone()), fast_config(dir.path()))
        .await
        .unwrap();
    let _teardown = garden::DestroyOnDrop(backend.clone());
    {
        // A task-like run: output, then a failing exit status.
        let mut info = run_info(sh("echo in $(pwd) as $(id -u); ls /bin/busybox; exit 3"));
        info.rootfs = "preloaded:busybox".into();
        start(&store, "runc-task", info).await;
        let c = completed(&store, "runc-task", 30).await;
        assert_eq!(
            c.run_result.failure_reason,
            "APP/PROC/WEB: Exited with status 3"
        );
        let log = log_texts(&store, "runc-task");
        // No dir: the user's home.
        assert_eq!(log[0], "in /root as 0", "{log:?}");
        assert_eq!(log[1], "/bin/busybox");
        store.delete("runc-task").await.unwrap();

        // An instance serving HTTP, healthy through the container network.
        let mut info = run_info(sh(
            "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www",
        ));
        info.rootfs = "preloaded:busybox".into();
        info.ports = vec![PortMapping {
            container_port: 8080,
            host_port: 0,
        }];
        info.start_timeout_ms = 10_000;
        info.check_definition = Some(CheckDefinition {
            checks: vec![Check {
                tcp_check: None,
                http_check: Some(HttpCheck {
                    port: 8080,
                    request_timeout_ms: 1000,
                    path: "/index.html".into(),
                    interval_ms: 200,
                }),
            }],
            ..Default::default()
        });
        start(&store, "runc-web", info).await;
        let c = running(&store, "runc-web", 30).await;
        assert!(c.internal_ip.starts_with("10.250.7."), "{}", c.internal_ip);
        let host_port = c.run_info.ports[0].host_port;
        assert!((19000..=19049).contains(&host_port), "{host_port}");
        store.delete("runc-web").await.unwrap();
        assert!(backend
            .containers(&Default::default())
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn egress_rules_and_a_full_disk_in_runc_containers() {
    testkit::skip_if!(garden::runc_unavailable());
    let dir = tempfile::tempdir().unwrap();
    let backend = backend_of(dir.path(), "exf", 8, 19050).await;
    let store = ContainerStore::new(Arc::new(backend.clone()), fast_config(dir.path()))
        .await
        .unwrap();
    let _teardown = garden::DestroyOnDrop(backend.clone());

    // A server, and two clients: one whose security group allows it.
    let mut info = run_info(sh(
        "mkdir -p /tmp/www && echo ok > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www",
    ));
    info.rootfs = "preloaded:busybox".into();
    let web = start(&store, "egress-web", info).await;
    let get = format!(
        "sleep 1; printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {} 8080 | grep -q ok",
        web.internal_ip
    );
    let mut info = run_info(sh(&get));
    info.rootfs = "preloaded:busybox".into();
    info.egress_rules = vec![models::SecurityGroupRule {
        protocol: "tcp".into(),
        destinations: vec![format!("{}/32", web.internal_ip)],
        ports: vec![8080],
        ..Default::default()
    }];
    start(&store, "egress-allowed", info.clone()).await;
    let c = completed(&store, "egress-allowed", 30).await;
    assert!(!c.run_result.failed, "{:?}", c.run_result);
    store.delete("egress-allowed").await.unwrap();
    info.egress_rules.clear();
    start(&store, "egress-denied", info.clone()).await;
    let c = completed(&store, "egress-denied", 30).await;
    assert_eq!(
        c.run_result.failure_reason,
        "APP/PROC/WEB: Exited with status 1"
    );
    store.delete("egress-denied").await.unwrap();

    // A rule Diego refuses: the create fails with its words.
    info.egress_rules = vec![models::SecurityGroupRule {
        protocol: "tcp".into(),
        destinations: vec!["10.0.0.1".into()],
        ..Default::default()
    }];
    store
        .allocate(executor::AllocationRequest {
            guid: "egress-bad".into(),
            resource: executor::Resource {
                memory_mb: 64,
                disk_mb: 64,
                max_pids: 0,
            },
            tags: Default::default(),
        })
        .unwrap();
    store
        .initialize("egress-bad", info, Default::default())
        .unwrap();
    assert!(store.create("egress-bad").await.is_err());
    let c = store.get("egress-bad").unwrap();
    assert_eq!(
        c.run_result.failure_reason,
        "failed to create container: Missing required field: ports or port_range"
    );
    assert!(backend.info("egress-bad").await.is_err());
    store.delete("egress-bad").await.unwrap();
    store.delete("egress-web").await.unwrap();

    // Writes past the disk limit (256 MB): the app fails, the reason says
    // why.
    let mut info = run_info(sh(
        "dd if=/dev/zero of=/tmp/fill bs=1M count=400 2>/dev/null",
    ));
    info.rootfs = "preloaded:busybox".into();
    start(&store, "disk-full", info).await;
    let c = completed(&store, "disk-full", 60).await;
    assert_eq!(
        c.run_result.failure_reason,
        "APP/PROC/WEB: Exited with status 1 (disk quota exceeded)"
    );
    store.delete("disk-full").await.unwrap();
}

/// CPU percentage from the container's cgroup usage deltas (cpuacct.usage
/// on cgroup v1, cpu.stat's usage_usec on v2), memory from its cgroup,
/// network bytes from its veth: a busy loop reads near 100 %, an idle
/// container near 0 %.
#[tokio::test]
async fn container_metrics_measure_cpu_from_cgroup_deltas() {
    testkit::skip_if!(garden::runc_unavailable());
    let dir = tempfile::tempdir().unwrap();
    let backend = backend_of(dir.path(), "exm", 9, 19100).await;
    let store = ContainerStore::new(Arc::new(backend.clone()), fast_config(dir.path()))
        .await
        .unwrap();
    let _teardown = garden::DestroyOnDrop(backend.clone());
    for (guid, script) in [("busy", "while :; do :; done"), ("idle", "exec sleep 60")] {
        let mut info = run_info(sh(script));
        info.rootfs = "preloaded:busybox".into();
        start(&store, guid, info).await;
        running(&store, guid, 30).await;
    }
    store.report_metrics().await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    store.report_metrics().await;
    let busy = store.latest_metrics("busy").unwrap();
    let idle = store.latest_metrics("idle").unwrap();
    eprintln!("busy: {busy:?}\nidle: {idle:?}");
    // Two cores shared with other work: a spinning process gets most of one.
    assert!(busy.cpu_percentage > 40.0, "{busy:?}");
    assert!(
        busy.cpu_percentage < 110.0,
        "one process, one core: {busy:?}"
    );
    assert!(idle.cpu_percentage < 5.0, "{idle:?}");
    assert!(busy.absolute_cpu_usage_ns > 1_000_000_000);
    assert!(busy.memory_bytes > 0);
    assert!(busy.rx_bytes.is_some() && busy.tx_bytes.is_some());
    for guid in ["busy", "idle"] {
        store.delete(guid).await.unwrap();
    }
}
