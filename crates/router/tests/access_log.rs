//! Apps' requests through the router leave gorouter's RTR access lines in
//! the app's logs on a real log component; unknown routes leave none.

mod support;

use std::time::Duration;
use support::*;

#[tokio::test]
async fn requests_leave_rtr_lines_in_the_apps_logs() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let logs = logs::start(&logs::LogsConfig {
        ingress_address: "127.0.0.1:0".into(),
        api_address: "127.0.0.1:0".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut cfg = router_config(&nats.url);
    cfg.logs_ingress_address = logs.ingress_addr.to_string();
    let router = router::start(cfg).await.unwrap();
    let client = async_nats::connect(&nats.url).await.unwrap();
    let a = backend("a").await;
    let mut reg: serde_json::Value =
        serde_json::from_str(&registration("app.localhost", a)).unwrap();
    reg["private_instance_index"] = "3".into();
    client
        .publish("router.register", reg.to_string().into())
        .await
        .unwrap();
    client.flush().await.unwrap();
    eventually("registered", || async {
        router.registry.snapshot() == [("app.localhost".to_string(), 1)]
    })
    .await;
    assert_eq!(get(router.addr, "app.localhost").await.0, 200);
    assert_eq!(get(router.addr, "nope.localhost").await.0, 404);

    let reader = logs_client::Reader::new(&format!("http://{}", logs.api_addr)).unwrap();
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = reader
            .recent("app-guid", &Default::default())
            .await
            .unwrap()
            .iter()
            .filter_map(logs_client::envelope::render_cf)
            .collect();
        if !lines.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(lines.len(), 1, "{lines:?}");
    let l = &lines[0];
    assert!(l.contains("[RTR/3] OUT app.localhost - ["), "{l}");
    for part in [
        "\"GET / HTTP/1.1\" 200 0 1 ",
        &format!("\"{a}\""),
        "app_id:\"app-guid\" app_index:\"3\" instance_id:\"ig\"",
        "vcap_request_id:\"",
    ] {
        assert!(l.contains(part), "{part:?} not in {l}");
    }
    // The unknown route's request belongs to no app.
    let (sources, _, _) = logs.hub.store.totals();
    assert_eq!(sources, 1);
    router.stop().await;
    logs.stop().await;
}
