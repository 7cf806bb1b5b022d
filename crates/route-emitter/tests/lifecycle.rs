//! Routes follow instances through their lifecycle: a real BBS drives the
//! route-emitter, a real nats-server carries its messages.

mod support;

use support::*;

const ROUTE: &str = r#"[{"hostnames":["app.localhost"],"port":8080}]"#;

struct World {
    _nats: NatsServer,
    bbs: TestBbs,
    view: RouterView,
    emitter: route_emitter::RunningEmitter,
}

async fn world() -> Option<World> {
    let nats = NatsServer::start().await?;
    let bbs = TestBbs::start().await;
    let (view, _client) = RouterView::subscribe(&nats.url).await;
    let emitter = route_emitter::start(emitter_config(&bbs.url, &nats.url))
        .await
        .unwrap();
    Some(World {
        _nats: nats,
        bbs,
        view,
        emitter,
    })
}

#[tokio::test]
async fn running_instances_are_registered_with_diegos_fields() {
    let Some(w) = world().await else { return };
    let mut lrp = desired_lrp("app", 2, ROUTE);
    lrp.metric_tags.insert(
        "source_id".into(),
        models::MetricTagValue {
            r#static: "app-source".into(),
            ..Default::default()
        },
    );
    w.bbs.desire(lrp).await;
    // Desired but not running: nothing to route yet.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(w.view.addrs("app.localhost").is_empty());

    w.bbs.run_instance("app", 0, "ig-0", "cell-1", 61000).await;
    eventually("instance 0 routed", || {
        w.view.addrs("app.localhost") == ["127.0.0.1:61000"]
    })
    .await;
    let m = w.view.last("router.register").unwrap();
    assert_eq!(m.uris, vec!["app.localhost"]);
    assert_eq!(m.app, "app-log");
    assert_eq!(m.private_instance_id, "ig-0");
    assert_eq!(m.server_cert_domain_san, "ig-0");
    assert_eq!(m.private_instance_index, "0");
    assert_eq!(
        m.tags.get("component").map(String::as_str),
        Some("route-emitter")
    );
    assert_eq!(
        m.tags.get("source_id").map(String::as_str),
        Some("app-source")
    );
    assert!(
        m.endpoint_updated_at_ns > 0,
        "a new endpoint says when it appeared"
    );

    w.bbs.run_instance("app", 1, "ig-1", "cell-1", 61001).await;
    eventually("both routed", || {
        w.view.addrs("app.localhost") == ["127.0.0.1:61000", "127.0.0.1:61001"]
    })
    .await;

    // Removing an instance unregisters it at once.
    w.bbs.remove_actual("app", 1, "ig-1", "cell-1").await;
    eventually("instance 1 unrouted", || {
        w.view.addrs("app.localhost") == ["127.0.0.1:61000"]
    })
    .await;
    let m = w.view.last("router.unregister").unwrap();
    assert_eq!(m.port, 61001);
    assert_eq!(m.private_instance_id, "ig-1");

    // Removing the desired LRP unregisters the rest.
    w.bbs.remove_desired("app").await;
    eventually("all unrouted", || w.view.addrs("app.localhost").is_empty()).await;
    w.emitter.stop().await.unwrap();
}

#[tokio::test]
async fn scaling_down_unregisters_and_scaling_up_registers() {
    let Some(w) = world().await else { return };
    w.bbs.desire(desired_lrp("scale", 3, ROUTE)).await;
    for i in 0..3 {
        w.bbs
            .run_instance("scale", i, &format!("ig-{i}"), "cell-1", 62000 + i as u32)
            .await;
    }
    eventually("three routed", || w.view.addrs("app.localhost").len() == 3).await;

    w.bbs
        .update(
            "scale",
            models::DesiredLrpUpdate {
                optional_instances: Some(models::desired_lrp_update::OptionalInstances::Instances(
                    1,
                )),
                ..Default::default()
            },
        )
        .await;
    eventually("scaled down to one", || {
        w.view.addrs("app.localhost") == ["127.0.0.1:62000"]
    })
    .await;
    // The cells stop the extra instances.
    w.bbs.remove_actual("scale", 1, "ig-1", "cell-1").await;
    w.bbs.remove_actual("scale", 2, "ig-2", "cell-1").await;

    w.bbs
        .update(
            "scale",
            models::DesiredLrpUpdate {
                optional_instances: Some(models::desired_lrp_update::OptionalInstances::Instances(
                    2,
                )),
                ..Default::default()
            },
        )
        .await;
    w.bbs
        .run_instance("scale", 1, "ig-1b", "cell-2", 62011)
        .await;
    eventually("scaled up to two", || {
        w.view.addrs("app.localhost") == ["127.0.0.1:62000", "127.0.0.1:62011"]
    })
    .await;
    w.emitter.stop().await.unwrap();
}

#[tokio::test]
async fn a_crashed_instance_is_unregistered() {
    let Some(w) = world().await else { return };
    w.bbs.desire(desired_lrp("crashy", 1, ROUTE)).await;
    w.bbs
        .run_instance("crashy", 0, "ig-0", "cell-1", 63000)
        .await;
    eventually("routed", || w.view.addrs("app.localhost").len() == 1).await;
    w.bbs.crash("crashy", 0, "ig-0", "cell-1").await;
    eventually("crash unrouted", || {
        w.view.addrs("app.localhost").is_empty()
    })
    .await;
    assert_eq!(w.view.last("router.unregister").unwrap().port, 63000);
    w.emitter.stop().await.unwrap();
}

