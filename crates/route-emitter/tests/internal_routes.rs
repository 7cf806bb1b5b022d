//! Internal routes go to service discovery (`enable_internal_emitter`).

mod support;

use futures::StreamExt;
use std::time::Duration;
use support::*;

#[tokio::test]
async fn internal_routes_are_registered_at_container_addresses() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let bbs = TestBbs::start().await;
    let client = async_nats::connect(&nats.url).await.unwrap();
    let mut sd = client.subscribe("service-discovery.*").await.unwrap();
    client.flush().await.unwrap();
    let mut cfg = emitter_config(&bbs.url, &nats.url);
    cfg.enable_internal_emitter = true;
    let emitter = route_emitter::start(cfg).await.unwrap();

    let mut lrp = desired_lrp("c2c", 1, r#"[{"hostnames":["app.localhost"],"port":8080}]"#);
    lrp.routes.as_mut().unwrap().routes.insert(
        "internal-router".into(),
        br#"[{"hostname":"app.apps.internal"}]"#.to_vec(),
    );
    bbs.desire(lrp).await;
    bbs.run_instance("c2c", 0, "ig-0", "cell-1", 61007).await;

    let m = next(&mut sd).await;
    assert_eq!(m.subject.as_str(), "service-discovery.register");
    let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(v["host"], "10.255.0.7");
    assert_eq!(
        v["uris"],
        serde_json::json!(["app.apps.internal", "0.app.apps.internal"])
    );
    assert_eq!(v["app"], "c2c-log");
    assert_eq!(v["private_instance_index"], "0");
    assert_eq!(v["tags"]["component"], "route-emitter");

    bbs.remove_actual("c2c", 0, "ig-0", "cell-1").await;
    let m = next(&mut sd).await;
    assert_eq!(m.subject.as_str(), "service-discovery.unregister");
    emitter.stop().await.unwrap();
}

async fn next(sd: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(Duration::from_secs(10), sd.next())
        .await
        .expect("a service-discovery message")
        .unwrap()
}
