//! A cached dependency in a real runc container: mounted read-only at its
//! `to` path, readable by the app's user, unwritable. Needs root and runc;
//! skips (saying why) otherwise.

mod common;
use axum::routing::get;
use common::*;
use garden::{Backend, RuncBackend, RuncConfig};
use std::io::Write;
use std::net::Ipv4Addr;
use std::sync::Arc;

fn bundle() -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let body = b"#!/bin/sh\necho from the bundle as $(id -u)\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(body.len() as u64);
    h.set_mode(0o755);
    tar.append_data(&mut h, "builder", &body[..]).unwrap();
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

#[tokio::test]
async fn a_dependency_is_a_read_only_mount_in_the_container() {
    testkit::skip_if!(garden::runc_unavailable());
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("busybox-rootfs");
    garden::rootfs::build_busybox_rootfs(&rootfs).unwrap();
    let mut cfg = RuncConfig::new(dir.path().join("depot"));
    cfg.rootfs.insert("busybox".into(), rootfs);
    cfg.tag = "exd".into();
    cfg.subnet = Ipv4Addr::new(10, 250, 8, 0);
    cfg.subnet_prefix = 24;
    cfg.port_range = (19050, 19059);
    let backend = RuncBackend::new(cfg).await.unwrap();
    let _teardown = garden::DestroyOnDrop(backend.clone());
    let store = executor::ContainerStore::new(Arc::new(backend.clone()), fast_config(dir.path()))
        .await
        .unwrap();

    let body = bundle();
    let router = axum::Router::new().route("/bundle.tgz", get(move || async move { body }));
    let url = format!("http://{}/bundle.tgz", serve(router).await);
    let mut run = models::RunAction {
        path: "/bin/sh".into(),
        args: vec![
            "-c".into(),
            "/tmp/lifecycle/builder; touch /tmp/lifecycle/x 2>/dev/null && echo writable || echo read-only".into(),
        ],
        user: "vcap".into(),
        ..Default::default()
    };
    run.log_source = "STG".into();
    let mut info = run_info(models::Action {
        run_action: Some(run),
        ..Default::default()
    });
    info.rootfs = "preloaded:busybox".into();
    info.cached_dependencies = vec![models::CachedDependency {
        name: "lifecycle".into(),
        from: url,
        to: "/tmp/lifecycle".into(),
        cache_key: "buildpack-busybox-lifecycle".into(),
        ..Default::default()
    }];
    start(&store, "runc-deps", info).await;
    let c = completed(&store, "runc-deps", 30).await;
    assert!(!c.run_result.failed, "{:?}", c.run_result);
    let log = log_texts(&store, "runc-deps");
    assert_eq!(
        log[2..4],
        ["from the bundle as 2000", "read-only"],
        "{log:?}"
    );
    store.delete("runc-deps").await.unwrap();
    assert!(backend
        .containers(&Default::default())
        .await
        .unwrap()
        .is_empty());
}
