//! Cells' envelopes through the log component: mutual TLS, reads and
//! live streams, and a sender buffering (bounded, counting drops) while
//! the component restarts.

use futures::StreamExt;
use logs::{LogsConfig, RunningLogs};
use logs_client::envelope::{log, render_cf};
use logs_client::reader::ReadOptions;
use logs_client::{IngressConfig, Reader, Sender};
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn line(app: &str, i: usize) -> logs_client::pb::Envelope {
    let tags = HashMap::from([("app_name".to_string(), app.to_string())]);
    log(app, "0", "APP/PROC/WEB", false, format!("line {i}"), &tags)
}

async fn start(cfg: &LogsConfig) -> RunningLogs {
    logs::start(cfg).await.expect("log component starts")
}

async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut f: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn envelopes_over_mutual_tls_are_read_back_and_streamed() {
    let ca = testkit::tls::TestCa::new("diego-test-ca");
    let pem = tempfile::tempdir().unwrap();
    let server = ca.write(pem.path(), "logs", &ca.issue("logs", &["127.0.0.1"]));
    let cell = ca.write(pem.path(), "cell", &ca.issue("cell", &["cell"]));
    let logs = start(&LogsConfig {
        ingress_address: "127.0.0.1:0".into(),
        api_address: "127.0.0.1:0".into(),
        ca_file: server.ca_file.clone(),
        cert_file: server.cert_file.clone(),
        key_file: server.key_file.clone(),
        max_per_source: 300,
        ..Default::default()
    })
    .await;
    let reader = Reader::new(&format!("http://{}", logs.api_addr)).unwrap();
    let mut tail = Box::pin(reader.tail("app-a", &["log"]).await.unwrap());

    let mut cfg = IngressConfig::new(&logs.ingress_addr.to_string(), "cell-0");
    cfg.tls = Some(tlsconfig::ClientTls::from_files(
        &server.ca_file,
        &cell.cert_file,
        &cell.key_file,
    ));
    let sender = Sender::start(cfg);
    for i in 0..500 {
        sender.send(line("app-a", i));
        if i % 100 == 0 {
            sender.send(line("app-b", i));
        }
    }
    assert!(sender.flush(Duration::from_secs(10)).await);

    // The store keeps the newest 300 of app-a, in order.
    eventually("all of app-a stored", || async {
        reader
            .recent("app-a", &ReadOptions::default())
            .await
            .unwrap()
            .last()
            .and_then(render_cf)
            .is_some_and(|l| l.ends_with("line 499"))
    })
    .await;
    let recent = reader
        .recent(
            "app-a",
            &ReadOptions {
                limit: Some(1000),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(recent.len(), 300);
    let first = render_cf(&recent[0]).unwrap();
    assert!(first.ends_with("[APP/PROC/WEB/0] OUT line 200"), "{first}");
    assert_eq!(
        reader
            .recent("app-b", &ReadOptions::default())
            .await
            .unwrap()
            .len(),
        5
    );

    // The live stream saw app-a's lines, and only those.
    let mut seen = 0;
    while seen < 500 {
        let e = tokio::time::timeout(Duration::from_secs(5), tail.next())
            .await
            .expect("streamed")
            .unwrap()
            .unwrap();
        assert_eq!(e.source_id, "app-a");
        assert!(render_cf(&e).unwrap().ends_with(&format!("line {seen}")));
        seen += 1;
    }
    let stats = sender.stats();
    assert_eq!((stats.sent, stats.dropped), (505, 0));

    // A sender without a client certificate gets nothing in.
    let mut anon = IngressConfig::new(&logs.ingress_addr.to_string(), "intruder");
    anon.tls = Some(tlsconfig::ClientTls::from_files(&server.ca_file, "", ""));
    let intruder = Sender::start(anon);
    intruder.send(line("app-c", 0));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!intruder.stats().connected);
    assert!(reader
        .recent("app-c", &ReadOptions::default())
        .await
        .unwrap()
        .is_empty());
    logs.stop().await;
}

#[tokio::test]
async fn a_sender_buffers_while_the_component_restarts_and_reports_its_drops() {
    let mut cfg = LogsConfig {
        ingress_address: "127.0.0.1:0".into(),
        api_address: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let logs = start(&cfg).await;
    cfg.ingress_address = logs.ingress_addr.to_string();
    cfg.api_address = logs.api_addr.to_string();
    let mut icfg = IngressConfig::new(&cfg.ingress_address, "cell-7");
    icfg.max_buffered_envelopes = 100;
    let sender = Sender::start(icfg);
    sender.send(line("app", 0));
    assert!(sender.flush(Duration::from_secs(5)).await);
    eventually("connected", || async { sender.stats().connected }).await;
    logs.stop().await;
    eventually("the sender sees the component gone", || async {
        !sender.stats().connected
    })
    .await;

    // Away: the app is never held up; the buffer keeps the newest 100.
    let t = Instant::now();
    for i in 1..=150 {
        sender.send(line("app", i));
    }
    assert!(t.elapsed() < Duration::from_millis(200), "send never waits");
    let stats = sender.stats();
    assert_eq!((stats.buffered, stats.dropped), (100, 50));

    let logs = start(&cfg).await;
    let reader = Reader::new(&format!("http://{}", logs.api_addr)).unwrap();
    eventually("the buffered lines delivered", || async {
        reader
            .recent("app", &ReadOptions::default())
            .await
            .unwrap()
            .len()
            == 100
    })
    .await;
    let recent = reader.recent("app", &ReadOptions::default()).await.unwrap();
    assert!(render_cf(&recent[0]).unwrap().ends_with("line 51"));
    assert!(render_cf(&recent[99]).unwrap().ends_with("line 150"));

    // The drops are reported to the component, visible in its metrics.
    let http = reqwest::Client::new();
    eventually("drops in /metrics", || async {
        http.get(format!("http://{}/metrics", logs.api_addr))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains(r#"logs_sender_dropped_envelopes{origin="cell-7"} 50"#)
    })
    .await;
    logs.stop().await;
}
