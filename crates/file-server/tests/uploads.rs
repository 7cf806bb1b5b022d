//! Staging's uploads over real HTTP: a droplet and a build artifacts cache
//! stored and then served from /v1/static/ with their SHA-256, the
//! executor's checksum headers verified (a mismatch stores nothing), and
//! bad guids and bodies refused.

use base64::Engine;
use file_server::{blob_url, start, FileServerConfig};
use reqwest::StatusCode;
use sha2::Digest;

async fn serve(dir: &std::path::Path) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let cfg = FileServerConfig {
        server_address: "127.0.0.1:0".into(),
        static_directory: dir.to_string_lossy().into(),
        max_upload_bytes: 1 << 20,
        ..Default::default()
    };
    let running = start(&cfg, async move {
        let _ = rx.await;
    })
    .await
    .unwrap();
    (running.addr, tx)
}

fn digests(body: &[u8]) -> (String, String) {
    let b64 = base64::engine::general_purpose::STANDARD;
    (
        b64.encode(md5::Md5::digest(body)),
        format!("sha-256=:{}:", b64.encode(sha2::Sha256::digest(body))),
    )
}

#[tokio::test]
async fn droplets_and_build_artifacts_are_stored_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _stop) = serve(dir.path()).await;
    let http = reqwest::Client::new();
    let droplet = b"a droplet's bytes".to_vec();
    let (md5, digest) = digests(&droplet);
    let r = http
        .post(format!(
            "http://{addr}/v1/droplet/staging-guid-1?cc-droplet-upload-uri=http%3A%2F%2Fcc%2Fdroplet&timeout=900"
        ))
        .header("Content-MD5", md5)
        .header("Content-Digest", digest)
        .body(droplet.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let stored: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    let sha = hex(&sha2::Sha256::digest(&droplet));
    assert_eq!(stored["path"], "droplets/staging-guid-1.tgz");
    assert_eq!(stored["sha256"], sha);
    assert_eq!(stored["size"], droplet.len());

    let got = http
        .get(blob_url(&addr, "droplets/staging-guid-1.tgz"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().as_ref(), &droplet[..]);
    let got = http
        .get(blob_url(&addr, "droplets/staging-guid-1.tgz.sha256"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.text().await.unwrap(), sha);

    // The build artifacts cache: 200, replaced by a later upload.
    for body in [b"cache v1".to_vec(), b"cache v2".to_vec()] {
        let r = http
            .post(format!("http://{addr}/v1/build_artifacts/app-guid"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let got = http
            .get(blob_url(&addr, "build_artifacts/app-guid.tgz"))
            .send()
            .await
            .unwrap();
        assert_eq!(got.bytes().await.unwrap().as_ref(), &body[..]);
    }
}

#[tokio::test]
async fn corrupt_or_bad_uploads_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _stop) = serve(dir.path()).await;
    let http = reqwest::Client::new();
    let (md5, digest) = digests(b"what was sent");

    let r = http
        .post(format!("http://{addr}/v1/droplet/g1"))
        .header("Content-MD5", md5)
        .body("something else")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.text().await.unwrap(),
        "Content-MD5 does not match the upload"
    );
    let r = http
        .post(format!("http://{addr}/v1/droplet/g1"))
        .header("Content-Digest", digest)
        .body("something else")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(!dir.path().join("droplets/g1.tgz").exists());
    // No temp files left either.
    let left: Vec<_> = std::fs::read_dir(dir.path().join("droplets"))
        .unwrap()
        .flatten()
        .collect();
    assert!(left.is_empty(), "{left:?}");

    let r = http
        .post(format!("http://{addr}/v1/droplet/..hidden"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = http
        .post(format!("http://{addr}/v1/droplet/g2"))
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::LENGTH_REQUIRED);
    assert_eq!(r.text().await.unwrap(), "Missing Content Length");
    let r = http
        .post(format!("http://{addr}/v1/droplet/g3"))
        .body(vec![0u8; (1 << 20) + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!dir.path().join("droplets/g3.tgz").exists());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
