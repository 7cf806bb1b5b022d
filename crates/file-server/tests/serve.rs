//! The file server over real HTTP: blobs, ranges, conditional GETs, 404s and
//! paths that try to leave the static directory.

use file_server::{blob_url, start, FileServerConfig};
use reqwest::StatusCode;

async fn serve(dir: &std::path::Path) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let cfg = FileServerConfig {
        server_address: "127.0.0.1:0".into(),
        static_directory: dir.to_string_lossy().into(),
        ..Default::default()
    };
    let running = start(&cfg, async move {
        let _ = rx.await;
    })
    .await
    .unwrap();
    (running.addr, tx)
}

#[tokio::test]
async fn serves_blobs_with_ranges_and_revalidation() {
    let root = tempfile::tempdir().unwrap();
    let statics = root.path().join("static");
    std::fs::create_dir_all(statics.join("droplets")).unwrap();
    std::fs::write(statics.join("droplets/app.tgz"), b"0123456789").unwrap();
    std::fs::write(root.path().join("secret"), b"outside").unwrap();
    let (addr, _stop) = serve(&statics).await;
    let http = reqwest::Client::new();

    let url = blob_url(&addr, "droplets/app.tgz");
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let last_modified = r.headers()["last-modified"].to_str().unwrap().to_string();
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"0123456789");

    let r = http
        .get(&url)
        .header("range", "bytes=2-4")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"234");

    let r = http
        .get(&url)
        .header("if-modified-since", last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

    let r = http
        .get(blob_url(&addr, "droplets/missing.tgz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Neither a dot-dot path nor an encoded one reaches the file beside the
    // static directory.
    for path in [
        "/v1/static/../secret",
        "/v1/static/%2e%2e/secret",
        "/v1/static/droplets/..%2f..%2fsecret",
    ] {
        let r = http
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_ne!(r.status(), StatusCode::OK, "{path}");
        assert_ne!(r.bytes().await.unwrap().as_ref(), b"outside", "{path}");
    }

    // Only the static route is served.
    let r = http
        .get(format!("http://{addr}/secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn refuses_a_static_directory_that_does_not_exist() {
    let cfg = FileServerConfig {
        server_address: "127.0.0.1:0".into(),
        static_directory: "/nonexistent/static".into(),
        ..Default::default()
    };
    let err = start(&cfg, std::future::pending()).await.err().unwrap();
    assert!(err.to_string().contains("not a directory"), "{err}");
}
