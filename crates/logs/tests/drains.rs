//! Syslog drains against a real rsyslog on loopback (TCP and TLS): RFC
//! 5424 messages with Cloud Foundry's structured data, parsed by rsyslog;
//! an https drain; a dead drain drops and counts only its own messages.

use logs::LogsConfig;
use logs_client::envelope::{gauge, log};
use std::collections::HashMap;
use std::time::{Duration, Instant};

async fn component(drain_ca: &str) -> logs::RunningLogs {
    logs::start(&LogsConfig {
        ingress_address: "127.0.0.1:0".into(),
        api_address: "127.0.0.1:0".into(),
        drain_ca_file: drain_ca.into(),
        drain_buffer_size: 100,
        ..Default::default()
    })
    .await
    .unwrap()
}

fn tags() -> HashMap<String, String> {
    HashMap::from([
        ("app_name".to_string(), "my-app".to_string()),
        ("organization_name".to_string(), "org".to_string()),
        ("space_name".to_string(), "dev".to_string()),
    ])
}

async fn put_drains(api: std::net::SocketAddr, source: &str, urls: &[String]) -> reqwest::Response {
    reqwest::Client::new()
        .put(format!("http://{api}/v1/drains/{source}"))
        .header("Content-Type", "application/json")
        .body(serde_json::json!({ "urls": urls }).to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn logs_reach_rsyslog_over_tcp_and_tls_as_rfc5424() {
    let ca = testkit::tls::TestCa::new("diego-test-ca");
    let pem = tempfile::tempdir().unwrap();
    let server = ca.write(
        pem.path(),
        "syslog",
        &ca.issue("syslog", &["127.0.0.1", "localhost"]),
    );
    let Some(plain) = testkit::rsyslog::Rsyslog::start(None).await else {
        return;
    };
    let Some(tls) = testkit::rsyslog::Rsyslog::start(Some(&testkit::rsyslog::ServerTls {
        ca_file: server.ca_file.clone(),
        cert_file: server.cert_file.clone(),
        key_file: server.key_file.clone(),
    }))
    .await
    else {
        return;
    };
    let logs = component(&server.ca_file).await;
    let r = put_drains(
        logs.api_addr,
        "app-guid",
        &[
            format!("syslog://127.0.0.1:{}", plain.port),
            format!("syslog-tls://localhost:{}?drain-type=all", tls.port),
        ],
    )
    .await;
    assert_eq!(r.status(), 204);

    logs.hub.accept(log(
        "app-guid",
        "0",
        "APP/PROC/WEB",
        false,
        "hello drain",
        &tags(),
    ));
    logs.hub.accept(log(
        "app-guid",
        "1",
        "APP/PROC/WEB",
        true,
        "oops \"quoted\"",
        &tags(),
    ));
    logs.hub.accept(gauge(
        "app-guid",
        "0",
        &[("cpu", 12.5, "percentage")],
        &tags(),
    ));
    logs.hub.accept(log(
        "other-app",
        "0",
        "APP/PROC/WEB",
        false,
        "not mine",
        &tags(),
    ));

    let sd = r#"[tags@47450 app_name="my-app" organization_name="org" source_type="APP/PROC/WEB" space_name="dev"]"#;
    for (server, n) in [(&plain, 2), (&tls, 3)] {
        let status = reqwest::get(format!("http://{}/v1/drains", logs.api_addr))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        eprintln!("drains: {status}");
        let lines = server
            .wait_for(Duration::from_secs(10), |l| l.len() >= n)
            .await;
        assert_eq!(
            lines[0],
            format!("<14> org.dev.my-app app-guid [APP/PROC/WEB/0] {sd} hello drain"),
            "{lines:?}"
        );
        assert_eq!(
            lines[1],
            format!("<11> org.dev.my-app app-guid [APP/PROC/WEB/1] {sd} oops \"quoted\"")
        );
        assert!(!lines.iter().any(|l| l.contains("not mine")));
    }
    // Metrics only where drain-type asks for them.
    let tls_lines = tls.lines();
    assert!(
        tls_lines[2].starts_with(
            r#"<14> org.dev.my-app app-guid [0] [gauge@47450 name="cpu" value="12.5" unit="percentage"]"#
        ),
        "{tls_lines:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(plain.lines().len(), 2);
    logs.stop().await;
}

#[tokio::test]
async fn a_dead_drain_drops_only_its_own_and_an_https_drain_gets_posts() {
    // An https drain: a real HTTPS server of the test's own.
    let ca = testkit::tls::TestCa::new("diego-test-ca");
    let pem = tempfile::tempdir().unwrap();
    let server = ca.write(
        pem.path(),
        "drain",
        &ca.issue("drain", &["127.0.0.1", "localhost"]),
    );
    let (tx, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
    let app = axum::Router::new().route(
        "/drain",
        axum::routing::post(move |body: String| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body);
                axum::http::StatusCode::OK
            }
        }),
    );
    let tls_cfg = tlsconfig::server_config(
        tlsconfig::Identity::load(
            &tlsconfig::Pem::file(&server.cert_file),
            &tlsconfig::Pem::file(&server.key_file),
        )
        .unwrap(),
        None,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let https_port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(tls_cfg));
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                .await;
            });
        }
    });

    // A dead drain: nothing listens there.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let logs = component(&server.ca_file).await;
    let https_url = format!("https://localhost:{https_port}/drain");
    let dead_url = format!("syslog://127.0.0.1:{dead_port}");
    assert_eq!(
        put_drains(logs.api_addr, "app", &[https_url.clone(), dead_url.clone()])
            .await
            .status(),
        204
    );
    // Bad URLs are refused with a reason, changing nothing.
    let bad = put_drains(logs.api_addr, "app", &["ftp://x:1".into()]).await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("unsupported scheme"));

    // Paced in batches of 50 (the drains' queues hold 100): the https
    // drain keeps up and loses nothing while the dead one overflows.
    let drains = |api| async move {
        let v: serde_json::Value = serde_json::from_str(
            &reqwest::get(format!("http://{api}/v1/drains"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        )
        .unwrap();
        v
    };
    let t = Instant::now();
    for batch in 0..10 {
        for i in 0..50 {
            let n = batch * 50 + i;
            logs.hub.accept(log(
                "app",
                "0",
                "APP/PROC/WEB",
                false,
                format!("m{n}"),
                &tags(),
            ));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let d = drains(logs.api_addr).await;
            let https = d["drains"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["url"] == https_url.as_str())
                .unwrap()
                .clone();
            if https["sent"].as_u64().unwrap() >= (batch + 1) * 50 {
                break;
            }
            assert!(Instant::now() < deadline, "{https}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(t.elapsed() < Duration::from_secs(30));
    let first = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        first.starts_with("<14>1 ")
            && first.contains(" app [APP/PROC/WEB/0] - [tags@47450 ")
            && first.ends_with("] m0\n"),
        "{first:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let drains = drains(logs.api_addr).await;
        let of = |url: &str| {
            drains["drains"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["url"] == url)
                .unwrap()
                .clone()
        };
        let (https, dead) = (of(&https_url), of(&dead_url));
        let https_sent = https["sent"].as_u64().unwrap();
        let dead_dropped = dead["dropped"].as_u64().unwrap();
        // The dead drain's queue holds 100; the rest are dropped, counted,
        // and its error is shown; the https drain gets everything.
        if https_sent + https["dropped"].as_u64().unwrap() == 500 && dead_dropped >= 390 {
            assert_eq!(https["dropped"], 0, "{https}");
            assert!(
                dead["last_error"].as_str().unwrap().contains("dial tcp"),
                "{dead}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{https} {dead}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = reqwest::get(format!("http://{}/metrics", logs.api_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("logs_drain_dropped_envelopes{source_id=\"app\""),
        "{metrics}"
    );
    logs.stop().await;
}
