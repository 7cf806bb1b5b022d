//! Mutual TLS as Diego's rep serves it: the rep client with a certificate
//! from the CA is answered; a client without one is refused.

use rep::config::{Capacity, RepConfig};
use rep_client::{RepClient, RepClientFactory};
use std::sync::Arc;
use std::time::Duration;
use testkit::tls::TestCa;

#[tokio::test]
async fn state_over_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("diego-ca");
    let server = ca.issue("cell", &["127.0.0.1"]);
    let client = ca.issue("auctioneer", &["auctioneer"]);
    let write = |name: &str, content: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    };
    let ca_file = write("ca.crt", &ca.pem());
    let cfg = RepConfig {
        cell_id: "cell-tls".into(),
        listen_addr: "127.0.0.1:0".into(),
        listen_addr_securable: "127.0.0.1:0".into(),
        bbs_address: "http://127.0.0.1:1".into(),
        ca_cert_file: ca_file.clone(),
        cert_file: write("rep.crt", &server.cert_pem),
        key_file: write("rep.key", &server.key_pem),
        memory_mb: Capacity::Mb(1024),
        disk_mb: Capacity::Mb(1024),
        container_backend: "houdini".into(),
        depot_dir: dir.path().join("depot").display().to_string(),
        ..Default::default()
    };
    let executor = Arc::new(rep::backend::executor_from_config(&cfg).await.unwrap());
    let rep = rep::Rep::start(&cfg, executor).await.unwrap();
    assert!(rep.url.starts_with("https://127.0.0.1:"), "{}", rep.url);
    assert_ne!(
        rep.url.replace("https", ""),
        rep.local_url.replace("https", "")
    );

    let tls = tlsconfig::ClientTls::from_files(
        &ca_file,
        &write("client.crt", &client.cert_pem),
        &write("client.key", &client.key_pem),
    );
    let reps = RepClientFactory::new(&rep_client::ClientConfig {
        tls: Some(tls),
        request_timeout: Some(Duration::from_secs(5)),
        state_timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    })
    .unwrap();
    let state = reps.client_at(&rep.url).state().await.unwrap();
    assert_eq!(state.cell_id, "cell-tls");
    assert_eq!(state.total_resources.memory_mb, 1024);

    let anonymous = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    assert!(anonymous
        .get(format!("{}/state", rep.url))
        .send()
        .await
        .is_err());
    // The localhost routes are on their own listener, also mutual TLS.
    // (`ping` is Ok on a 200.)
    reps.client_at(&rep.local_url).ping().await.unwrap();
    rep.shutdown().await;
}
