//! NATS over mutual TLS (`nats_tls_enabled` and the cert files), against a
//! nats-server that verifies client certificates.

mod support;

use futures::StreamExt;
use std::time::Duration;
use support::*;
use testkit::tls::{write, TestCa};

#[tokio::test]
async fn emits_over_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = TestCa::new("nats-ca");
    let srv = ca.issue("nats", &["127.0.0.1"]);
    let cli = ca.issue("route-emitter", &["127.0.0.1"]);
    let ca_file = write(d, "ca.crt", &ca.pem());
    let (srv_file, srv_key_file) = (
        write(d, "s.crt", &srv.cert_pem),
        write(d, "s.key", &srv.key_pem),
    );
    let (cli_file, cli_key_file) = (
        write(d, "c.crt", &cli.cert_pem),
        write(d, "c.key", &cli.key_pem),
    );
    let Some(nats) = NatsServer::start_with(&[
        "--tls",
        "--tlscert",
        &srv_file,
        "--tlskey",
        &srv_key_file,
        "--tlsverify",
        "--tlscacert",
        &ca_file,
    ])
    .await
    else {
        return;
    };
    let bbs = TestBbs::start().await;
    let mut cfg = emitter_config(&bbs.url, &nats.url);
    cfg.nats_tls_enabled = true;
    cfg.nats_ca_cert_file = ca_file.clone();
    cfg.nats_client_cert_file = cli_file.clone();
    cfg.nats_client_key_file = cli_key_file.clone();
    let tls_client = route_emitter::nats::connect(&cfg).await.unwrap();
    let mut registers = tls_client.subscribe("router.register").await.unwrap();
    tls_client.flush().await.unwrap();
    let emitter = route_emitter::start(cfg).await.unwrap();

    bbs.desire(desired_lrp(
        "tls",
        1,
        r#"[{"hostnames":["app.localhost"],"port":8080}]"#,
    ))
    .await;
    bbs.run_instance("tls", 0, "ig-0", "cell-1", 61000).await;
    let m = tokio::time::timeout(Duration::from_secs(10), registers.next())
        .await
        .expect("registered over TLS")
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(v["port"], 61000);

    // Without a client certificate the server refuses the connection.
    let plain = tokio::time::timeout(
        Duration::from_secs(3),
        async_nats::ConnectOptions::new()
            .require_tls(true)
            .add_root_certificates(ca_file.into())
            .connect(&nats.url),
    )
    .await;
    assert!(
        !matches!(plain, Ok(Ok(_))),
        "a client without a certificate is refused"
    );
    emitter.stop().await.unwrap();
}
