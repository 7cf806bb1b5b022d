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

/// The next registration or unregistration (the emitter's greetings to
/// service discovery skipped).
async fn next(sd: &mut async_nats::Subscriber) -> async_nats::Message {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), sd.next())
            .await
            .expect("a service-discovery message")
            .unwrap();
        if m.subject.as_str() != "service-discovery.greet" {
            return m;
        }
    }
}

/// As Diego's route-emitter runs a broadcast scheduler per external
/// service: it greets service discovery, and re-emits the internal routes
/// at the interval service discovery answers with (here 1 s), while the
/// routers' routes keep their own (60 s) schedule.
#[tokio::test]
async fn service_discovery_is_greeted_and_sets_the_internal_routes_schedule() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let bbs = TestBbs::start().await;
    let client = async_nats::connect(&nats.url).await.unwrap();
    // Service discovery answers greetings with its interval.
    let mut greets = client.subscribe("service-discovery.greet").await.unwrap();
    let answering = {
        let client = client.clone();
        tokio::spawn(async move {
            while let Some(g) = greets.next().await {
                if let Some(reply) = g.reply {
                    let body = r#"{"minimumRegisterIntervalInSeconds":1}"#;
                    let _ = client.publish(reply, body.into()).await;
                }
            }
        })
    };
    let mut registers = client
        .subscribe("service-discovery.register")
        .await
        .unwrap();
    let mut router = client.subscribe("router.register").await.unwrap();
    client.flush().await.unwrap();
    let mut cfg = emitter_config(&bbs.url, &nats.url);
    cfg.enable_internal_emitter = true;
    let emitter = route_emitter::start(cfg).await.unwrap();
    let mut lrp = desired_lrp("sd", 1, r#"[{"hostnames":["sd.localhost"],"port":8080}]"#);
    lrp.routes.as_mut().unwrap().routes.insert(
        "internal-router".into(),
        br#"[{"hostname":"sd.apps.internal"}]"#.to_vec(),
    );
    bbs.desire(lrp).await;
    bbs.run_instance("sd", 0, "ig-0", "cell-1", 61009).await;
    next(&mut registers).await;
    next(&mut router).await;

    // Over the next 3.5 s: the internal routes again and again, the
    // routers' none.
    let window = tokio::time::Instant::now() + Duration::from_millis(3500);
    let mut internal = 0;
    while let Ok(Some(_)) = tokio::time::timeout_at(window, registers.next()).await {
        internal += 1;
    }
    let routed = tokio::time::timeout(Duration::from_millis(10), router.next())
        .await
        .is_ok();
    assert!(internal >= 2, "internal routes re-emitted {internal} times");
    assert!(!routed, "the routers' routes follow their own schedule");
    answering.abort();
    emitter.stop().await.unwrap();
}
