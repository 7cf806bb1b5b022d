//! Download and upload actions against HTTP servers started here.

mod common;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use common::*;
use sha2::Digest;
use std::io::Write;
use std::sync::{Arc, Mutex};

fn tgz() -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |path: &str, body: &[u8], mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(mode);
        tar.append_data(&mut h, path, body).unwrap();
    };
    add("bin/run.sh", b"#!/bin/sh\necho running from tgz\n", 0o755);
    add("README", b"from the tgz\n", 0o644);
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

fn zip() -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    z.add_directory("lib/", opts).unwrap();
    z.start_file("lib/hello.sh", opts).unwrap();
    z.write_all(b"#!/bin/sh\necho hello from zip\n").unwrap();
    z.finish().unwrap().into_inner()
}

#[derive(Default, Clone)]
struct Received(Arc<Mutex<Vec<(HeaderMap, Bytes)>>>);

async fn blob_server(received: Received) -> String {
    let (tgz, zip) = (tgz(), zip());
    let router = axum::Router::new()
        .route("/app.tgz", get(move || async move { tgz }))
        .route("/app.zip", get(move || async move { zip }))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/upload",
            post(move |headers: HeaderMap, body: Bytes| async move {
                received.0.lock().unwrap().push((headers, body));
                StatusCode::CREATED
            }),
        )
        .route("/refuse", post(|| async { StatusCode::FORBIDDEN }));
    format!("http://{}", serve(router).await)
}

#[tokio::test]
async fn downloads_tgz_and_zip_into_the_container_and_runs_them() {
    let cell = cell().await;
    let base = blob_server(Received::default()).await;
    let sum = hex::encode(sha2::Sha256::digest(tgz()));
    let c = run_to_end(
        &cell,
        "dl",
        serial(vec![
            download("app", &format!("{base}/app.tgz"), "/app", "sha256", &sum),
            download("", &format!("{base}/app.zip"), "/app", "", ""),
            sh("./app/bin/run.sh && ./app/lib/hello.sh && cat app/README"),
        ]),
    )
    .await;
    assert!(!c.run_result.failed, "{:?}", c.run_result);
    let log = log_texts(&cell.store, "dl");
    assert_eq!(log[0], "Downloading app...");
    assert!(log[1].starts_with("Downloaded app ("), "{}", log[1]);
    // The unnamed download says nothing.
    assert_eq!(log[2], "running from tgz");
    assert_eq!(log[3], "hello from zip");
    assert_eq!(log[4], "from the tgz");
}

#[tokio::test]
async fn checksum_mismatch_fails_the_download() {
    let cell = cell().await;
    let base = blob_server(Received::default()).await;
    let c = run_to_end(
        &cell,
        "sum",
        download(
            "droplet",
            &format!("{base}/app.tgz"),
            "/app",
            "md5",
            "00000000000000000000000000000000",
        ),
    )
    .await;
    assert!(c.run_result.failed);
    assert_eq!(c.run_result.failure_reason, "Downloading droplet failed");
    let log = log_texts(&cell.store, "sum");
    assert_eq!(
        log,
        ["Downloading droplet...", "Downloading droplet failed"]
    );
    assert!(!cell.dir.path().join("depot/sum/app").exists());

    let c = run_to_end(
        &cell,
        "404",
        download("x", &format!("{base}/missing"), "/x", "", ""),
    )
    .await;
    assert_eq!(c.run_result.failure_reason, "Downloading x failed");
}

#[tokio::test]
async fn download_cache_revalidates_with_the_server() {
    use executor::download::Transfers;
    let hits = Arc::new(Mutex::new(Vec::new()));
    let seen = hits.clone();
    let body = tgz();
    let router = axum::Router::new().route(
        "/cached.tgz",
        get(move |headers: HeaderMap| {
            let body = body.clone();
            let seen = seen.clone();
            async move {
                let inm = headers
                    .get("if-none-match")
                    .map(|v| v.to_str().unwrap().to_string());
                seen.lock().unwrap().push(inm.clone());
                if inm.as_deref() == Some("\"v1\"") {
                    return (StatusCode::NOT_MODIFIED, [("etag", "\"v1\"")], Vec::new());
                }
                (StatusCode::OK, [("etag", "\"v1\"")], body)
            }
        }),
    );
    let url = format!("http://{}/cached.tgz", serve(router).await);
    let dir = tempfile::tempdir().unwrap();
    let t = Transfers::new(dir.path(), 5, 5);
    let (first, size) = t.fetch(&url, "buildpack", "", "").await.unwrap();
    assert!(size > 0);
    let first = std::fs::read(first.path()).unwrap();
    let (second, size) = t.fetch(&url, "buildpack", "", "").await.unwrap();
    assert_eq!(size, 0, "served from the cache");
    assert_eq!(std::fs::read(second.path()).unwrap(), first);
    assert_eq!(*hits.lock().unwrap(), [None, Some("\"v1\"".to_string())]);
}

#[tokio::test]
async fn upload_posts_the_file_with_its_digests() {
    let cell = cell().await;
    let received = Received::default();
    let base = blob_server(received.clone()).await;
    let c = run_to_end(
        &cell,
        "up",
        serial(vec![
            sh("mkdir -p out && printf 'droplet bytes' > out/droplet.tgz"),
            upload("droplet", "/out/droplet.tgz", &format!("{base}/upload")),
        ]),
    )
    .await;
    assert!(!c.run_result.failed, "{:?}", c.run_result);
    let (headers, body) = received.0.lock().unwrap()[0].clone();
    assert_eq!(&body[..], b"droplet bytes");
    assert_eq!(headers["content-type"], "application/octet-stream");
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let md5 = b64.encode(md5::Md5::digest(b"droplet bytes"));
    assert_eq!(headers["content-md5"], md5.as_str());
    let sha = b64.encode(sha2::Sha256::digest(b"droplet bytes"));
    assert_eq!(
        headers["content-digest"],
        format!("sha-256=:{sha}:").as_str()
    );
    let log = log_texts(&cell.store, "up");
    assert!(
        log.contains(&"Uploaded droplet (13B)".to_string()),
        "{log:?}"
    );

    let c = run_to_end(
        &cell,
        "refused",
        upload("droplet", "/", &format!("{base}/refuse")),
    )
    .await;
    assert_eq!(
        c.run_result.failure_reason,
        "Failed to upload payload for droplet"
    );
    let c = run_to_end(
        &cell,
        "nofile",
        upload("droplet", "/nope", &format!("{base}/upload")),
    )
    .await;
    assert_eq!(
        c.run_result.failure_reason,
        "Failed to establish stream from container for droplet"
    );
}
