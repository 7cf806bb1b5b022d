//! Cached dependencies (houdini cell): downloaded once per cache key and
//! revalidated, checked against their checksum, found at their `to` path
//! in each container, released when containers go; a failure completes the
//! container with Diego's "failed to download cached artifacts".

mod common;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use common::*;
use executor::{AllocationRequest, Resource, State};
use sha2::Digest;
use std::io::Write;
use std::sync::{Arc, Mutex};

fn lifecycle_tgz() -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let body = b"#!/bin/sh\necho launched from the lifecycle\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(body.len() as u64);
    h.set_mode(0o755);
    tar.append_data(&mut h, "launcher", &body[..]).unwrap();
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

/// Serves the tgz with an ETag; records each request's If-None-Match.
async fn server(hits: Arc<Mutex<Vec<Option<String>>>>) -> String {
    let body = lifecycle_tgz();
    let router = axum::Router::new().route(
        "/lifecycle.tgz",
        get(move |headers: HeaderMap| {
            let body = body.clone();
            let hits = hits.clone();
            async move {
                let inm = headers
                    .get("if-none-match")
                    .map(|v| v.to_str().unwrap().to_string());
                hits.lock().unwrap().push(inm.clone());
                if inm.as_deref() == Some("\"v1\"") {
                    return (StatusCode::NOT_MODIFIED, [("etag", "\"v1\"")], Vec::new());
                }
                (StatusCode::OK, [("etag", "\"v1\"")], body)
            }
        }),
    );
    format!("http://{}/lifecycle.tgz", serve(router).await)
}

fn dependency(url: &str, checksum: &str) -> models::CachedDependency {
    models::CachedDependency {
        name: "lifecycle".into(),
        from: url.into(),
        to: "/tmp/lifecycle".into(),
        cache_key: "buildpack-cflinuxfs4-lifecycle".into(),
        checksum_algorithm: "sha256".into(),
        checksum_value: checksum.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn dependencies_download_once_and_mount_in_each_container() {
    let cell = cell().await;
    let hits = Arc::new(Mutex::new(Vec::new()));
    let url = server(hits.clone()).await;
    let sum = hex::encode(sha2::Sha256::digest(lifecycle_tgz()));

    let mut info = run_info(sh("./tmp/lifecycle/launcher"));
    info.cached_dependencies = vec![dependency(&url, &sum)];
    start(&cell.store, "first", info.clone()).await;
    let c = completed(&cell.store, "first", 20).await;
    assert!(!c.run_result.failed, "{:?}", c.run_result);
    let log = log_texts(&cell.store, "first");
    assert_eq!(log[0], "Downloading lifecycle...");
    assert!(log[1].starts_with("Downloaded lifecycle ("), "{log:?}");
    assert_eq!(log[2], "launched from the lifecycle");

    start(&cell.store, "second", info).await;
    let c = completed(&cell.store, "second", 20).await;
    assert!(!c.run_result.failed, "{:?}", c.run_result);
    let log = log_texts(&cell.store, "second");
    // Revalidated, not downloaded again: no size.
    assert_eq!(
        log[..2],
        ["Downloading lifecycle...", "Downloaded lifecycle"]
    );
    assert_eq!(
        *hits.lock().unwrap(),
        [None, Some("\"v1\"".to_string())],
        "one download, then a conditional request"
    );

    // The extracted directory stays while it is the key's current one,
    // even once no container uses it.
    let deps_dir = cell.dir.path().join("tmp/deps");
    let dirs: Vec<_> = std::fs::read_dir(&deps_dir).unwrap().flatten().collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    cell.store.delete("first").await.unwrap();
    cell.store.delete("second").await.unwrap();
    assert!(dirs[0].path().join("launcher").exists());
}

#[tokio::test]
async fn a_bad_dependency_fails_the_container_before_it_is_created() {
    let cell = cell().await;
    let url = server(Arc::new(Mutex::new(Vec::new()))).await;
    let mut info = run_info(sh("true"));
    info.cached_dependencies = vec![dependency(&url, &"0".repeat(64))];
    cell.store
        .allocate(AllocationRequest {
            guid: "bad".into(),
            resource: Resource {
                memory_mb: 64,
                disk_mb: 64,
                max_pids: 0,
            },
            tags: Default::default(),
        })
        .unwrap();
    cell.store
        .initialize("bad", info, Default::default())
        .unwrap();
    let err = cell.store.create("bad").await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("failed to download cached artifacts: "),
        "{err}"
    );
    let c = cell.store.get("bad").unwrap();
    assert_eq!(c.state, State::Completed);
    assert!(c.run_result.failed && c.run_result.retryable);
    assert_eq!(
        c.run_result.failure_reason,
        "failed to download cached artifacts"
    );
    assert_eq!(
        log_texts(&cell.store, "bad"),
        ["Downloading lifecycle...", "Downloading lifecycle failed"]
    );
    // Nothing was made in the backend.
    assert!(!cell.dir.path().join("depot/bad").exists());
}