#[tokio::test]
async fn an_evacuating_instance_stays_routable_until_removed() {
    let Some(w) = world().await else { return };
    w.bbs.desire(desired_lrp("evac", 1, ROUTE)).await;
    w.bbs
        .run_instance("evac", 0, "ig-old", "cell-old", 64000)
        .await;
    eventually("routed", || {
        w.view.addrs("app.localhost") == ["127.0.0.1:64000"]
    })
    .await;

    w.bbs
        .evacuate_running("evac", 0, "ig-old", "cell-old", 64000)
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        w.view.addrs("app.localhost"),
        ["127.0.0.1:64000"],
        "the evacuating instance keeps serving"
    );
    assert_eq!(
        w.view.count("router.unregister"),
        0,
        "never unrouted meanwhile"
    );

    // The replacement starts; the BBS drops the evacuating record.
    w.bbs
        .run_instance("evac", 0, "ig-new", "cell-new", 64001)
        .await;
    eventually("moved to the replacement", || {
        w.view.addrs("app.localhost") == ["127.0.0.1:64001"]
    })
    .await;
    w.emitter.stop().await.unwrap();
}

#[tokio::test]
async fn route_changes_are_emitted_at_once() {
    let Some(w) = world().await else { return };
    w.bbs.desire(desired_lrp("routes", 1, ROUTE)).await;
    w.bbs
        .run_instance("routes", 0, "ig-0", "cell-1", 65000)
        .await;
    eventually("routed", || w.view.addrs("app.localhost").len() == 1).await;

    // Options change: registered again with the options, never unregistered.
    w.view.clear();
    w.bbs
        .update(
            "routes",
            models::DesiredLrpUpdate {
                routes: Some(routes(
                    r#"[{"hostnames":["app.localhost"],"port":8080,"options":{"loadbalancing":"least-connection"}}]"#,
                )),
                ..Default::default()
            },
        )
        .await;
    eventually("options re-registered", || {
        w.view.count("router.register") == 1
    })
    .await;
    let m = w.view.last("router.register").unwrap();
    assert_eq!(
        m.options,
        Some(serde_json::json!({"loadbalancing": "least-connection"}))
    );
    assert_eq!(
        m.endpoint_updated_at_ns, 0,
        "the endpoint itself is not new"
    );
    assert_eq!(w.view.count("router.unregister"), 0);

    // A hostname replaced: the new one registered, the old one unregistered.
    w.bbs
        .update(
            "routes",
            models::DesiredLrpUpdate {
                routes: Some(routes(r#"[{"hostnames":["other.localhost"],"port":8080}]"#)),
                ..Default::default()
            },
        )
        .await;
    eventually("route moved", || {
        w.view.addrs("app.localhost").is_empty()
            && w.view.addrs("other.localhost") == ["127.0.0.1:65000"]
    })
    .await;
    w.emitter.stop().await.unwrap();
}

#[tokio::test]
async fn instances_running_before_start_are_registered_by_the_first_sync() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let bbs = TestBbs::start().await;
    bbs.desire(desired_lrp("early", 1, ROUTE)).await;
    bbs.run_instance("early", 0, "ig-0", "cell-1", 66000).await;
    let (view, _c) = RouterView::subscribe(&nats.url).await;
    let emitter = route_emitter::start(emitter_config(&bbs.url, &nats.url))
        .await
        .unwrap();
    eventually("synced", || {
        view.addrs("app.localhost") == ["127.0.0.1:66000"]
    })
    .await;

    // /metrics reports the table and the sync.
    let metrics = reqwest::get(format!("http://{}/metrics", emitter.metrics_addr.unwrap()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("route_emitter_routes_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("route_emitter_syncs_total 1"), "{metrics}");
    assert!(
        metrics.contains("route_emitter_messages_emitted_total{subject=\"router.register\"} 1"),
        "{metrics}"
    );
    emitter.stop().await.unwrap();
}

#[tokio::test]
async fn unregistrations_are_sent_again_a_few_times() {
    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let bbs = TestBbs::start().await;
    let (view, _c) = RouterView::subscribe(&nats.url).await;
    let mut cfg = emitter_config(&bbs.url, &nats.url);
    cfg.unregistration_interval.0 = std::time::Duration::from_millis(200);
    cfg.unregistration_send_count = 2;
    let emitter = route_emitter::start(cfg).await.unwrap();
    bbs.desire(desired_lrp("gone", 1, ROUTE)).await;
    bbs.run_instance("gone", 0, "ig-0", "cell-1", 61000).await;
    eventually("routed", || view.addrs("app.localhost").len() == 1).await;
    bbs.remove_actual("gone", 0, "ig-0", "cell-1").await;
    eventually("unregistered, then twice more", || {
        view.count("router.unregister") == 3
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(view.count("router.unregister"), 3, "and no more");
    emitter.stop().await.unwrap();
}

#[tokio::test]
async fn an_instance_is_routed_only_once_routable() {
    let Some(w) = world().await else { return };
    w.bbs.desire(desired_lrp("ready", 1, ROUTE)).await;
    w.bbs
        .start_routable("ready", 0, "ig-0", "cell-1", 61000, false)
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(w.view.addrs("app.localhost").is_empty(), "not ready yet");
    w.bbs
        .start_routable("ready", 0, "ig-0", "cell-1", 61000, true)
        .await;
    eventually("ready and routed", || {
        w.view.addrs("app.localhost") == ["127.0.0.1:61000"]
    })
    .await;
    // Readiness lost: unrouted while still running.
    w.bbs
        .start_routable("ready", 0, "ig-0", "cell-1", 61000, false)
        .await;
    eventually("unrouted", || w.view.addrs("app.localhost").is_empty()).await;
    w.emitter.stop().await.unwrap();
}
