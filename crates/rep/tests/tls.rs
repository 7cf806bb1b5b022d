//! Mutual TLS as Diego's rep serves it: the rep client with a certificate
//! from the CA is answered; a client without one is refused.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rep::config::{Capacity, RepConfig};
use rep_client::{RepClient, RepClientFactory};
use std::sync::Arc;
use std::time::Duration;

fn leaf(
    name: &str,
    ca: &rcgen::Certificate,
    ca_key: &KeyPair,
    sans: Vec<String>,
) -> (String, String) {
    let mut p = CertificateParams::new(sans).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, ca, ca_key).unwrap();
    (cert.pem(), key.serialize_pem())
}

#[tokio::test]
async fn state_over_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, "diego-ca");
    let ca_key = KeyPair::generate().unwrap();
    let ca = p.self_signed(&ca_key).unwrap();
    let server = leaf("cell", &ca, &ca_key, vec!["127.0.0.1".into()]);
    let client = leaf("auctioneer", &ca, &ca_key, vec!["auctioneer".into()]);
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
        cert_file: write("rep.crt", &server.0),
        key_file: write("rep.key", &server.1),
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
        &write("client.crt", &client.0),
        &write("client.key", &client.1),
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
