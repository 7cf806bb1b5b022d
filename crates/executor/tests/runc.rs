//! The executor on the real runc backend with a busybox rootfs: a run
//! action's output and exit status, and an HTTP-checked instance reached
//! through the container's network. Needs root, runc, ip, iptables and
//! /usr/bin/busybox; skips (saying why) otherwise.

mod common;
use common::*;
use executor::{ContainerStore, PortMapping};
use garden::{Backend, RuncBackend, RuncConfig};
use models::{Check, CheckDefinition, HttpCheck};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// Tag, subnet and ports of this file's own, apart from garden's tests.
async fn runc_backend(dir: &std::path::Path) -> RuncBackend {
    let rootfs = dir.join("busybox-rootfs");
    garden::rootfs::build_busybox_rootfs(&rootfs).unwrap();
    let mut cfg = RuncConfig::new(dir.join("depot"));
    cfg.rootfs.insert("busybox".into(), rootfs);
    cfg.tag = "exe".into();
    cfg.subnet = Ipv4Addr::new(10, 250, 7, 0);
    cfg.subnet_prefix = 24;
    cfg.port_range = (19000, 19049); // below the ephemeral range
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
